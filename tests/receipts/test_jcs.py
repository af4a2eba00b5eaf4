"""RFC 8785 canonical JSON: the RFC's own vectors, every code point, and agreement on
generated JSON with the public verifier's implementation and with the straightforward
writer the module replaced (byte for byte, and error for error)."""

from __future__ import annotations

import decimal
import enum
import json
import math
import random
import struct
from collections import OrderedDict
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest
from aragora_verify import jcs_canonicalize
from hypothesis import given, settings
from hypothesis import strategies as st

from aragora.receipts.jcs import MAX_SAFE_INTEGER, canonicalize, format_number

from . import jcs_reference as reference


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


# RFC 8785 Appendix B: IEEE-754 bit patterns and their serializations.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_appendix_b_numbers(bits: str, expected: str) -> None:
    assert format_number(_double(bits)) == expected
    assert canonicalize(_double(bits)) == expected.encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_have_no_canonical_form(bits: str) -> None:
    with pytest.raises(ValueError, match="no representation"):
        canonicalize(_double(bits))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (123e18, "123000000000000000000"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (1e30, "1e+30"),
        (1e-27, "1e-27"),
        (0.1 + 0.2, "0.30000000000000004"),
        (100.0, "100"),
        (-1.25e-10, "-1.25e-10"),
    ],
)
def test_exponent_forms(value: float, expected: str) -> None:
    assert canonicalize(value).decode() == expected


def test_section_3_2_2_example() -> None:
    # RFC 8785 §3.2.2: the canonical form of its sample input.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
        '"literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(source)) == expected.encode("utf-8")


def test_section_3_2_3_sorting_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 (a surrogate pair, 0xD83D...) sorts before U+FB33.
    source = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    canonical = canonicalize(source).decode("utf-8")
    order = list(json.loads(canonical))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonical.startswith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u0000\u001f", '"\\u0000\\u001f"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ('"\\', '"\\"\\\\"'),
        ("/\u007f\u2028\u00e9", '"/\u007f\u2028\u00e9"'),
        ("\U0001f600", '"\U0001f600"'),
    ],
)
def test_strings_are_escaped_minimally(text: str, expected: str) -> None:
    assert canonicalize(text) == expected.encode("utf-8")


def test_what_json_cannot_hold_exactly_is_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        canonicalize("\ud800")
    with pytest.raises(ValueError, match="beyond the range"):
        canonicalize(10**400)
    # Larger integers mean the nearest double, as JSON.parse reads them.
    assert canonicalize(2**53 + 1) == b"9007199254740992"
    assert canonicalize(2**53) == b"9007199254740992"
    assert canonicalize(10**21) == b"1e+21"
    with pytest.raises(TypeError, match="member names"):
        canonicalize({1: "x"})
    with pytest.raises(TypeError, match="not a JSON value"):
        canonicalize({1, 2})
    assert canonicalize([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, True, None]) == (
        b"[9007199254740991,-9007199254740991,true,null]"
    )


_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_text, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_agrees_with_the_public_verifier(value: Any) -> None:
    ours = canonicalize(value)
    assert ours == jcs_canonicalize(value)
    # Canonical bytes read back to the same canonical bytes.
    assert canonicalize(json.loads(ours)) == ours


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_read_back_to_the_same_double(value: float) -> None:
    text = format_number(value)
    back = float(text)
    assert back == value or (value == 0 and back == 0)
    assert math.copysign(1, back) == 1 or value < 0


# --- The module against the straightforward writer it replaced (tests/receipts/jcs_reference.py)


def _rfc_string(char: str) -> str:
    """RFC 8785 §3.2.2.2 for one character: the short escapes, other controls as lowercase
    ``\\u00xx``, everything else as is."""
    if char in reference.SHORT_ESCAPES:
        return reference.SHORT_ESCAPES[char]
    return f"\\u{ord(char):04x}" if char < " " else char


def test_every_code_point_is_written_as_the_rfc_says() -> None:
    scalars = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    for start in range(0, len(scalars), 0x10000):
        chars = [chr(cp) for cp in scalars[start : start + 0x10000]]
        expected = "[" + ",".join(f'"{_rfc_string(char)}"' for char in chars) + "]"
        assert canonicalize(chars) == expected.encode("utf-8")
        # As member names too (sorted by UTF-16 code units).
        names = sorted(chars, key=lambda name: name.encode("utf-16-be"))
        expected = "{" + ",".join(f'"{_rfc_string(name)}":0' for name in names) + "}"
        assert canonicalize(dict.fromkeys(chars, 0)) == expected.encode("utf-8")


def test_every_lone_surrogate_is_refused() -> None:
    for cp in range(0xD800, 0xE000):
        for value in (chr(cp), f"a{chr(cp)}b", {chr(cp): 1}, [{"k": chr(cp)}]):
            with pytest.raises(ValueError, match="lone surrogate"):
                canonicalize(value)


