"""A debate's stream for one subscriber: stored events after ``since``, then live ones,
with no gap and no duplicate whatever is being appended meanwhile.

The subscription is opened *before* the log is read, so an event appended during the
replay is either in the read or arrives on the bus (or both: duplicates are dropped by
``seq``). A bus frame that skips ahead means frames were missed (a lossy bus); the gap is
read back from the log. On a network bus a quiet stream also reads the log every
``bus.poll_interval`` seconds (and whenever the bus nudges it), so a lost frame or a bus
that is down delays a stream but never stops it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aragora.debate.events import Event, EventType
from aragora.errors import SlowConsumerError
from aragora.records.debates import DebateRecord, EventRepository
from aragora.runtime.bus import EventBus, Frame, frame_of

__all__ = ["stream_frames", "unlogged_end"]

_REPLAY_BATCH = 500


async def stream_frames(
    events: EventRepository,
    bus: EventBus,
    debate_id: str,
    *,
    since: int = 0,
    maxsize: int = 1000,
    ending: Callable[[], Awaitable[Frame | None]] | None = None,
    idle_check: float = 30.0,
) -> AsyncIterator[Frame]:
    """Frames of ``debate_id`` with ``seq > since`` in order, then live ``token`` frames
    as they come, ending after ``debate_end``. Raises :class:`SlowConsumerError` (with the
    last seq yielded) when the consumer falls more than ``maxsize`` frames behind.

    ``ending`` gives, once the debate has ended, the frame that ends its stream should its
    log hold no ``debate_end`` (cancelled before it started, or ended while its worker was
    stuck), and ``None`` while it has not ended; it is asked when the stream has been quiet
    for ``idle_check`` seconds (or the bus's poll interval) or is nudged, before the log
    is read."""
    subscription = bus.subscribe(debate_id, maxsize=maxsize)
    last = since
    try:
        while True:  # replay
            batch = await events.read(debate_id, since=last, limit=_REPLAY_BATCH)
            for event in batch:
                replayed = frame_of(event)
                yield replayed
                last = event.seq or last
                if replayed.ends_debate:
                    return
            if len(batch) < _REPLAY_BATCH:
                break
        if last == since and since > 0 and await _ended_by(events, debate_id, since):
            return  # the subscriber already has the end
        while True:  # live
            try:
                live = await subscription.get(_wait(bus.poll_interval, idle_check))
            except SlowConsumerError:
                raise SlowConsumerError(last) from None
            if live is None or (live.seq is not None and live.seq > last + 1):
                # quiet or nudged, or frames missed: the log has them. When quiet, whether
                # the debate ended is asked first: an end is stored with its status, so
                # the log read after it holds the end whenever the debate logged one.
                unlogged = await ending() if live is None and ending is not None else None
                for event in await events.read(debate_id, since=last, primary=True):
                    caught_up = frame_of(event)
                    yield caught_up
                    last = event.seq or last
                    if caught_up.ends_debate:
                        return
                if unlogged is not None:  # it ended without logging an end
                    yield unlogged
                    return
                if live is None or live.seq is None or live.seq <= last:
                    continue
            if live.seq is None:
                yield live
                continue
            if live.seq <= last:
                continue
            yield live
            last = live.seq
            if live.ends_debate:
                return
    finally:
        subscription.close()


def unlogged_end(record: DebateRecord) -> Frame:
    """The ``debate_end`` of ``record``, a debate that ended without one in its log (see
    :func:`stream_frames`), so that every stream ends with ``debate_end``: the shape a
    worker logs when it ends a debate that cannot go on, from the stored status and error,
    and no seq, since it is not in the log."""
    document = record.document or {}
    end = Event(
        EventType.DEBATE_END,
        record.id,
        None,
        record.updated_at.isoformat(),
        data={
            "result": {
                "status": record.status,
                "error": document.get("error") or record.status,
                "consensus_reached": False,
            },
            "total_rounds": 0,
            "duration_seconds": 0.0,
        },
    )
    return frame_of(end)


def _wait(poll_interval: float | None, idle_check: float) -> float | None:
    """How long a live wait may last: not at all past a finished debate's log, the bus's
    poll interval on a network bus, else until a frame or a nudge arrives."""
    if idle_check <= 0:
        return 0.0
    if poll_interval is None:
        return None  # in-process: every frame and every cancellation arrives as a wake-up
    return min(poll_interval, idle_check)


async def _ended_by(events: EventRepository, debate_id: str, seq: int) -> bool:
    """Whether the debate's log ends at or before ``seq`` with ``debate_end``."""
    last_seq = await events.last_seq(debate_id)
    if last_seq == 0 or last_seq > seq:
        return False
    tail = await events.read(debate_id, since=last_seq - 1, limit=1, primary=True)
    return bool(tail) and tail[0].type == EventType.DEBATE_END
