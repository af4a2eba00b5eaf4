"""The debates this process is running, as its runner holds them, for reads.

A worker keeps a debate's stored log in memory while it runs it (every event appended
once it is durable), and after the end the document it stored, which says the debate's
follow-ups (receipt, knowledge, ratings) are still owed while it runs them. Reads of the
debate on this process use both instead of the database: a client polling a running
debate, or reading it right after its end (every client waiting for the outcome does),
is answered without reading the log back and folding it again, on the event loop that is
running the debate.

What is held is exactly what was stored, and is let go as the worker leaves the debate
(finished, failed, cancelled or handed on): the database then says what it is. A read
served from here is one that read the database a moment earlier. It is served only while
the worker's lease is unexpired: a worker that cannot renew it (the database away longer
than the lease) may have lost the debate to another replica without knowing yet, and
the database then says who carries it on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aragora.debate.events import Event

__all__ = ["LocalDebates"]


@dataclass(slots=True)
class _Running:
    log: Sequence[Event]
    """The stored log, as the runner extends it."""
    lease_expires_at: datetime
    """Until when the worker's lease is held, as last claimed or renewed."""
    ended: Mapping[str, Any] | None = None
    """The document stored with the end, while the follow-ups run."""
    folded: tuple[int, dict[str, Any]] | None = None
    """The document of the log's first ``n`` events, built last time it was read."""


class LocalDebates:
    """Debate id → what this process holds of a debate it is running."""

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        self._debates: dict[str, _Running] = {}
        self._now = now or (lambda: datetime.now(UTC))

    def running(self, debate_id: str, log: Sequence[Event], lease_expires_at: datetime) -> None:
        """The runner runs the debate here under a lease held until ``lease_expires_at``;
        ``log`` is its stored log, which the runner extends as it appends (never with an
        event not yet durable)."""
        self._debates[debate_id] = _Running(log, lease_expires_at)

    def renewed(self, debate_id: str, lease_expires_at: datetime) -> None:
        """The worker's lease on the debate now runs until ``lease_expires_at``."""
        running = self._debates.get(debate_id)
        if running is not None:
            running.lease_expires_at = lease_expires_at

    def hold(self, debate_id: str, document: Mapping[str, Any]) -> None:
        """Hold ``document``, just stored with the debate's end."""
        running = self._debates.get(debate_id)
        if running is not None:
            running.ended = document

    def release(self, debate_id: str) -> None:
        """The runner has left the debate (nothing if it was not held)."""
        self._debates.pop(debate_id, None)

    def ended(self, debate_id: str) -> Mapping[str, Any] | None:
        """The document stored with the end of a debate finishing here, or ``None``;
        callers must not change it."""
        running = self._held(debate_id)
        return None if running is None else running.ended

    def document(
        self, debate_id: str, build: Callable[[Sequence[Event]], dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The document ``build`` makes of the stored log of a debate running here (built
        again only once the log has grown), or ``None`` when it does not run here. A
        shallow copy: the caller may set its fields, not change what they hold."""
        running = self._held(debate_id)
        if running is None:
            return None
        length = len(running.log)
        if running.folded is None or running.folded[0] != length:
            running.folded = (length, build(running.log[:length]))  # a copy of the log
        return dict(running.folded[1])

    def _held(self, debate_id: str) -> _Running | None:
        """The debate's entry while its worker's lease is unexpired."""
        running = self._debates.get(debate_id)
        if running is None or running.lease_expires_at <= self._now():
            return None
        return running

    def __len__(self) -> int:
        return len(self._debates)
