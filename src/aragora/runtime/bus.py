"""The event bus: how events appended by a worker reach the streams that follow them.

A bus carries :class:`Frame` objects — an event already serialised to its wire form, so
a thousand subscribers of one debate share one ``json`` encoding. The bus is a
*notification* path, never the record: every durable frame is in the event log before it
is published, and a stream that misses one reads it back from the log (see
:mod:`aragora.runtime.stream`). ``token`` frames (``seq`` is ``None``) exist only here.

:class:`LocalBus` is the in-process implementation (embedded mode, and the fake in tests).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import orjson

from aragora.debate.events import Event, EventType
from aragora.errors import SlowConsumerError

__all__ = ["EventBus", "Frame", "LocalBus", "Subscription", "frame_of"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One event in its wire form (``text`` is the JSON object CONTRACT.md describes)."""

    debate_id: str
    seq: int | None
    type: str
    text: str

    @property
    def ends_debate(self) -> bool:
        """Whether this is the debate's last event."""
        return self.type == EventType.DEBATE_END


def frame_of(event: Event) -> Frame:
    """Serialise ``event`` once, for every subscriber."""
    return Frame(
        debate_id=event.debate_id,
        seq=event.seq,
        type=event.type,
        text=orjson.dumps(event.to_wire()).decode("utf-8"),
    )


class Subscription(Protocol):
    """Frames of one debate published after the subscription was made."""

    async def get(self, within: float | None = None) -> Frame | None:
        """The next frame; ``None`` when ``within`` seconds pass without one. Raises
        :class:`SlowConsumerError` once the queue overflowed (the frames it lost are
        in the event log)."""
        ...

    def close(self) -> None:
        """Stop receiving; idempotent."""
        ...


class EventBus(Protocol):
    """Publishes frames to the subscribers of their debate, in this process or others."""

    @property
    def poll_interval(self) -> float | None:
        """How long a quiet stream waits before reading the log in case it missed frames:
        ``None`` when every frame published reaches every subscriber subscribed at the
        time (in-process), a few seconds on a healthy network bus, about one second while
        the network bus is down (streams then follow the log by polling)."""
        ...

    async def publish(self, frame: Frame) -> None:
        """Deliver ``frame`` to the debate's subscribers; never blocks on a slow one."""
        ...

    def publish_nowait(self, frame: Frame) -> None:
        """:meth:`publish` from synchronous code (token deltas); a network bus queues it."""
        ...

    def subscribe(self, debate_id: str, *, maxsize: int) -> Subscription:
        """Start receiving the debate's frames, keeping at most ``maxsize`` unread."""
        ...

    def nudge(self, debate_id: str | None = None) -> None:
        """Wake this process's waiting subscribers of the debate (or of all debates) with
        no frame, so their streams look at the log and the debate's status."""
        ...

    async def close(self) -> None:
        """Release the bus's connections."""
        ...


class _LocalSubscription:
    __slots__ = ("_bus", "_debate_id", "_frames", "_maxsize", "_nudged", "_overflowed", "_wakeup")

    def __init__(self, bus: LocalBus, debate_id: str, maxsize: int) -> None:
        self._bus = bus
        self._debate_id = debate_id
        self._frames: deque[Frame] = deque()
        self._maxsize = maxsize
        self._overflowed = False
        self._nudged = False
        self._wakeup = asyncio.Event()

    def nudge(self) -> None:
        """Make a waiting :meth:`get` return ``None`` now, so its stream reads the log."""
        self._nudged = True
        self._wakeup.set()

    def offer(self, frame: Frame) -> None:
        if self._overflowed:
            return
        if len(self._frames) >= self._maxsize:
            if frame.seq is None:
                return  # a token delta is worth nothing late; drop it rather than close
            self._overflowed = True
        else:
            self._frames.append(frame)
        self._wakeup.set()

    async def get(self, within: float | None = None) -> Frame | None:
        while not self._frames:
            if self._overflowed:
                raise SlowConsumerError(-1)
            if self._nudged:
                self._nudged = False
                return None
            self._wakeup.clear()
            if within is None:
                await self._wakeup.wait()
            else:
                # asyncio.timeout, not wait_for: no extra task per frame and subscriber
                try:
                    async with asyncio.timeout(within):
                        await self._wakeup.wait()
                except TimeoutError:
                    return None
        if self._overflowed:
            raise SlowConsumerError(-1)
        return self._frames.popleft()

    def close(self) -> None:
        self._bus._remove(self._debate_id, self)


class LocalBus:
    """In-process fan-out: publishing loops over the debate's subscribers.

    Alone it reaches only this process: with a database other replicas share and no
    Redis, pass ``poll_interval`` so streams also follow debates running elsewhere by
    reading the log (``None``, the default, suits one embedded process)."""

    def __init__(self, *, poll_interval: float | None = None) -> None:
        self.poll_interval = poll_interval
        self._subscribers: dict[str, set[_LocalSubscription]] = {}

    async def publish(self, frame: Frame) -> None:
        self.publish_nowait(frame)

    def publish_nowait(self, frame: Frame) -> None:
        for subscription in tuple(self._subscribers.get(frame.debate_id, ())):
            subscription.offer(frame)

    def subscribe(self, debate_id: str, *, maxsize: int) -> Subscription:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        subscription = _LocalSubscription(self, debate_id, maxsize)
        self._subscribers.setdefault(debate_id, set()).add(subscription)
        return subscription

    def nudge(self, debate_id: str | None = None) -> None:
        """Wake the debate's (or every) waiting subscriber with no frame: their streams
        read the log for anything they may have missed."""
        groups = (
            [self._subscribers.get(debate_id, set())] if debate_id else self._subscribers.values()
        )
        for group in list(groups):
            for subscription in tuple(group):
                subscription.nudge()

    def debates(self) -> list[str]:
        """Debates that have subscribers in this process."""
        return list(self._subscribers)

    def subscriber_count(self, debate_id: str) -> int:
        """How many subscriptions the debate has (for tests and stats)."""
        return len(self._subscribers.get(debate_id, ()))

    def _remove(self, debate_id: str, subscription: _LocalSubscription) -> None:
        subscribers = self._subscribers.get(debate_id)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[debate_id]

    async def close(self) -> None:
        self._subscribers.clear()
