"""The composition root: settings in, concrete objects out. Nothing else builds them."""

from __future__ import annotations

from collections.abc import Sequence

from aragora.agents.providers import KEY_VARIABLES, ProviderConfig, ProviderHub
from aragora.agents.registry import AgentRegistry, default_registry
from aragora.debate.convergence import lexical_similarity
from aragora.debate.engine import DebateEngine, TokenPublisher
from aragora.debate.model import Participant
from aragora.debate.ports import LLM, EventSink, SystemClock
from aragora.debate.prompting import PromptBook
from aragora.settings import Settings
from aragora.storage.database import Database, PoolOptions
from aragora.storage.repository import Storage
from aragora.storage.sql import sql_storage

__all__ = [
    "build_database",
    "build_engine",
    "build_panel",
    "build_provider_hub",
    "build_registry",
    "build_storage",
    "provider_config",
]


def provider_config(settings: Settings) -> ProviderConfig:
    """The providers' configuration: keys, endpoints, timeouts and fallback from settings.

    Each HTTP attempt may take ``ARAGORA_AGENT_TIMEOUT``; with OpenRouter fallback on, the
    provider asked first gets half of it before the call moves on, so the fallback still
    has time inside the engine's per-call limit."""
    keys = {
        provider: secret.get_secret_value()
        for provider in KEY_VARIABLES
        if (secret := getattr(settings, f"{provider}_api_key")) is not None
    }
    fallback = settings.effective_openrouter_fallback
    return ProviderConfig(
        api_keys=keys,
        anthropic_base_url=settings.anthropic_base_url,
        openai_base_url=settings.openai_base_url,
        openrouter_base_url=settings.openrouter_base_url,
        gemini_base_url=settings.gemini_base_url,
        ollama_host=settings.ollama_host,
        attempt_timeout=settings.agent_timeout,
        stall_timeout=min(60.0, settings.agent_timeout),
        openrouter_fallback=fallback,
        fallback_hop_timeout=settings.agent_timeout / 2 if fallback else None,
        openrouter_models_file=settings.openrouter_models_file,
    )


def build_provider_hub(settings: Settings) -> ProviderHub:
    """The network providers' shared clients, limits and breakers for this process.
    The caller owns it: ``async with build_provider_hub(settings) as hub: ...``."""
    return ProviderHub(provider_config(settings))


def build_registry(settings: Settings, hub: ProviderHub) -> AgentRegistry:
    """Every provider: the offline ``demo`` agents and the network ones of ``hub``, with
    the operator's allowed endpoints for untrusted specs."""
    registry = default_registry(
        demo_delay=settings.demo_delay, allowed_endpoints=settings.agent_endpoints
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
    """A debate engine writing to ``sink`` with the shipped prompts and lexical similarity."""
    return DebateEngine(
        sink=sink,
        clock=SystemClock(),
        similarity=lexical_similarity,
        prompts=PromptBook.default(),
        publish_token=publish_token,
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


def build_storage(database: Database) -> Storage:
    """Every repository on ``database`` (check its schema first with
    ``aragora.migrations.runner.ensure_schema``)."""
    return sql_storage(database)
