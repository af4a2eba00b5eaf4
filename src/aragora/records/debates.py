"""What Aragora stores, as records and small Protocols: the runtime, knowledge and receipts
import these, never storage itself (the ``layers`` import contract enforces it).

Two implementations satisfy every Protocol here with the same observable behaviour, and
one contract test suite (``tests/storage/test_contract.py``) holds them to it:
``aragora.storage.memory.storage`` (the in-process fake) and the SQL repositories
(``aragora.storage.sql``, one code path for SQLite and PostgreSQL).

Errors: :class:`~aragora.errors.NotFoundError` for a missing record,
:class:`~aragora.errors.ConflictError` for a write that contradicts the stored state,
:class:`~aragora.errors.StaleLeaseError` for a fenced-off writer,
:class:`~aragora.errors.InvalidInputError` for a bad value, and
:class:`~aragora.errors.DatabaseUnavailableError` when the database cannot be reached.

Reads marked *replica* may be served by ``ARAGORA_DATABASE_READ_URL`` and so may lag the
primary by the replication delay; pass ``primary=True`` where a read must see every write
(crash recovery folds the log from the primary).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aragora.debate.events import Event
from aragora.debate.model import (
    MAX_AGENT_NAME_CHARS,
    MAX_MODEL_CHARS,
    MAX_PROVIDER_CHARS,
    check_name,
    check_storable,
)
from aragora.errors import InvalidInputError
from aragora.records.knowledge import KnowledgeIndex, KnowledgeRepository
from aragora.records.webhooks import (
    WEBHOOK_EVENTS,
    WEBHOOK_FORMATS,
    ClaimedDelivery,
    Delivery,
    DeliveryAttempt,
    NewWebhook,
    OutboxEvent,
    OutboxRepository,
    Outcome,
    Webhook,
    WebhookRepository,
    check_new_webhook,
    new_webhook_id,
)

__all__ = [
    "DEBATE_STATUSES",
    "MAX_TOKEN_NAME",
    "ROLES",
    "TERMINAL_STATUSES",
    "WEBHOOK_EVENTS",
    "WEBHOOK_FORMATS",
    "ApiToken",
    "Claimant",
    "ClaimedDelivery",
    "CreatedDebate",
    "DebateOutcome",
    "DebatePage",
    "DebateRecord",
    "DebateRepository",
    "Delivery",
    "DeliveryAttempt",
    "EventRepository",
    "FencedEventSink",
    "Lease",
    "LeaseRepository",
    "NewDebate",
    "NewReceipt",
    "NewWebhook",
    "OutboxEvent",
    "OutboxRepository",
    "Outcome",
    "Rating",
    "RatingKey",
    "RatingRepository",
    "ReceiptRepository",
    "SettingsRepository",
    "Storage",
    "StoredReceipt",
    "TokenRepository",
    "Webhook",
    "WebhookRepository",
    "check_batch",
    "check_event",
    "check_new_debate",
    "check_new_webhook",
    "check_page",
    "check_rating",
    "check_role",
    "check_status",
    "check_token_name",
    "hash_secret",
    "new_token_id",
    "new_webhook_id",
]

DEBATE_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
ROLES = ("admin", "operator", "viewer")
MAX_PAGE = 1000


# --- records --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NewDebate:
    """A debate to create: ``request`` is the accepted request (agents, protocol, context,
    metadata) a worker needs to start it; ``priority`` orders the queue."""

    id: str
    task: str
    request: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    """Queued debates with a higher priority are claimed first; equal ones in order."""


@dataclass(frozen=True, slots=True)
class DebateRecord:
    """One row of ``debates``. ``document`` is the cached debate document (``None`` until
    the runtime stores one, and in list pages, which leave it out to stay small)."""

    id: str
    status: str
    task: str
    request: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    document: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CreatedDebate:
    """What :meth:`DebateRepository.create` returns: the stored debate and where it stood
    in the queue when it was accepted (1 is claimed next), counted in the transaction that
    queued it, so that accepting a debate takes one write and no read after it."""

    record: DebateRecord
    queue_position: int
    """At least 1: the queued debates claimed before it, as :meth:`LeaseRepository.position`
    counts them, plus one."""
    lease: Lease | None = None
    """The lease of the worker that took the debate as it was queued (see
    :class:`Claimant`); ``None`` when it waits in the queue."""


@dataclass(frozen=True, slots=True)
class Claimant:
    """A worker with a free slot, offered a new debate in the write that queues it: it
    takes the debate there and then when nothing would be claimed before it, which saves
    the debate's start a claim of its own (a second write, and a wait for the worker to
    look). ``ttl`` is the lease's length in seconds."""

    owner: str
    ttl: float