# Characters where writers go wrong: controls, the escaped pair, DEL, U+2028/2029, and the
# two ranges whose code-point and UTF-16 orders differ (U+E000-U+FFFF and above U+FFFF).
_TRICKY = (
    [chr(cp) for cp in range(0x20)]
    + ['"', "\\", "/", "\x7f", "\x80", "\xe9", "\u2028", "\u2029", "\u20ac", "\ud7ff"]
    + ["\ue000", "\ufb33", "\ufeff", "\ufffd", "\uffff"]
    + ["\U00010000", "\U0001f600", "\U0001f9d1", "\U0010ffff"]
)
_PLAIN = "abcxyzABC019 _-.:"
_NEAR_2_53 = [sign * (2**53 + delta) for sign in (1, -1) for delta in range(-3, 4)]


def _random_text(rng: random.Random, longest: int = 12) -> str:
    size = rng.choice([0, 1, 2, rng.randrange(longest + 1), rng.randrange(200, 2001)])
    if size > longest and rng.random() < 0.8:
        size = rng.randrange(longest + 1)
    pools = [
        _PLAIN,
        _TRICKY,
        [chr(rng.randrange(0x20, 0xD800))],
        [chr(rng.randrange(0xE000, 0x110000))],
    ]
    weights = [6, 3, 1, 1]
    return "".join(rng.choice(rng.choices(pools, weights)[0]) for _ in range(size))


def _random_name(rng: random.Random) -> str:
    # Names sharing a prefix and differing in one tricky character are the ones whose
    # order depends on comparing UTF-16 code units rather than code points.
    if rng.random() < 0.4:
        return (
            rng.choice(["", "k", "key"])
            + rng.choice(_TRICKY[-9:])
            + rng.choice(["", "a", "\U0001f600"])
        )
    return _random_text(rng, longest=6)


def _random_number(rng: random.Random) -> int | float:
    choice = rng.randrange(6)
    if choice == 0:
        return rng.choice(_NEAR_2_53)
    if choice == 1:
        return rng.randrange(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1)
    if choice == 2:
        return rng.choice([0, 1, -1, 10**21, -(10**22), 2**64, 10**308, rng.randrange(-1000, 1000)])
    while True:
        value = _double(f"{rng.getrandbits(64):016x}")
        if math.isfinite(value):
            return value if choice < 5 else rng.choice([-0.0, 5e-324, 1e21, 1e-7, 0.1, 1e300])


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(10 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind in (1, 2, 3):
        return _random_text(rng)
    if kind in (4, 5):
        return _random_number(rng)
    if kind in (6, 7):
        size = rng.randrange(8)
        return {_random_name(rng): _random_value(rng, depth + 1) for _ in range(size)}
    items = [_random_value(rng, depth + 1) for _ in range(rng.randrange(6))]
    return tuple(items) if kind == 8 and rng.random() < 0.3 else items


def _outcome(write: Any, value: Any) -> bytes | tuple[type[BaseException], str]:
    try:
        result: bytes = write(value)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    return result


def test_agrees_byte_for_byte_with_the_reference_on_generated_values() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        value = _random_value(rng)
        assert canonicalize(value) == reference.canonicalize(value), value


class _Color(enum.IntEnum):
    RED = 1


class _Name(str):
    pass


class _Ratio(float):
    pass


class _Items(list[Any]):
    pass


class _Point(NamedTuple):
    x: int
    y: float


# Values JCS has no bytes for, each raising what the reference raises.
_REFUSED: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    "x\udc00",
    10**400,
    -(10**400),
    {1: "x"},
    {"a": 1, None: 2},
    {("a",): 1},
    {"\ud83d": 1},
    {1, 2},
    b"bytes",
    object(),
    decimal.Decimal("1.5"),
]


def test_refuses_what_the_reference_refuses_with_the_same_error() -> None:
    rng = random.Random(2785)
    for index in range(2000):
        bad = _REFUSED[index % len(_REFUSED)]
        value = [_random_value(rng), bad] if rng.random() < 0.5 else {"z": bad, "a": [1.5]}
        value = {"outer": value, _random_name(rng): _random_value(rng)}
        expected = _outcome(reference.canonicalize, value)
        assert isinstance(expected, tuple), value
        assert _outcome(canonicalize, value) == expected


def test_subclasses_and_other_mappings_read_as_the_reference_reads_them() -> None:
    value = {
        "ordered": OrderedDict([("b", 1), ("a", 2), ("\U0001f600", 3), ("\ufb33", 4)]),
        "proxy": MappingProxyType({"y": [1, 2], "x": None}),
        "enum": [_Color.RED, {"k": _Color.RED}],
        "names": {_Name("b"): _Name("a\n\u2028"), _Name("a"): 0},
        "ratio": _Ratio(0.1),
        "items": _Items([1, "two", 3.0]),
        "point": _Point(1, 2.5),
        "literals": [True, False, None],
    }
    assert canonicalize(value) == reference.canonicalize(value)
    assert canonicalize(_Items()) == b"[]"
    assert canonicalize(OrderedDict()) == b"{}"


_tricky_text = st.text(
    alphabet=st.sampled_from(_TRICKY) | st.characters(exclude_categories=("Cs",)), max_size=30
)
_tricky_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from(_NEAR_2_53)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _tricky_text,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(_tricky_text, children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(_tricky_json)
def test_agrees_with_the_reference_on_hypothesis_values(value: Any) -> None:
    assert _outcome(canonicalize, value) == _outcome(reference.canonicalize, value)
