"""The composition root: settings in, concrete objects out. Nothing else builds them."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aragora.agents.demo.sim import AnswerKey
from aragora.agents.egress import EgressGuard, guarded_client
from aragora.agents.endpoints import canonical_endpoint
from aragora.agents.providers import (
    DEFAULT_LIMITS,
    KEY_VARIABLES,
    LOCAL_LIMITS,
    LimitPolicy,
    ProviderConfig,
    ProviderHub,
)
from aragora.agents.registry import AgentRegistry, default_registry
from aragora.agents.resilience.calllog import CallLog, logs_calls
from aragora.agents.resilience.wrappers import RetryPolicy
from aragora.agents.status import agent_statuses
from aragora.agents.tokens import estimate_text_tokens
from aragora.debate.convergence import lexical_similarity
from aragora.debate.engine import DebateEngine, TokenPublisher
from aragora.debate.model import Participant
from aragora.debate.ports import LLM, EventSink, SystemClock
from aragora.debate.prompting import PromptBook
from aragora.knowledge import ConflictCheck, KnowledgeIngest, KnowledgeService, PastDecisions
from aragora.receipts.service import ReceiptService
from aragora.receipts.signing import SigningKey, ensure_signing_key
from aragora.records.debates import Lease, LeaseRepository, Storage
from aragora.runtime.bus import EventBus, LocalBus
from aragora.runtime.debate_request import RequestDefaults
from aragora.runtime.health import HealthMonitor
from aragora.runtime.local import LocalDebates
from aragora.runtime.loop_lag import LoopLag
from aragora.runtime.node import Background, DrainFlag, Node
from aragora.runtime.ports import ContextSource, EndCheck, Finisher
from aragora.runtime.runner import DebateRunner, EventObserver
from aragora.runtime.service import DebateService
from aragora.runtime.webhook_sender import DeliveryPolicy, OutcomeObserver, WebhookSender
from aragora.runtime.webhooks import WebhookService
from aragora.runtime.workers import WorkerPool
from aragora.settings import Settings
from aragora.storage.sql.database import Database, PoolOptions
from aragora.storage.sql.storage import sql_storage

if TYPE_CHECKING:
    from aragora.agents.resilience.shared_limits import RedisBuckets
    from aragora.runtime.redis_bus import RedisBus

__all__ = [
    "Services",
    "build_database",
    "build_engine",
    "build_knowledge",
    "build_panel",
    "build_provider_hub",
    "build_receipts",
    "build_registry",
    "build_storage",
    "build_webhook_sender",
    "build_webhooks",
    "open_node",
    "provider_config",
]


@dataclass(frozen=True, slots=True)
class Services:
    """The sub-services the faces reach through a node (``node.services``) besides its
    debate service."""

    knowledge: KnowledgeService
    receipts: ReceiptService
    webhooks: WebhookService


def provider_config(settings: Settings) -> ProviderConfig:
    """The providers' configuration: keys, endpoints, timeouts, limits and fallback.

    A call may take ``ARAGORA_AGENT_TIMEOUT`` once sent (retries included), after waiting
    at most ``ARAGORA_AGENT_QUEUE_TIMEOUT`` for a slot of its endpoint; a server that is
    not there is retried for ``ARAGORA_AGENT_CONNECT_RETRY``. With OpenRouter fallback on,
    the provider asked first gets half of the call's time before the call moves on, so the
    fallback still has time inside it. ``ARAGORA_AGENT_LIMITS`` sets the slots and start
    rates per provider or endpoint URL (fixed ceilings for the adaptation), over each
    provider's own defaults (``DEFAULT_LIMITS``); parts of an entry left out keep the
    ``default`` entry's, else that provider's defaults."""
    keys = {
        provider: secret.get_secret_value()
        for provider in KEY_VARIABLES
        if (secret := getattr(settings, f"{provider}_api_key")) is not None
    }
    fallback = settings.effective_openrouter_fallback
    overrides = dict(settings.agent_limits)
    given = overrides.pop("default", None)
    default = None if given is None else _limit_policy(LOCAL_LIMITS, given)
    own_urls = {
        canonical_endpoint(url): provider
        for provider, url in (
            ("anthropic", settings.anthropic_base_url),
            ("openai", settings.openai_base_url),
            ("openrouter", settings.openrouter_base_url),
            ("gemini", settings.gemini_base_url),
        )
    }

    def base(key: str) -> LimitPolicy:
        if default is not None:
            return default
        provider = own_urls.get(canonical_endpoint(key), "") if "://" in key else key
        return DEFAULT_LIMITS.get(provider, LOCAL_LIMITS)

    return ProviderConfig(
        api_keys=keys,
        anthropic_base_url=settings.anthropic_base_url,
        openai_base_url=settings.openai_base_url,
        openrouter_base_url=settings.openrouter_base_url,
        gemini_base_url=settings.gemini_base_url,
        ollama_host=settings.ollama_host,
        call_timeout=settings.agent_timeout,
        queue_timeout=settings.agent_queue_timeout,
        stall_timeout=min(60.0, settings.agent_timeout),
        openrouter_fallback=fallback,
        fallback_hop_timeout=settings.agent_timeout / 2 if fallback else None,
        openrouter_models_file=settings.openrouter_models_file,
        retry=RetryPolicy(connect_retry=settings.agent_connect_retry),
        limits=default,
        endpoint_limits={key: _limit_policy(base(key), parts) for key, parts in overrides.items()},
    )


def _limit_policy(
    base: LimitPolicy, parts: tuple[int, float | None, int | None] | None
) -> LimitPolicy:
    """``base`` with the parts of one ``ARAGORA_AGENT_LIMITS`` entry that were given
    (a rate of 0 means no start-rate limit). A rate the entry gives is a fixed ceiling: the
    operator's word, which a provider's stated limit may lower but never raise."""
    if parts is None:
        return base
    concurrency, rate, burst = parts
    if rate is None:
        return LimitPolicy(
            max_concurrency=concurrency,
            rate=base.rate,
            burst=base.burst if burst is None else burst,
            max_rate=base.max_rate,
            fixed=base.fixed,
        )
    return LimitPolicy(
        max_concurrency=concurrency,
        rate=rate or None,
        burst=base.burst if burst is None else burst,
        fixed=True,
    )


def build_provider_hub(settings: Settings) -> ProviderHub:
    """The network providers' shared clients, limits and breakers for this process, with
    start rates shared by every replica through ``ARAGORA_REDIS_URL`` when it is set.
    The caller owns it: ``async with build_provider_hub(settings) as hub: ...``."""
    return ProviderHub(provider_config(settings), buckets=_shared_rate_buckets(settings))


def _shared_rate_buckets(settings: Settings) -> RedisBuckets | None:
    if settings.redis_url is None:
        return None
    # Imported here: a process without Redis (every `aragora` command on a laptop) does
    # not pay for loading the client.
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from aragora.agents.resilience.shared_limits import RedisBuckets

    # Fail fast (the buckets fall back to local ones on any trouble), retrying once at
    # once so a pooled connection that went stale is not taken for an outage.
    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 1),
    )
    return RedisBuckets(client, timeout=0.5, retry_interval=1.0)


def build_registry(
    settings: Settings, hub: ProviderHub, *, answer_key: AnswerKey | None = None
) -> AgentRegistry:
    """Every provider: the offline ``demo`` and ``sim`` agents (``sim`` answering from
    ``answer_key``, which only an evaluation supplies) and the network ones of ``hub``,
    with the operator's allowed endpoints for untrusted specs."""
    registry = default_registry(
        demo_delay=settings.demo_delay,
        allowed_endpoints=settings.agent_endpoints,
        answer_key=answer_key,
    )
    hub.register(registry)
    return registry