@dataclass(frozen=True, slots=True)
class DebatePage:
    """One page of the debate list, newest first, and the size of the whole list."""

    items: tuple[DebateRecord, ...]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        """Whether rows exist after this page."""
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on one debate. ``epoch`` rises by one with every claim; appends
    carrying an older epoch are refused."""

    debate_id: str
    owner: str
    epoch: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token as stored: never the secret, only what describes it."""

    id: str
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


RatingKey = tuple[str, str, str]
"""Whose rating: (provider, model, agent name). The same name under two models is two
entries; ``("", "", name)`` is a rating from before ratings knew their model (migration
0005 could not tell which model that name had played)."""


@dataclass(frozen=True, slots=True)
class Rating:
    """An agent's ELO rating and record, kept per (provider, model, name)."""

    agent: str
    elo: float = 1500.0
    wins: int = 0
    losses: int = 0
    draws: int = 0
    debates: int = 0
    provider: str = ""
    model: str = ""

    @property
    def key(self) -> RatingKey:
        """(provider, model, agent): what identifies this rating."""
        return (self.provider, self.model, self.agent)


@dataclass(frozen=True, slots=True)
class NewReceipt:
    """A signed receipt to add to the chain: ``previous_digest`` must be the digest of the
    chain's current head (``None`` for the first receipt)."""

    id: str
    debate_id: str
    digest: str
    previous_digest: str | None
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """A receipt in the chain; ``position`` is 1, 2, 3 ... in issue order."""

    position: int
    id: str
    debate_id: str
    digest: str
    previous_digest: str | None
    document: Mapping[str, Any]
    created_at: datetime


# --- Protocols ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DebateOutcome:
    """What :meth:`DebateRepository.update` stores when a debate ends: its status and
    document, the webhook events reporting it, and whether follow-ups are still owed (the
    job then stays held)."""

    status: str
    document: Mapping[str, Any]
    outbox: Sequence[OutboxEvent] = ()
    followups: bool = False


class EventRepository(Protocol):
    """Each debate's append-only event log."""

    async def append(self, event: Event, *, epoch: int) -> None:
        """Store ``event`` durably, or nothing at all.

        Raises :class:`StaleLeaseError` unless ``epoch`` is the debate's current lease
        epoch and the lease is held, and :class:`ConflictError` unless ``event.seq`` is
        exactly one more than the last stored seq (so the log stays contiguous whatever
        concurrent writers do)."""
        ...

    async def append_many(self, events: Sequence[Event], *, epoch: int) -> None:
        """Store consecutive ``events`` of one debate durably in one transaction, or none
        of them; the same checks as :meth:`append` (:class:`InvalidInputError` when they
        are not consecutive events of one debate)."""
        ...

    async def append_and_finish(
        self, events: Sequence[Event], *, epoch: int, outcome: DebateOutcome
    ) -> None:
        """:meth:`append_many`, and in the same transaction the debate's ``outcome`` stored
        as :meth:`DebateRepository.update` stores it: the end of a debate and its status
        become visible together, or neither does."""
        ...

    async def read(
        self, debate_id: str, *, since: int = 0, limit: int | None = None, primary: bool = False
    ) -> list[Event]:
        """Events with ``seq > since`` in seq order, at most ``limit`` (replica read)."""
        ...

    async def last_seq(self, debate_id: str) -> int:
        """The highest stored seq of the debate, 0 when it has none (primary read)."""
        ...


