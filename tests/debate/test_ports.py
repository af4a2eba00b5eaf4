"""The optional ports' checks: what ``isinstance`` against each Protocol says, decided once
per class."""

from __future__ import annotations

from collections.abc import Sequence

from aragora.debate import ports
from aragora.debate.events import Event
from aragora.debate.ports import (
    CompletionRequest,
    Usage,
    estimates_cost,
    is_batch_sink,
    is_self_timed,
    tells_availability,
)


class Plain:
    """Implements none of the optional ports."""


class Full:
    def times_calls(self) -> bool:
        return True

    def unavailable_for(self) -> float | None:
        return None

    def estimate_usage(self, request: CompletionRequest) -> Usage:
        return Usage()

    async def append_many(self, events: Sequence[Event]) -> None:
        return None


def test_each_check_says_what_isinstance_says() -> None:
    for check in (is_self_timed, tells_availability, estimates_cost, is_batch_sink):
        assert check(Full())
        assert check(Full())  # remembered for the class: the same answer
        assert not check(Plain())
        assert not check(Plain())


def test_the_remembered_answers_stay_bounded() -> None:
    made = [type(f"Made{n}", (Full,), {}) for n in range(ports._CONFORMS_MAX + 10)]
    assert all(is_self_timed(cls()) for cls in made)
    assert len(ports._CONFORMS) <= ports._CONFORMS_MAX
    assert not is_self_timed(Plain())