def build_panel(
    specs: Sequence[str],
    settings: Settings,
    *,
    seed: int = 0,
    trusted: bool = False,
    hub: ProviderHub | None = None,
) -> list[tuple[Participant, LLM]]:
    """The panel for ``specs``: unique participant names and one LLM each.

    ``trusted`` says the specs come from the operator (CLI, environment), so they may name
    any endpoint; specs from an API request (``trusted=False``) may name only endpoints in
    ``ARAGORA_AGENT_ENDPOINTS``. Pass the process's ``hub`` so agents share connections,
    limits and breakers (and close it when done); without one a new hub is built, whose
    connections are closed only when the process exits."""
    registry = build_registry(settings, hub or build_provider_hub(settings))
    return registry.build_panel(specs, seed=seed, trusted=trusted)


def build_engine(
    settings: Settings, *, sink: EventSink, publish_token: TokenPublisher | None = None
) -> DebateEngine:
    """A debate engine writing to ``sink`` with the shipped prompts and lexical similarity,
    waiting ``ARAGORA_AGENT_WAIT`` seconds for a panel that is entirely down."""
    return DebateEngine(
        sink=sink,
        clock=SystemClock(),
        similarity=lexical_similarity,
        prompts=PromptBook.default(),
        publish_token=publish_token,
        agent_wait=settings.agent_wait,
    )