class DebateRepository(Protocol):
    """Debates: their status, the accepted request and the cached document."""

    async def create(self, debate: NewDebate, *, claimant: Claimant | None = None) -> CreatedDebate:
        """Insert a ``queued`` debate and its queue job, and say where it stands in the
        queue as it goes in (the same count as :meth:`LeaseRepository.position`, in the
        same transaction); :class:`ConflictError` if the id exists. With ``claimant``, when
        a claim now would take this debate (no lease has expired and no queued debate comes
        before it), the same write leases it to the claimant instead, as
        :meth:`LeaseRepository.claim` would: its job ``running`` at epoch 1, the debate
        ``running``, position 1, and the lease returned."""
        ...

    async def get(self, debate_id: str, *, primary: bool = False) -> DebateRecord:
        """The debate with its cached document (replica read); :class:`NotFoundError`."""
        ...

    async def list(
        self,
        *,
        status: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DebatePage:
        """Debates newest first, optionally only one ``status`` and only tasks containing
        ``query`` (case-insensitive); documents are left out (replica read)."""
        ...

    async def update(
        self,
        debate_id: str,
        *,
        status: str,
        document: Mapping[str, Any] | None = None,
        outbox: Sequence[OutboxEvent] = (),
        followups: bool = False,
    ) -> None:
        """Set the status and, if given, the cached document. A terminal status also takes
        the debate off the queue, unless ``followups``: then its job stays held (and is
        claimed again if its worker dies) until the follow-ups of a finished debate
        (receipt, knowledge, ratings) are stored by a later update without it. In the same
        transaction, each of ``outbox`` is put in the webhook outbox for every webhook
        subscribed to it (see ``WebhookRepository.enqueue``), so what a debate's end
        reports is stored exactly when the end is; only when ``status`` differs from the
        stored one (a debate finished again after a crash is not reported twice).
        :class:`NotFoundError` if it does not exist."""
        ...

    async def counts(self) -> dict[str, int]:
        """Number of debates per status, every status present (replica read)."""
        ...


class LeaseRepository(Protocol):
    """The queue of debates to run and the leases that fence their writers."""

    async def claim(self, owner: str, ttl: float, *, debate_id: str | None = None) -> Lease | None:
        """Claim a debate whose lease expired (its worker died; these come first), else the
        queued debate of highest priority (oldest first among equals), for ``ttl`` seconds,
        raising its epoch, and mark a ``queued`` debate ``running`` in the same write;
        ``None`` when there is nothing to claim. Concurrent claimers
        never get the same debate. With ``debate_id``, only that debate is claimed (when it
        is queued or its lease expired): a process that runs only its own debates (the
        ``aragora debate`` command) never takes another's."""
        ...

    async def renew(self, lease: Lease, ttl: float) -> Lease:
        """Extend a held lease; :class:`StaleLeaseError` if it is no longer current."""
        ...

    async def release(self, lease: Lease, *, requeue: bool = False) -> None:
        """Give the debate up: done, or back on the queue with ``requeue``; a debate
        already given a terminal status stays done. :class:`StaleLeaseError` if the lease
        is no longer current."""
        ...

    async def position(self, debate_id: str) -> int | None:
        """Where a queued debate stands in the queue (1 is claimed next), counting every
        queued debate claimed before it (higher priority, or equal and queued earlier);
        ``None`` when it is not queued (running, finished, or unknown)."""
        ...

    async def current(self, debate_id: str) -> Lease | None:
        """The live lease of a running debate, held by a worker that keeps it alive; ``None``
        when the debate is queued (or back on the queue), done or unknown, or its lease has
        expired (the worker died or stopped renewing: the debate awaits resumption)
        (primary read)."""
        ...


class TokenRepository(Protocol):
    """API tokens; secrets are stored only as SHA-256 hashes."""

    async def create(self, *, name: str, role: str, secret: str) -> ApiToken:
        """Store a token for ``secret`` (kept only hashed); :class:`InvalidInputError` for
        an unknown role or a blank name or secret."""
        ...

    async def authenticate(self, secret: str) -> ApiToken | None:
        """The unrevoked token whose secret this is, with its last use recorded; else
        ``None``."""
        ...

    async def list(self) -> list[ApiToken]:
        """Every token, revoked ones included, oldest first."""
        ...

    async def revoke(self, token_id: str) -> ApiToken:
        """Revoke the token (idempotent); :class:`NotFoundError` if it does not exist."""
        ...


class SettingsRepository(Protocol):
    """Operational settings shared by replicas, such as the maintenance flag."""

    async def get(self, key: str) -> Any | None:
        """The JSON value stored under ``key``, or ``None``."""
        ...

    async def set(self, key: str, value: Any) -> None:
        """Store a JSON-ready ``value`` under ``key``, replacing any earlier one."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ...


class RatingRepository(Protocol):
    """Agents' ELO ratings, one per :data:`RatingKey` (provider, model, name)."""

    async def get(self, keys: Sequence[RatingKey]) -> dict[RatingKey, Rating]:
        """The stored ratings of those keys that have one."""
        ...

    async def put(self, ratings: Sequence[Rating]) -> None:
        """Insert or replace these ratings, all or none (last writer wins);
        :class:`InvalidInputError` for a name, provider or model that does not fit."""
        ...

    async def leaderboard(self, *, limit: int = 100) -> list[Rating]:
        """Ratings by ELO, highest first (ties by agent name, then provider and model)."""
        ...

    async def record(
        self,
        debate_id: str,
        keys: Sequence[RatingKey],
        rate: Callable[[Mapping[RatingKey, Rating]], Sequence[Rating]],
    ) -> bool:
        """Rate one finished debate exactly once: in one transaction, unless ``debate_id``
        was rated before, read the ratings of ``keys`` (held against concurrent raters
        until the end), store ``rate(current)`` and remember the debate. Whether it rated;
        ``False`` means it had been rated already and nothing changed."""
        ...


class ReceiptRepository(Protocol):
    """Signed receipts, hash-chained in issue order."""

    async def append(self, receipt: NewReceipt) -> StoredReceipt:
        """Add ``receipt`` as the new head; :class:`ConflictError` if its
        ``previous_digest`` is not the current head's digest or its id exists."""
        ...

    async def get(self, receipt_id: str) -> StoredReceipt:
        """The receipt; :class:`NotFoundError` if it does not exist."""
        ...

    async def for_debate(self, debate_id: str) -> list[StoredReceipt]:
        """The debate's receipts in chain order."""
        ...

    async def head(self) -> StoredReceipt | None:
        """The newest receipt of the chain, or ``None`` when it is empty."""
        ...

    async def chain(self, *, after: int = 0, limit: int = 100) -> list[StoredReceipt]:
        """Receipts with ``position > after`` in chain order, at most ``limit`` (1..1000;
        :class:`InvalidInputError` otherwise)."""
        ...


@dataclass(frozen=True, slots=True)
class Storage:
    """Every repository of one store, plus its health check and shutdown."""

    debates: DebateRepository
    events: EventRepository
    leases: LeaseRepository
    tokens: TokenRepository
    settings: SettingsRepository
    ratings: RatingRepository
    receipts: ReceiptRepository
    knowledge: KnowledgeRepository
    """The Knowledge Mound's items and links (see ``aragora.records.knowledge``)."""
    knowledge_index: KnowledgeIndex
    """Full-text search over the Knowledge Mound and its streaming scans."""
    webhooks: WebhookRepository
    """Registered webhooks and their deliveries (see ``aragora.records.webhooks``)."""
    outbox: OutboxRepository
    """The webhook senders' claims and attempts."""
    ping: Callable[[], Awaitable[None]]
    """Raises :class:`DatabaseUnavailableError` unless the primary answers."""
    close: Callable[[], Awaitable[None]]
    """Releases connections; the repositories must not be used afterwards."""


class FencedEventSink:
    """The engine's ``EventSink`` for a worker holding a lease: every append carries the
    lease's epoch, so a worker that lost its lease gets :class:`StaleLeaseError`."""

    def __init__(self, events: EventRepository, epoch: int) -> None:
        self._events = events
        self._epoch = epoch

    async def append(self, event: Event) -> None:
        """Append ``event`` fenced by this sink's epoch."""
        await self._events.append(event, epoch=self._epoch)

    async def append_many(self, events: Sequence[Event]) -> None:
        """Append consecutive ``events`` in one write, fenced by this sink's epoch."""
        await self._events.append_many(events, epoch=self._epoch)

    async def append_and_finish(self, events: Sequence[Event], outcome: DebateOutcome) -> None:
        """Append the debate's last ``events`` and store its ``outcome`` in one write,
        fenced by this sink's epoch."""
        await self._events.append_and_finish(events, epoch=self._epoch, outcome=outcome)


# --- shared rules ---------------------------------------------------------------------------
def hash_secret(secret: str) -> str:
    """The stored form of a token secret: hex SHA-256. Secrets are long random strings,
    so a fast hash is enough (no dictionary to guess from) and allows an indexed lookup."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token_id() -> str:
    """A short public identifier for a token (shown by ``tokens list``, used to revoke)."""
    return "tok_" + secrets.token_hex(8)


def check_event(event: Event) -> Event:
    """``event`` if its columns fit every backend (the agent's name within
    ``MAX_AGENT_NAME_CHARS``, one line); else :class:`InvalidInputError`. SQLite would store
    a longer name that PostgreSQL refuses, so both stores check it alike."""
    if event.agent is not None:
        check_name(
            event.agent, f"debate {event.debate_id}: agent name", max_chars=MAX_AGENT_NAME_CHARS
        )
    return event


def check_batch(events: Sequence[Event]) -> list[Event]:
    """``events`` as a list if they are one or more consecutive events of one debate, each
    with a seq of 1 or more and columns every backend stores; else
    :class:`InvalidInputError`."""
    batch = list(events)
    if not batch:
        raise InvalidInputError("an append needs at least one event")
    first = batch[0]
    for n, event in enumerate(batch):
        if event.seq is None or event.seq < 1:
            raise InvalidInputError(f"only events with a seq of 1 or more are stored: {event}")
        if event.debate_id != first.debate_id or event.seq != (first.seq or 0) + n:
            raise InvalidInputError(
                f"debate {first.debate_id}: events appended together must be consecutive "
                f"events of one debate (got {event.debate_id} seq {event.seq} at {n})"
            )
        check_event(event)
    return batch


def check_new_debate(debate: NewDebate) -> NewDebate:
    """``debate`` if it has an id and a task every backend can store; else
    :class:`InvalidInputError`."""
    if not debate.id or not debate.task.strip():
        raise InvalidInputError("a debate needs an id and a non-empty task")
    check_storable(debate.task, "task")
    return debate


def check_rating(rating: Rating) -> Rating:
    """``rating`` if its name, provider and model fit their columns; else
    :class:`InvalidInputError`."""
    check_name(rating.agent, "a rated agent's name", max_chars=MAX_AGENT_NAME_CHARS)
    check_name(rating.provider, "a rated agent's provider", max_chars=MAX_PROVIDER_CHARS)
    check_name(rating.model, "a rated agent's model", max_chars=MAX_MODEL_CHARS)
    if not rating.agent:
        raise InvalidInputError("a rating needs an agent name")
    return rating


def check_status(status: str) -> str:
    """``status`` if it is a debate status; else :class:`InvalidInputError`."""
    if status not in DEBATE_STATUSES:
        raise InvalidInputError(
            f"unknown debate status {status!r} (expected one of {', '.join(DEBATE_STATUSES)})"
        )
    return status


MAX_TOKEN_NAME = 200
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def check_token_name(name: str) -> str:
    """``name`` without surrounding blanks, if it can name a token: 1..200 characters and
    no control, format or line-separator character (a newline would forge a line of
    ``tokens list``, a bidi override would disguise the name); else
    :class:`InvalidInputError`."""
    stripped = name.strip()
    if not stripped:
        raise InvalidInputError("a token name must not be blank")
    if len(stripped) > MAX_TOKEN_NAME:
        raise InvalidInputError(f"a token name has at most {MAX_TOKEN_NAME} characters")
    for char in stripped:
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            raise InvalidInputError(
                f"a token name must not contain control characters (found U+{ord(char):04X})"
            )
    return stripped


def check_role(role: str) -> str:
    """``role`` if it is a token role; else :class:`InvalidInputError`."""
    if role not in ROLES:
        raise InvalidInputError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    return role


def check_page(limit: int, offset: int) -> None:
    """Refuse a page size outside 1..1000 or a negative offset."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    if offset < 0:
        raise InvalidInputError(f"offset must not be negative, got {offset}")
