"""The in-process store: every repository Protocol kept in dictionaries.

It behaves as the SQL store does (the contract tests run against both): the same fencing,
contiguity, paging, ordering and errors. Values pass through a JSON round trip on the way
in and out, so a caller can neither store what the database could not hold nor change a
stored record by mutating what it got back. Each method completes without awaiting, so
within one event loop every operation is atomic, as a database transaction is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aragora.debate.events import Event
from aragora.errors import (
    ConflictError,
    DataRejectedError,
    InvalidInputError,
    NotFoundError,
    StaleLeaseError,
)
from aragora.records.debates import (
    DEBATE_STATUSES,
    TERMINAL_STATUSES,
    ApiToken,
    Claimant,
    CreatedDebate,
    DebateOutcome,
    DebatePage,
    DebateRecord,
    Lease,
    NewDebate,
    NewReceipt,
    OutboxEvent,
    Rating,
    RatingKey,
    Storage,
    StoredReceipt,
    check_batch,
    check_event,
    check_new_debate,
    check_page,
    check_rating,
    check_role,
    check_status,
    check_token_name,
    hash_secret,
    new_token_id,
)
from aragora.storage.memory.knowledge import memory_knowledge
from aragora.storage.memory.webhooks import MemoryOutbox, MemoryWebhooks, WebhookState, enqueue

__all__ = ["memory_storage"]

Now = Callable[[], datetime]


def _json(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:  # what a database's UTF-8 text refuses
        raise DataRejectedError(f"the store refused a value: {error}") from None
    return json.loads(text)


@dataclass(slots=True)
class _Job:
    state: str
    epoch: int
    enqueued_at: datetime
    priority: int = 0
    owner: str | None = None
    expires_at: datetime | None = None


@dataclass(slots=True)
class _State:
    debates: dict[str, DebateRecord] = field(default_factory=dict)
    events: dict[str, list[Event]] = field(default_factory=dict)
    jobs: dict[str, _Job] = field(default_factory=dict)
    tokens: dict[str, tuple[ApiToken, str]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    ratings: dict[RatingKey, Rating] = field(default_factory=dict)
    rated: set[str] = field(default_factory=set)
    receipts: list[StoredReceipt] = field(default_factory=list)
    webhooks: WebhookState = field(default_factory=WebhookState)


class _MemoryEvents:
    def __init__(self, state: _State, now: Now) -> None:
        self._s = state
        self._now = now

    async def append_and_finish(
        self, events: Sequence[Event], *, epoch: int, outcome: DebateOutcome
    ) -> None:
        check_status(outcome.status)
        log = self._s.events.setdefault(check_batch(events)[0].debate_id, [])
        saved = list(log)
        await self.append_many(events, epoch=epoch)
        try:
            _store_update(
                self._s,
                self._now(),
                events[0].debate_id,
                outcome.status,
                outcome.document,
                outcome.outbox,
                outcome.followups,
            )
        except BaseException:
            log[:] = saved  # all or nothing
            raise

    async def append_many(self, events: Sequence[Event], *, epoch: int) -> None:
        batch = check_batch(events)
        log = self._s.events.setdefault(batch[0].debate_id, [])
        saved = list(log)
        try:
            for event in batch:
                await self.append(event, epoch=epoch)
        except BaseException:
            log[:] = saved  # all or nothing
            raise

    async def append(self, event: Event, *, epoch: int) -> None:
        if event.seq is None or event.seq < 1:
            raise InvalidInputError(f"only events with a seq of 1 or more are stored: {event}")
        check_event(event)
        job = self._s.jobs.get(event.debate_id)
        if job is None:
            raise StaleLeaseError(f"debate {event.debate_id}: no lease exists")
        if job.state != "running" or job.epoch != epoch:
            raise StaleLeaseError(
                f"debate {event.debate_id}: lease epoch {epoch} is stale "
                f"(current epoch {job.epoch}, {job.state})"
            )
        log = self._s.events.setdefault(event.debate_id, [])
        if event.seq <= len(log):
            raise ConflictError(f"debate {event.debate_id}: seq {event.seq} is already stored")
        if event.seq != len(log) + 1:
            raise ConflictError(
                f"debate {event.debate_id}: append of seq {event.seq}, expected {len(log) + 1}"
            )
        log.append(replace(event, data=_json(dict(event.data))))

    async def read(
        self, debate_id: str, *, since: int = 0, limit: int | None = None, primary: bool = False
    ) -> list[Event]:
        if limit is not None and limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        log = self._s.events.get(debate_id, [])[max(since, 0) :]
        if limit is not None:
            log = log[:limit]
        return [replace(event, data=_json(dict(event.data))) for event in log]

    async def last_seq(self, debate_id: str) -> int:
        return len(self._s.events.get(debate_id, []))


class _MemoryDebates:
    def __init__(self, state: _State, now: Now) -> None:
        self._s = state
        self._now = now

    async def create(self, debate: NewDebate, *, claimant: Claimant | None = None) -> CreatedDebate:
        check_new_debate(debate)
        if claimant is not None:
            _check_ttl(claimant.ttl)
        if debate.id in self._s.debates:
            raise ConflictError(f"debate {debate.id} already exists")
        now = self._now()
        job = _Job("queued", 0, now, debate.priority)
        position = _position(self._s.jobs, debate.id, job)
        lease = None
        if claimant is not None and position == 1 and not self._lapsed(now):
            lease = Lease(debate.id, claimant.owner, 1, now + timedelta(seconds=claimant.ttl))
            job = _Job("running", 1, now, debate.priority, lease.owner, lease.expires_at)
        record = DebateRecord(
            debate.id,
            "queued" if lease is None else "running",
            debate.task,
            _json(dict(debate.request)),
            now,
            now,
        )
        self._s.debates[debate.id] = record
        self._s.jobs[debate.id] = job
        return CreatedDebate(_copy(record), position, lease)

    def _lapsed(self, now: datetime) -> bool:
        """Whether a lease has expired (its debate is claimed before any queued one)."""
        return any(
            job.state == "running" and job.expires_at is not None and job.expires_at < now
            for job in self._s.jobs.values()
        )

    async def get(self, debate_id: str, *, primary: bool = False) -> DebateRecord:
        record = self._s.debates.get(debate_id)
        if record is None:
            raise NotFoundError(f"debate {debate_id} not found")
        return _copy(record)

    async def list(
        self,
        *,
        status: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DebatePage:
        check_page(limit, offset)
        if status is not None:
            check_status(status)
        found = [
            record
            for record in self._s.debates.values()
            if (status is None or record.status == status)
            and (not query or query.lower() in record.task.lower())
        ]
        found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        page = tuple(replace(_copy(r), document=None) for r in found[offset : offset + limit])
        return DebatePage(page, len(found), limit, offset)

    async def update(
        self,
        debate_id: str,
        *,
        status: str,
        document: Mapping[str, Any] | None = None,
        outbox: Sequence[OutboxEvent] = (),
        followups: bool = False,
    ) -> None:
        check_status(status)
        _store_update(self._s, self._now(), debate_id, status, document, outbox, followups)

    async def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(DEBATE_STATUSES, 0)
        for record in self._s.debates.values():
            counts[record.status] += 1
        return counts


def _store_update(
    state: _State,
    now: datetime,
    debate_id: str,
    status: str,
    document: Mapping[str, Any] | None,
    outbox: Sequence[OutboxEvent],
    followups: bool,
) -> None:
    """The debate's new status and document (see :meth:`DebateRepository.update`): all of
    it, or nothing when it refuses."""
    record = state.debates.get(debate_id)
    if record is None:
        raise NotFoundError(f"debate {debate_id} not found")
    updated = replace(
        record,
        status=status,
        updated_at=now,
        document=record.document if document is None else _json(dict(document)),
    )
    if record.status != status:  # a debate finished twice is reported once
        enqueue(state.webhooks, outbox, now)  # first: it may refuse, then nothing changes
    state.debates[debate_id] = updated
    job = state.jobs.get(debate_id)
    if status in TERMINAL_STATUSES and job is not None and not followups:
        job.state, job.owner, job.expires_at = "done", None, None


def _copy(record: DebateRecord) -> DebateRecord:
    document = None if record.document is None else _json(record.document)
    return replace(record, request=_json(record.request), document=document)


class _MemoryLeases:
    def __init__(self, state: _State, now: Now) -> None:
        self._s = state
        self._now = now

    async def claim(self, owner: str, ttl: float, *, debate_id: str | None = None) -> Lease | None:
        _check_ttl(ttl)
        now = self._now()
        candidates = [
            (job.state == "queued", -job.priority, job.enqueued_at, key, job)
            for key, job in self._s.jobs.items()
            if (debate_id is None or key == debate_id)
            and (
                job.state == "queued"
                or (job.state == "running" and job.expires_at is not None and job.expires_at < now)
            )
        ]
        if not candidates:
            return None
        # expired leases first (their worker died mid-debate), then the queue in order
        *_, chosen, job = min(candidates, key=lambda c: (c[0], c[1], c[2], c[3]))
        job.state, job.epoch, job.owner = "running", job.epoch + 1, owner
        job.expires_at = now + timedelta(seconds=ttl)
        record = self._s.debates.get(chosen)
        if record is not None and record.status == "queued":
            self._s.debates[chosen] = replace(record, status="running", updated_at=now)
        return Lease(chosen, owner, job.epoch, job.expires_at)

    async def renew(self, lease: Lease, ttl: float) -> Lease:
        _check_ttl(ttl)
        job = self._held(lease)
        job.expires_at = self._now() + timedelta(seconds=ttl)
        return replace(lease, expires_at=job.expires_at)

    async def release(self, lease: Lease, *, requeue: bool = False) -> None:
        job = self._held(lease, finished_too=True)
        if job.state != "done":
            job.state = "queued" if requeue else "done"
        job.owner, job.expires_at = None, None

    async def position(self, debate_id: str) -> int | None:
        job = self._s.jobs.get(debate_id)
        if job is None or job.state != "queued":
            return None
        return _position(self._s.jobs, debate_id, job)

    async def current(self, debate_id: str) -> Lease | None:
        job = self._s.jobs.get(debate_id)
        if job is None or job.state != "running" or job.expires_at is None:
            return None
        if job.expires_at <= self._now():
            return None
        return Lease(debate_id, job.owner or "", job.epoch, job.expires_at)

    def _held(self, lease: Lease, *, finished_too: bool = False) -> _Job:
        job = self._s.jobs.get(lease.debate_id)
        states = ("running", "done") if finished_too else ("running",)
        if job is None or job.state not in states or job.epoch != lease.epoch:
            raise StaleLeaseError(f"debate {lease.debate_id}: lease epoch {lease.epoch} lost")
        return job


def _position(jobs: Mapping[str, _Job], debate_id: str, job: _Job) -> int:
    """Where the queued ``job`` stands: 1 + the queued jobs claimed before it."""
    mine = (-job.priority, job.enqueued_at, debate_id)
    return 1 + sum(
        1
        for other_id, other in jobs.items()
        if other.state == "queued" and (-other.priority, other.enqueued_at, other_id) < mine
    )


def _check_ttl(ttl: float) -> None:
    if not ttl > 0:
        raise InvalidInputError(f"lease ttl must be positive, got {ttl}")


class _MemoryTokens:
    def __init__(self, state: _State, now: Now) -> None:
        self._s = state
        self._now = now

    async def create(self, *, name: str, role: str, secret: str) -> ApiToken:
        name = check_token_name(name)
        if not secret:
            raise InvalidInputError("a token needs a non-empty secret")
        check_role(role)
        hashed = hash_secret(secret)
        if any(stored == hashed for _, stored in self._s.tokens.values()):
            raise ConflictError("a token with this secret already exists")
        token = ApiToken(new_token_id(), name.strip(), role, self._now())
        self._s.tokens[token.id] = (token, hashed)
        return token

    async def authenticate(self, secret: str) -> ApiToken | None:
        hashed = hash_secret(secret)
        for token_id, (token, stored) in self._s.tokens.items():
            if stored == hashed and not token.revoked:
                used = replace(token, last_used_at=self._now())
                self._s.tokens[token_id] = (used, stored)
                return used
        return None

    async def list(self) -> list[ApiToken]:
        return sorted((t for t, _ in self._s.tokens.values()), key=lambda t: (t.created_at, t.id))

    async def revoke(self, token_id: str) -> ApiToken:
        if token_id not in self._s.tokens:
            raise NotFoundError(f"token {token_id} not found")
        token, stored = self._s.tokens[token_id]
        if not token.revoked:
            token = replace(token, revoked_at=self._now())
            self._s.tokens[token_id] = (token, stored)
        return token


class _MemorySettings:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def get(self, key: str) -> Any | None:
        value = self._s.settings.get(key)
        return None if value is None else _json(value)

    async def set(self, key: str, value: Any) -> None:
        if value is None:
            raise InvalidInputError("a setting's value must not be null; delete it instead")
        self._s.settings[key] = _json(value)

    async def delete(self, key: str) -> None:
        self._s.settings.pop(key, None)


class _MemoryRatings:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def get(self, keys: Sequence[RatingKey]) -> dict[RatingKey, Rating]:
        return {k: self._s.ratings[k] for k in keys if k in self._s.ratings}

    async def put(self, ratings: Sequence[Rating]) -> None:
        for rating in ratings:
            check_rating(rating)
        for rating in ratings:
            self._s.ratings[rating.key] = rating

    async def leaderboard(self, *, limit: int = 100) -> list[Rating]:
        if limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        order = sorted(self._s.ratings.values(), key=lambda r: (-r.elo, r.agent, *r.key[:2]))
        return order[:limit]

    async def record(
        self,
        debate_id: str,
        keys: Sequence[RatingKey],
        rate: Callable[[Mapping[RatingKey, Rating]], Sequence[Rating]],
    ) -> bool:
        for provider, model, agent in keys:
            check_rating(Rating(agent, provider=provider, model=model))
        # No await between the check and the write: atomic on the event loop.
        if debate_id in self._s.rated:
            return False
        current = {k: self._s.ratings[k] for k in keys if k in self._s.ratings}
        updated = list(rate(current))
        for rating in updated:
            check_rating(rating)
        for rating in updated:
            self._s.ratings[rating.key] = rating
        self._s.rated.add(debate_id)
        return True


class _MemoryReceipts:
    def __init__(self, state: _State, now: Now) -> None:
        self._s = state
        self._now = now

    async def append(self, receipt: NewReceipt) -> StoredReceipt:
        chain = self._s.receipts
        head_digest = chain[-1].digest if chain else None
        if receipt.previous_digest != head_digest:
            raise ConflictError(
                f"receipt {receipt.id}: previous digest {receipt.previous_digest!r} is not "
                f"the chain head {head_digest!r}"
            )
        if any(r.id == receipt.id or r.digest == receipt.digest for r in chain):
            raise ConflictError(
                f"receipt {receipt.id}: the chain moved on, or the id or digest exists"
            )
        stored = StoredReceipt(
            position=len(chain) + 1,
            id=receipt.id,
            debate_id=receipt.debate_id,
            digest=receipt.digest,
            previous_digest=receipt.previous_digest,
            document=_json(dict(receipt.document)),
            created_at=self._now(),
        )
        chain.append(stored)
        return stored

    async def get(self, receipt_id: str) -> StoredReceipt:
        for receipt in self._s.receipts:
            if receipt.id == receipt_id:
                return replace(receipt, document=_json(receipt.document))
        raise NotFoundError(f"receipt {receipt_id} not found")

    async def for_debate(self, debate_id: str) -> list[StoredReceipt]:
        return [
            replace(r, document=_json(r.document))
            for r in self._s.receipts
            if r.debate_id == debate_id
        ]

    async def head(self) -> StoredReceipt | None:
        return self._s.receipts[-1] if self._s.receipts else None

    async def chain(self, *, after: int = 0, limit: int = 100) -> list[StoredReceipt]:
        check_page(limit, 0)
        return [
            replace(r, document=_json(r.document)) for r in self._s.receipts if r.position > after
        ][:limit]


async def _nothing() -> None:
    return None


def memory_storage(*, now: Now) -> Storage:
    """A fresh, empty in-process store; ``now`` stamps records and times leases."""
    state = _State()
    knowledge, knowledge_index = memory_knowledge()
    return Storage(
        debates=_MemoryDebates(state, now),
        events=_MemoryEvents(state, now),
        leases=_MemoryLeases(state, now),
        tokens=_MemoryTokens(state, now),
        settings=_MemorySettings(state),
        ratings=_MemoryRatings(state),
        receipts=_MemoryReceipts(state, now),
        knowledge=knowledge,
        knowledge_index=knowledge_index,
        webhooks=MemoryWebhooks(state.webhooks, now),
        outbox=MemoryOutbox(state.webhooks, now),
        ping=_nothing,
        close=_nothing,
    )