def build_database(settings: Settings, *, for_migrations: bool = False) -> Database:
    """The database of ``ARAGORA_DATABASE_URL`` (default: SQLite in the data dir) with the
    configured pool, PgBouncer mode and read replica. ``for_migrations``: one connection
    and no statement timeout, since schema changes may run long."""
    options = PoolOptions(
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pgbouncer=settings.db_pgbouncer,
    )
    if for_migrations:
        options = PoolOptions(
            pool_size=1, max_overflow=0, command_timeout=None, pgbouncer=settings.db_pgbouncer
        )
    return Database(
        settings.effective_database_url,
        read_url=None if for_migrations else settings.database_read_url,
        options=options,
    )


def build_receipts(
    settings: Settings, storage: Storage, *, key: SigningKey | None = None
) -> ReceiptService:
    """Receipts signed with ``key``, by default the one of
    ``ARAGORA_RECEIPT_SIGNING_KEY_FILE``, else the key generated into the data dir
    (mode 0600) on the first start; issued as ``ARAGORA_RECEIPT_ISSUER``."""
    if key is None:
        key = ensure_signing_key(settings.receipt_signing_key_file, settings.data_dir)
    return ReceiptService(
        receipts=storage.receipts,
        settings=storage.settings,
        key=key,
        issuer=settings.receipt_issuer,
    )


def build_knowledge(storage: Storage) -> KnowledgeService:
    """The Knowledge Mound's service (search, notes, export, import) on ``storage``."""
    return KnowledgeService(storage.knowledge, storage.knowledge_index)


def build_webhooks(settings: Settings, storage: Storage) -> WebhookService:
    """Webhook registration on ``storage``, targets checked against
    ``ARAGORA_WEBHOOK_ENDPOINTS`` and the public-address rule."""
    return WebhookService(storage.webhooks, EgressGuard(settings.webhook_endpoints))


def build_webhook_sender(
    settings: Settings,
    storage: Storage,
    *,
    owner: str,
    observers: Sequence[OutcomeObserver] = (),
    policy: DeliveryPolicy | None = None,
) -> WebhookSender:
    """The sender of the webhook outbox for one replica (``owner`` names its claims):
    ``ARAGORA_WEBHOOK_MAX_ATTEMPTS`` tries of ``ARAGORA_WEBHOOK_TIMEOUT`` seconds each."""
    if policy is None:
        policy = DeliveryPolicy(
            max_attempts=settings.webhook_max_attempts, timeout=settings.webhook_timeout
        )
    guard = EgressGuard(settings.webhook_endpoints)
    return WebhookSender(
        outbox=storage.outbox,
        client=guarded_client(guard),
        guard=guard,
        owner=owner,
        policy=policy,
        observers=observers,
    )


def build_storage(database: Database) -> Storage:
    """Every repository on ``database`` (check its schema first with
    ``aragora.migrations.runner.ensure_schema``)."""
    return sql_storage(database)


