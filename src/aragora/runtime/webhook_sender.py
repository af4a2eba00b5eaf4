"""The webhook sender: a replica's background task that delivers the outbox.

Each round it claims due deliveries (a claim expires, so the rows of a replica that died
are claimed again, and no two replicas hold one row at once), checks each target against
the egress rule again (a name may resolve elsewhere now), POSTs the signed body with
httpx, and records the attempt (status code, error, duration): a 2xx answer is
``delivered``; anything else is tried again after a backoff that doubles from
``base_delay`` up to ``max_delay``, with jitter, until ``max_attempts`` tries have failed
(then ``failed``). A target the egress rule now refuses fails at once. Redirects are not
followed. Nothing is logged of a URL or a secret: only the webhook's and delivery's ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from aragora import __version__
from aragora.errors import DatabaseUnavailableError, InvalidInputError, UnavailableError
from aragora.logs import log_event
from aragora.records.debates import (
    ClaimedDelivery,
    DeliveryAttempt,
    OutboxRepository,
    Outcome,
)
from aragora.runtime.webhook_payloads import SIGNATURE_HEADER, delivery_body, sign
from aragora.runtime.webhooks import UrlGuard

__all__ = ["DeliveryPolicy", "OutcomeObserver", "WebhookSender"]

_log = logging.getLogger("aragora.webhooks")
OutcomeObserver = Callable[[str], None]
"""Told the outcome of every attempt: ``delivered``, ``retry`` or ``failed``."""
_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard the sender tries: ``max_attempts`` tries, the n-th failure waiting
    ``min(max_delay, base_delay * 2**(n-1))`` scaled by a random factor in [0.5, 1)."""

    max_attempts: int = 8
    base_delay: float = 10.0
    max_delay: float = 3600.0
    timeout: float = 10.0
    claim_ttl: float = 60.0
    batch: int = 10
    poll_interval: float = 1.0

    def delay(self, failures: int, jitter: float) -> float:
        """Seconds before the next try after ``failures`` failed ones (``jitter`` in
        [0, 1))."""
        backoff = min(self.max_delay, self.base_delay * 2.0 ** max(failures - 1, 0))
        return float(backoff * (0.5 + jitter / 2))


class WebhookSender:
    """Delivers the outbox until :meth:`close`; :meth:`deliver_due` is one round."""

    def __init__(
        self,
        *,
        outbox: OutboxRepository,
        client: httpx.AsyncClient,
        guard: UrlGuard,
        owner: str,
        policy: DeliveryPolicy | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        observers: Sequence[OutcomeObserver] = (),
    ) -> None:
        self._outbox = outbox
        self._client = client
        self._guard = guard
        self.owner = owner
        self.policy = policy or DeliveryPolicy()
        self._now = now
        self._jitter = jitter
        self._observers = observers
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Begin delivering in the background."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="aragora-webhooks")

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    async def close(self) -> None:
        """Stop; a delivery in flight is abandoned (its claim expires and another sender,
        or this one after a restart, delivers it: at least once)."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    async def deliver_due(self) -> int:
        """Claim and attempt one batch of due deliveries; how many were attempted."""
        claimed = await self._outbox.claim(
            self.owner, self.policy.claim_ttl, limit=self.policy.batch
        )
        if claimed:
            await asyncio.gather(*(self._attempt(delivery) for delivery in claimed))
        return len(claimed)

    async def _loop(self) -> None:
        backoff = self.policy.poll_interval
        while not self._stopping:
            try:
                attempted = await self.deliver_due()
            except DatabaseUnavailableError as exc:
                log_event(_log, "webhook_claim_failed", error=str(exc), level=logging.WARNING)
                await self._wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except Exception:
                _log.exception("delivering webhooks failed")
                await self._wait(self.policy.poll_interval)
                continue
            backoff = self.policy.poll_interval
            if attempted < self.policy.batch:
                await self._wait(self.policy.poll_interval)

    async def _wait(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _attempt(self, delivery: ClaimedDelivery) -> None:
        started = time.perf_counter()
        at = self._now()
        status, error, refused = await self._send(delivery)
        attempt = DeliveryAttempt(
            number=delivery.attempts + 1,
            at=at,
            status_code=status,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        tries = delivery.attempts + 1
        retry_at: datetime | None = None
        outcome: Outcome
        if error is None:
            outcome = "delivered"
        elif refused or tries >= self.policy.max_attempts:
            outcome = "failed"
        else:
            outcome = "retry"
            retry_at = self._now() + timedelta(seconds=self.policy.delay(tries, self._jitter()))
        try:
            recorded = await self._outbox.record(
                delivery.id, self.owner, attempt, outcome=outcome, retry_at=retry_at
            )
        except DatabaseUnavailableError as exc:
            # The claim expires and the delivery is tried again: at least once.
            log_event(
                _log,
                "webhook_record_failed",
                delivery_id=delivery.id,
                error=str(exc),
                level=logging.WARNING,
            )
            return
        log_event(
            _log,
            "webhook_attempt",
            webhook_id=delivery.webhook_id,
            delivery_id=delivery.id,
            webhook_event=delivery.event,
            attempt=tries,
            status_code=status,
            outcome=outcome if recorded else "claim_lost",
            level=logging.INFO if error is None else logging.WARNING,
        )
        if recorded:
            for observer in self._observers:
                try:
                    observer(outcome)
                except Exception:  # an observer's bug must not stop deliveries
                    _log.exception("webhook observer failed")

    async def _send(self, delivery: ClaimedDelivery) -> tuple[int | None, str | None, bool]:
        """(status code, error or ``None`` for a 2xx, whether the egress rule refused)."""
        try:
            await self._guard(delivery.url)
        except InvalidInputError as exc:
            return None, _clip(f"refused: {exc.message}"), True
        except UnavailableError as exc:
            return None, _clip(exc.message), False
        body = delivery_body(delivery)
        timestamp = int(self._now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"aragora-webhooks/{__version__}",
            "X-Aragora-Event": delivery.event,
            "X-Aragora-Delivery": delivery.id,
            SIGNATURE_HEADER: sign(delivery.secret, timestamp, body),
        }
        try:
            async with self._client.stream(
                "POST",
                delivery.url,
                content=body,
                headers=headers,
                timeout=self.policy.timeout,
                follow_redirects=False,
            ) as response:
                if response.is_success:
                    return response.status_code, None, False
                if response.is_redirect:
                    return response.status_code, "redirect not followed", False
                text = await _start_of(response)
                return response.status_code, _clip(f"HTTP {response.status_code}: {text}"), False
        except httpx.TimeoutException:
            return None, f"timed out after {self.policy.timeout:g} s", False
        except httpx.HTTPError as exc:
            return None, _clip(f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)), False


async def _start_of(response: httpx.Response) -> str:
    """The first few hundred characters of an error answer (never the whole of a large
    one)."""
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= _ERROR_CHARS:
            break
    return read[:_ERROR_CHARS].decode("utf-8", "replace")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"
