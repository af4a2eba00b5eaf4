"""An in-process event log: the embedded CLI's store and the fake for the storage layer.

Appends are strictly contiguous per debate (``seq`` = previous + 1); listeners hear of an
event only after it has been appended, as the live stream must.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable

from aragora.debate.events import Event
from aragora.errors import ConflictError

__all__ = ["EventListener", "MemoryEventLog"]

EventListener = Callable[[Event], Awaitable[None] | None]


class MemoryEventLog:
    """Keeps every debate's events in memory, in order."""

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> None:
        """Call ``listener`` with each event after it is appended."""
        self._listeners.append(listener)

    async def append(self, event: Event) -> None:
        """Append ``event``; raises :class:`ConflictError` unless its seq is the next one."""
        log = self._events.setdefault(event.debate_id, [])
        expected = len(log) + 1
        if event.seq != expected:
            raise ConflictError(
                f"debate {event.debate_id}: append of seq {event.seq}, expected {expected}"
            )
        log.append(event)
        for listener in self._listeners:
            outcome = listener(event)
            if isawaitable(outcome):
                await outcome

    def events(self, debate_id: str, since: int = 0) -> list[Event]:
        """Events of ``debate_id`` with ``seq > since``, in order."""
        return list(self._events.get(debate_id, [])[since:])
