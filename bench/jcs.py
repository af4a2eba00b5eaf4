"""CPU time of RFC 8785 canonicalization (``aragora.receipts.jcs``), before and after it
escaped strings with the standard library's C escaper.

    python bench/jcs.py            # about 10 s
    python bench/jcs.py --quick    # about 2 s

"Before" is the straightforward writer the module replaced, kept in
``tests/receipts/jcs_reference.py`` as the tests' reference; "after" is
``aragora.receipts.jcs.canonicalize``. Both must give the same bytes, which is checked
first. Each figure is the best of ``--repeats`` batches, in microseconds per call (the
best, not the mean: the least disturbed by other work on the machine).

Values, from a fixed seed:

- **receipt**: the size of a debate's receipt or event log: a dict of 40 members (short
  strings, ints, a float confidence, null, booleans, small nested objects) with four
  lists of 10 agent turns, each a dict with a 200-2,000 character answer (mostly ASCII
  prose with newlines, quotes, a few accented letters and an emoji), three short reasons,
  a score and a round;
- **signature message**: what a v0.2 signature signs (``signing.signature_message``): a
  digest and the five members of the signature entry.

It reports and never gates: the exit status is 0 whatever the figures are (1 only if the
two writers disagree).
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/jcs.py`, this file's directory comes first on sys.path, and
# bench/http.py would shadow the standard library's `http` package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import importlib.util
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from aragora.receipts.jcs import canonicalize

ROOT = Path(__file__).resolve().parents[1]
# Mostly ASCII prose with what needs escaping (quotes, a backslash, the newlines prose()
# adds) and a few characters beyond ASCII, one of them above U+FFFF.
VOCABULARY = (
    "the a of to and postgres sqlite replica latency cost throughput consensus agent "
    "because however migration index vacuum lock write-ahead log durable café naïve "
    '"quoted" back\\slash 42 3.5ms p99 — → 🙂'
)
WORDS = VOCABULARY.split()


def reference_module() -> ModuleType:
    """The writer the module replaced (tests/receipts/jcs_reference.py)."""
    path = ROOT / "tests" / "receipts" / "jcs_reference.py"
    spec = importlib.util.spec_from_file_location("jcs_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prose(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        if rng.random() < 0.04:
            word += ".\n"
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def turn(rng: random.Random, round_: int, agent: int) -> dict[str, Any]:
    return {
        "agent": f"demo:agent-{agent}",
        "round": round_,
        "answer": prose(rng, rng.randrange(200, 2001)),
        "reasons": [prose(rng, rng.randrange(40, 120)) for _ in range(3)],
        "score": rng.random(),
        "supports_verdict": rng.random() < 0.7,
    }


def receipt(rng: random.Random) -> dict[str, Any]:
    value: dict[str, Any] = {f"note_{n:02d}": prose(rng, rng.randrange(10, 80)) for n in range(22)}
    value.update(
        odr_version="0.2",
        receipt_id="rcpt-0f3a9c2e",
        issued_at="2026-01-01T12:00:00.000000+00:00",
        confidence=0.8333333333333334,
        rounds=3,
        tokens=48_213,
        cost_microdollars=12_345_678,
        calibration=None,
        consensus_reached=True,
        early_stop=False,
        subject={"identifier": "d-1", "summary": prose(rng, 150)},
        attestation={"disposition": "autonomous"},
        routing={"status": "reserved"},
        digest={"alg": "sha-256", "value": f"{rng.getrandbits(256):064x}"},
    )
    for n in range(4):
        value[f"phase_{n}"] = [turn(rng, n, agent) for agent in range(10)]
    return value


def signature_message() -> dict[str, Any]:
    return {
        "odr_digest": f"{random.Random(1).getrandbits(256):064x}",
        "odr_signature_input": "0.2",
        "protected": {
            "alg": "Ed25519",
            "key_id": "ed25519-0123456789abcdef",
            "issuer": "aragora-bench",
            "role": "issuer",
            "signed_at": "2026-01-01T12:00:00Z",
        },
    }


def per_call_us(write: Callable[[Any], bytes], value: Any, repeats: int) -> float:
    """Best of `repeats` batches of ~0.1 s each, in microseconds per call."""
    started = time.perf_counter()
    write(value)
    once = max(time.perf_counter() - started, 1e-7)
    calls = max(1, int(0.1 / once))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            write(value)
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=25, help="batches per figure")
    parser.add_argument("--quick", action="store_true", help="5 batches per figure")
    args = parser.parse_args()
    repeats = 5 if args.quick else args.repeats
    before = reference_module().canonicalize
    values = {"receipt": receipt(random.Random(8785)), "signature message": signature_message()}
    print(f"{'value':<18} {'bytes':>8} {'before µs':>10} {'after µs':>10} {'speed-up':>9}")
    for name, value in values.items():
        if canonicalize(value) != before(value):
            print(f"bench/jcs.py: the two writers disagree on the {name}", file=sys.stderr)
            return 1
        old = per_call_us(before, value, repeats)
        new = per_call_us(canonicalize, value, repeats)
        size = len(canonicalize(value))
        print(f"{name:<18} {size:>8,} {old:>10,.1f} {new:>10,.1f} {old / new:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
