"""How a debate is run: mode, rounds, consensus rule, stopping rules, budgets. Plain data."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from aragora.errors import InvalidInputError

__all__ = ["ConsensusRule", "DebateProtocol", "Mode"]

MAX_ROUNDS = 10


class Mode(StrEnum):
    """``single``: one agent answers. ``vote``: independent answers, then a vote by rule.
    ``debate``: propose, then critique and revise each round, then vote.
    ``auto``: independent answers; stop if they agree, otherwise escalate to debate."""

    SINGLE = "single"
    VOTE = "vote"
    DEBATE = "debate"
    AUTO = "auto"


class ConsensusRule(StrEnum):
    """How votes become a verdict."""

    MAJORITY = "majority"
    SUPERMAJORITY = "supermajority"
    UNANIMOUS = "unanimous"
    JUDGE = "judge"
    WEIGHTED = "weighted"


@dataclass(frozen=True, slots=True)
class DebateProtocol:
    """Every knob of one debate. ``None`` means "no limit" for timeouts and budgets.

    ``quorum`` is the number of working agents below which the debate fails; ``None``
    means a majority of the panel. ``judge`` names a panel member (or an extra agent the
    caller supplies) for the ``judge`` rule; ``None`` picks the first panel member.
    """

    mode: Mode = Mode.AUTO
    rounds: int = 3
    consensus: ConsensusRule = ConsensusRule.MAJORITY
    supermajority_threshold: float = 2 / 3
    judge: str | None = None
    convergence_threshold: float = 0.85
    early_stop: bool = True
    quorum: int | None = None
    agent_timeout: float | None = 120.0
    debate_timeout: float | None = 900.0
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_answer_tokens: int = 1024

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", Mode(self.mode))
        except ValueError:
            raise InvalidInputError(
                f"unknown mode {self.mode!r}; expected one of {', '.join(m.value for m in Mode)}"
            ) from None
        try:
            object.__setattr__(self, "consensus", ConsensusRule(self.consensus))
        except ValueError:
            raise InvalidInputError(
                f"unknown consensus rule {self.consensus!r}; expected one of "
                f"{', '.join(r.value for r in ConsensusRule)}"
            ) from None
        _check_int("rounds", self.rounds, 1, MAX_ROUNDS)
        _check_fraction("supermajority_threshold", self.supermajority_threshold, low_open=True)
        _check_fraction("convergence_threshold", self.convergence_threshold, low_open=False)
        if self.quorum is not None:
            _check_int("quorum", self.quorum, 1, 1000)
        for name in ("agent_timeout", "debate_timeout", "max_cost_usd"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
        if self.max_tokens is not None:
            _check_int("max_tokens", self.max_tokens, 1, 10**12)
        _check_int("max_answer_tokens", self.max_answer_tokens, 16, 200_000)
        if self.judge is not None and (not isinstance(self.judge, str) or not self.judge.strip()):
            raise InvalidInputError("judge must be a non-empty agent name")

    def quorum_for(self, panel_size: int) -> int:
        """Working agents needed to go on: the explicit quorum, else a majority of the panel."""
        if self.quorum is not None:
            return min(self.quorum, panel_size)
        return panel_size // 2 + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the ``debate_start`` event."""
        data = asdict(self)
        data["mode"] = self.mode.value
        data["consensus"] = self.consensus.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DebateProtocol:
        """Build from user or stored data; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"unknown protocol field(s): {', '.join(unknown)}")
        return cls(**data)

    def with_changes(self, **changes: Any) -> DebateProtocol:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an integer from {low} to {high}, got {value!r}")


def _check_fraction(name: str, value: object, *, low_open: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        assert isinstance(value, int | float)
        ok = (0 < value <= 1) if low_open else (0 <= value <= 1)
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise InvalidInputError(f"{name} must be a number in {interval}, got {value!r}")
