"""The documents of debates this process has ended and is still finishing.

A debate's end is stored with its document, which says its follow-ups (receipt,
knowledge, ratings) are still owed; the worker then runs them and stores the document
again. Meanwhile the process holds the document it stored, so a read of the debate right
after its end (every client waiting for the outcome makes one) is answered without a
database round trip, on the event loop that is also running those follow-ups.

What is held is exactly what was stored, and is let go as the worker leaves the debate:
after the follow-ups stored the final document, or when they failed (the job is then
claimed again, maybe by another replica, and the database says what happened). A read
served from here is one that read the database a moment earlier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["HeldDocuments"]


class HeldDocuments:
    """Debate id → the document stored with its end, while this process finishes it."""

    def __init__(self) -> None:
        self._held: dict[str, Mapping[str, Any]] = {}

    def hold(self, debate_id: str, document: Mapping[str, Any]) -> None:
        """Hold ``document``, just stored with the debate's end."""
        self._held[debate_id] = document

    def release(self, debate_id: str) -> None:
        """Let the debate's document go (nothing if none is held)."""
        self._held.pop(debate_id, None)

    def get(self, debate_id: str) -> Mapping[str, Any] | None:
        """The held document of the debate, or ``None``; callers must not change it."""
        return self._held.get(debate_id)

    def __len__(self) -> int:
        return len(self._held)