async def open_node(
    settings: Settings,
    *,
    check_schema: Callable[[Database], Awaitable[object]] | None = None,
    storage: Storage | None = None,
    context_sources: Sequence[ContextSource] = (),
    end_checks: Sequence[EndCheck] = (),
    finishers: Sequence[Finisher] = (),
    own_debates: AbstractSet[str] | None = None,
    answer_key: AnswerKey | None = None,
) -> Node[Services]:
    """This replica's runtime: database and storage, providers, bus, workers, service and
    health, built from ``settings``. Call ``node.start()`` to begin claiming debates and
    ``await node.close()`` when done.

    ``own_debates`` makes the node of one operator command (``aragora debate``) instead
    of a replica, on the same database and through the same service: its workers claim
    only the debates whose ids are in that set (the caller adds each debate it creates,
    then calls ``node.workers.wake()``), never another process's queued or abandoned
    ones; its agent specs are trusted (they are the operator's own, so they may name any
    endpoint); and without Redis its streams also read the event log every second, so
    they follow a debate even when another process on the database runs it.

    ``check_schema`` runs on the database before anything uses it — the server passes
    ``aragora.migrations.runner.ensure_schema`` (wiring sits below migrations, so it cannot
    call it itself). ``storage`` replaces the database entirely (tests pass
    ``aragora.storage.memory.storage.memory_storage()``). ``context_sources``, ``end_checks`` and
    ``finishers`` run besides the built-in ones (see :mod:`aragora.runtime.ports`).
    ``answer_key`` gives simulated (``sim``) agents the right answers (``aragora eval``)."""
    # First, so a bad key file fails the start before anything is opened.
    signing_key = ensure_signing_key(settings.receipt_signing_key_file, settings.data_dir)
    database: Database | None = None
    if storage is None:
        database = build_database(settings)
        try:
            if check_schema is not None:
                await check_schema(database)
        except BaseException:
            await database.dispose()
            raise
        storage = build_storage(database)
    hub = build_provider_hub(settings)
    registry = build_registry(settings, hub, answer_key=answer_key)
    bus: EventBus
    redis_health: Callable[[], Awaitable[str]] | None = None
    redis_bus: RedisBus | None = None
    if settings.redis_url is not None:
        redis_bus = _redis_bus(settings.redis_url)
        bus, redis_health = redis_bus, redis_bus.health
    else:
        # Without Redis, processes sharing a database follow each other's debates by
        # reading the log when a stream has been quiet for a second: replicas on
        # PostgreSQL, and on SQLite a server and an `aragora debate` run on its file.
        bus = LocalBus(poll_interval=1.0)
    observers: list[EventObserver] = []
    trust_all = own_debates is not None

    def panel(specs: Sequence[str], *, seed: int, trusted: bool) -> list[tuple[Participant, LLM]]:
        built = registry.build_panel(specs, seed=seed, trusted=trusted or trust_all)
        if logs_calls():  # agent_request lines at DEBUG
            return [(who, CallLog(llm, agent=who.name)) for who, llm in built]
        return built

    def engine(*, sink: EventSink, publish_token: TokenPublisher | None) -> DebateEngine:
        return build_engine(settings, sink=sink, publish_token=publish_token)

    def catalog() -> list[dict[str, Any]]:
        # Shows each endpoint's last probe and refreshes stale ones in the background, so
        # GET /api/v1/agents stays fast (agents.status).
        return [s.to_dict() for s in agent_statuses(registry, hub, settings.default_agents)]

    catalog()  # the first probe of each configured endpoint starts now

    sources: list[ContextSource] = [*context_sources]
    checks: list[EndCheck] = [*end_checks]
    # The Knowledge Mound: past decisions as background, a warning when a verdict
    # contradicts one on the same question, and every finished debate ingested.
    sources.append(
        PastDecisions(
            storage.knowledge_index,
            floor=settings.knowledge_relevance,
            budget_tokens=settings.knowledge_context_tokens,
            count_tokens=estimate_text_tokens,
        )
    )
    checks.append(ConflictCheck(storage.knowledge_index))
    receipts = build_receipts(settings, storage, key=signing_key)
    finishing: list[Finisher] = [receipts.finish, *finishers]
    finishing.append(KnowledgeIngest(storage.knowledge))
    local = LocalDebates()  # what the runner holds of the debates it runs, for reads
    runner = DebateRunner(
        storage=storage,
        bus=bus,
        build_panel=panel,
        build_engine=engine,
        observers=observers,
        context_sources=sources,
        end_checks=checks,
        finishers=finishing,
        local=local,
    )
    claiming = storage
    if own_debates is not None:
        claiming = replace(storage, leases=_OwnLeases(storage.leases, own_debates))
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    loop_lag = LoopLag(limit=settings.max_loop_lag_ms / 1000)
    workers = WorkerPool(
        storage=claiming,
        runner=runner,
        owner=owner,
        max_concurrent=settings.max_concurrent_debates,
        lease_ttl=settings.lease_ttl,
        admission=loop_lag,
    )
    announce_queued: Callable[[], None] | None = None
    # A replica delivers the webhook outbox; an operator command's node does not.
    background: list[Background] = [loop_lag]  # measures the loop the workers admit by
    if redis_bus is not None and own_debates is None:
        # Debates queued on any replica wake this one's workers at once.
        redis_bus.on_queued(workers.wake)
        announce_queued = redis_bus.announce_queued
    elif database is not None and database.dialect == "postgresql" and own_debates is None:
        # Without Redis, through the database's own notifications.
        from aragora.runtime.pg_notify import QueueNotifications

        notifications = QueueNotifications(settings.effective_database_url)
        notifications.on_queued(workers.wake)
        announce_queued = notifications.announce
        background.append(notifications)
    webhook_observers: list[OutcomeObserver] = []
    if own_debates is None:
        background.append(
            build_webhook_sender(settings, storage, owner=owner, observers=webhook_observers)
        )
    draining = DrainFlag()
    service = DebateService(
        storage=storage,
        bus=bus,
        workers=workers,
        build_panel=panel,
        agent_catalog=catalog,
        defaults=RequestDefaults(
            agents=tuple(settings.default_agents),
            agent_timeout=settings.agent_timeout,
            debate_timeout=settings.debate_timeout,
        ),
        is_draining=draining.is_set,
        refuse_when_agents_down=settings.refuse_when_agents_down,
        max_queued=settings.max_queued_debates,
        announce_queued=announce_queued,
        local=local,
    )
    monitor = HealthMonitor(
        ping_database=storage.ping,
        settings=storage.settings,
        agents_health=lambda: str(hub.health().value),
        redis_health=redis_health,
        is_draining=draining.is_set,
    )
    return Node(
        services=Services(
            knowledge=build_knowledge(storage),
            receipts=receipts,
            webhooks=build_webhooks(settings, storage),
        ),
        draining=draining,
        storage=storage,
        bus=bus,
        workers=workers,
        service=service,
        health_monitor=monitor,
        observers=observers,
        on_close=hub.aclose,
        background=background,
        loop_lag=lambda: loop_lag.lag,
        webhook_observers=webhook_observers,
    )


def _redis_bus(url: str) -> RedisBus:
    # Imported here, like the rate buckets' client: only a process with Redis needs it.
    from aragora.runtime.redis_bus import RedisBus

    return RedisBus(url)


class _OwnLeases:
    """The lease repository as a process that runs only its own debates sees it: a
    claim takes one of ``own`` (queued, or abandoned by an earlier attempt), nothing else."""

    def __init__(self, leases: LeaseRepository, own: AbstractSet[str]) -> None:
        self._leases = leases
        self._own = own

    async def claim(self, owner: str, ttl: float, *, debate_id: str | None = None) -> Lease | None:
        candidates = [debate_id] if debate_id is not None else sorted(self._own)
        for candidate in candidates:
            if candidate not in self._own:
                continue
            lease = await self._leases.claim(owner, ttl, debate_id=candidate)
            if lease is not None:
                return lease
        return None

    async def renew(self, lease: Lease, ttl: float) -> Lease:
        return await self._leases.renew(lease, ttl)

    async def release(self, lease: Lease, *, requeue: bool = False) -> None:
        await self._leases.release(lease, requeue=requeue)

    async def current(self, debate_id: str) -> Lease | None:
        return await self._leases.current(debate_id)

    async def position(self, debate_id: str) -> int | None:
        return await self._leases.position(debate_id)
