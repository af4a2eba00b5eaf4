"""Aragora's configuration: every environment variable of CONTRACT.md, typed and validated.

    settings = load_settings()            # from os.environ
    settings = load_settings({"ARAGORA_PORT": "9000"})   # from exactly this mapping

Each field is read from the one variable its ``validation_alias`` names, spelled exactly as
in CONTRACT.md (``ARAGORA_*``, and the providers' standard ``*_API_KEY`` / ``*_BASE_URL``
names). A variable that is unset or blank takes the field's default. Nothing here is built
at import time: the composition root calls :func:`load_settings` once and passes the values
on through constructors.

A value that cannot work raises :class:`aragora.errors.ConfigurationError` whose message is
one line naming the variable, e.g. ``invalid configuration: ARAGORA_PORT: Input should be
a valid integer, unable to parse string as an integer (got 'http')``. Secret values are
never echoed in such messages.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from aragora.errors import ConfigurationError

__all__ = ["LogFormat", "LogLevel", "PanelConfig", "Settings", "load_settings"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["json", "console"]

_DATABASE_SCHEMES = frozenset({"postgresql", "postgres", "sqlite"})
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
_OLLAMA_DEFAULT_PORT = 11434
_LOGGER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

# The environment that the settings source reads. ``None`` means ``os.environ``;
# load_settings() sets it for the duration of one build so that an explicit mapping is
# read *instead of* the process environment, not merged with it.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar(
    "aragora_settings_environ", default=None
)


def _default_data_dir() -> Path:
    return Path.home() / ".aragora"


_PANEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
BUILT_IN_PANELS = ("auto", "debate", "vote")
"""The panels every server offers (``aragora/auto`` ...): the mode of that name, on
``ARAGORA_DEFAULT_AGENTS``; ``ARAGORA_PANELS`` cannot redefine them."""


class PanelConfig(BaseModel):
    """One operator-named panel of ``ARAGORA_PANELS``: how its debates run. A field left
    out takes the debate default (agents: ``ARAGORA_DEFAULT_AGENTS``, mode ``auto``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agents: list[str] | None = Field(default=None, min_length=1)
    mode: Literal["auto", "debate", "vote", "single"] | None = None
    rounds: int | None = Field(default=None, ge=1)
    consensus: str | None = None
    description: str | None = Field(default=None, max_length=500)


class Settings(BaseSettings):
    """The operator's configuration of one Aragora process (immutable once built).

    Prefer :func:`load_settings`, which turns validation failures into
    :class:`~aragora.errors.ConfigurationError`. ``Settings(field=value)`` also works and
    gives keyword arguments precedence over the environment.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        case_sensitive=True,
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=True,
        use_attribute_docstrings=True,
        hide_input_in_errors=True,
    )

    # --- server -------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", min_length=1, validation_alias="ARAGORA_HOST")
    """Address the HTTP server binds to."""

    port: int = Field(default=8080, ge=0, le=65535, validation_alias="ARAGORA_PORT")
    """TCP port the HTTP server binds to (0 lets the operating system choose)."""

    data_dir: Path = Field(default_factory=_default_data_dir, validation_alias="ARAGORA_DATA_DIR")
    """Embedded state: SQLite file, generated keys and tokens. Always absolute, ``~`` expanded."""

    require_auth: bool | None = Field(default=None, validation_alias="ARAGORA_REQUIRE_AUTH")
    """Require a token on every ``/api`` route except health; ``None`` derives it from
    ``host`` (see :attr:`effective_require_auth`)."""

    admin_token: SecretStr | None = Field(default=None, validation_alias="ARAGORA_ADMIN_TOKEN")
    """Bootstrap admin bearer token; ``None`` lets embedded mode generate one."""

    max_concurrent_debates: int = Field(
        default=10, ge=1, validation_alias="ARAGORA_MAX_CONCURRENT_DEBATES"
    )
    """Debates running at once in one replica; further ones queue."""

    max_loop_lag_ms: float = Field(default=20.0, ge=0, validation_alias="ARAGORA_MAX_LOOP_LAG_MS")
    """While the replica's event loop runs more than this many milliseconds late, it claims
    no new debate (they wait in the queue, or another replica takes them); 0 turns the
    check off. Keeps health probes and running debates answered on time under a burst."""

    # --- storage ------------------------------------------------------------------------
    database_url: str | None = Field(default=None, validation_alias="ARAGORA_DATABASE_URL")
    """``postgresql://…`` or ``sqlite:///path``; ``None`` means SQLite in ``data_dir``
    (see :attr:`effective_database_url`)."""

    database_read_url: str | None = Field(
        default=None, validation_alias="ARAGORA_DATABASE_READ_URL"
    )
    """Optional read replica, used for read-only queries."""

    db_pool_size: int = Field(default=15, ge=1, validation_alias="ARAGORA_DB_POOL_SIZE")
    """Connections kept open in the database pool."""

    db_max_overflow: int = Field(default=0, ge=0, validation_alias="ARAGORA_DB_MAX_OVERFLOW")
    """Connections the pool may open beyond ``db_pool_size`` under load. Each is closed as
    soon as it is given back, and its replacement connects and prepares every statement
    again. Under a burst of 1,000 debates on PostgreSQL (bench/server_path.py), 10 + 5
    opened ~200 connections and 15 + 0 ~30 in all, and 10 + 5 spent 1-10 ms more of the
    server's CPU and 3-7 ms more of PostgreSQL's per debate (four alternated pairs, at
    25-33 and 17-21 ms for 15 + 0; the same peak of 15 connections), so by default the
    pool keeps every connection it opens."""

    db_pgbouncer: bool = Field(default=False, validation_alias="ARAGORA_DB_PGBOUNCER")
    """Disable server-side prepared statement caching (PgBouncer transaction pooling)."""

    auto_migrate: bool | None = Field(default=None, validation_alias="ARAGORA_AUTO_MIGRATE")
    """Apply pending schema migrations at start; ``None`` derives it from the database
    (see :attr:`effective_auto_migrate`)."""

    redis_url: str | None = Field(default=None, validation_alias="ARAGORA_REDIS_URL")
    """Optional Redis (``redis://``, ``rediss://`` or ``unix://``) for cross-replica
    streaming, shared rate limits and cache."""

    # --- debates ------------------------------------------------------------------------
    agent_timeout: float = Field(default=120.0, gt=0, validation_alias="ARAGORA_AGENT_TIMEOUT")
    """Seconds one agent call may take."""

    debate_timeout: float = Field(default=900.0, gt=0, validation_alias="ARAGORA_DEBATE_TIMEOUT")
    """Seconds one whole debate may take."""

    default_agents: list[str] = Field(
        default_factory=lambda: ["demo", "demo", "demo"],
        validation_alias="ARAGORA_DEFAULT_AGENTS",
    )
    """Agent specs for debates that name none (comma-separated in the environment)."""

    panels: dict[str, PanelConfig] = Field(default_factory=dict, validation_alias="ARAGORA_PANELS")
    """Named panels the OpenAI-compatible API offers as models ``aragora/NAME``: a JSON
    object mapping each name to ``{"agents"?: [spec], "mode"?, "rounds"?, "consensus"?,
    "description"?}``, e.g. ``{"review": {"agents": ["anthropic:claude-sonnet-4-5",
    "openai:gpt-4o"], "mode": "debate", "rounds": 2}}``."""

    demo_delay: float = Field(default=0.5, ge=0, validation_alias="ARAGORA_DEMO_DELAY")
    """Seconds a ``demo`` agent takes per answer, so a demo can be watched."""

    # --- decision integrity: agents that are down ---------------------------------------
    agent_wait: float = Field(default=120.0, ge=0, validation_alias="ARAGORA_AGENT_WAIT")
    """Seconds a debate step whose every agent is unavailable (circuit breakers open after
    an outage) waits for one to come back, logging ``waiting_for_agents``, before making
    its calls anyway; 0 never waits."""

    refuse_when_agents_down: bool = Field(
        default=False, validation_alias="ARAGORA_REFUSE_WHEN_AGENTS_DOWN"
    )
    """Answer ``POST /api/v1/debates`` with 503 and ``Retry-After`` when every agent of the
    requested panel is unavailable, instead of queueing a debate that waits for them."""

    # --- logs ---------------------------------------------------------------------------
    log_level: LogLevel = Field(default="INFO", validation_alias="ARAGORA_LOG_LEVEL")
    """Least severe level logged (case-insensitive in the environment)."""

    log_format: LogFormat = Field(default="console", validation_alias="ARAGORA_LOG_FORMAT")
    """``json`` (one object per line) or ``console`` (readable lines)."""

    # --- logs: libraries and the access log ---------------------------------------------
    log_libraries: list[str] = Field(default_factory=list, validation_alias="ARAGORA_LOG_LIBRARIES")
    """Third-party loggers let through at ``log_level``: ``false`` (the default: libraries
    speak only at WARNING and above, so DEBUG shows Aragora's own decisions), ``true``
    (every library, except that one setting its own level keeps it: SQLAlchemy puts
    ``sqlalchemy`` at WARNING), or comma-separated logger names such as
    ``sqlalchemy.engine,httpx``. ``["*"]`` stands for ``true``."""

    access_log: bool = Field(default=True, validation_alias="ARAGORA_ACCESS_LOG")
    """One ``http_request`` line per HTTP request at INFO (method, route template, status,
    milliseconds, request id)."""

    # --- receipts -----------------------------------------------------------------------
    receipt_signing_key_file: Path | None = Field(
        default=None, validation_alias="ARAGORA_RECEIPT_SIGNING_KEY_FILE"
    )
    """Ed25519 PKCS#8 PEM file; ``None`` means one generated into ``data_dir``."""

    receipt_issuer: str = Field(
        default="aragora", min_length=1, validation_alias="ARAGORA_RECEIPT_ISSUER"
    )
    """Issuer name written into receipts."""

    # --- providers ----------------------------------------------------------------------
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    """Anthropic API key."""

    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    """OpenAI API key."""

    openrouter_api_key: SecretStr | None = Field(
        default=None, validation_alias="OPENROUTER_API_KEY"
    )
    """OpenRouter API key."""

    gemini_api_key: SecretStr | None = Field(default=None, validation_alias="GEMINI_API_KEY")
    """Google Gemini API key."""

    anthropic_base_url: str = Field(
        default="https://api.anthropic.com", validation_alias="ANTHROPIC_BASE_URL"
    )
    """Anthropic API root, without the ``/v1`` path (as the Anthropic SDK reads it)."""

    openai_base_url: str = Field(
        default="https://api.openai.com/v1", validation_alias="OPENAI_BASE_URL"
    )
    """OpenAI API base, including ``/v1`` (as the OpenAI SDK reads it)."""

    openrouter_base_url: str = Field(
        default="https://openrouter.ai/api/v1", validation_alias="OPENROUTER_BASE_URL"
    )
    """OpenRouter's OpenAI-compatible API base, including ``/v1``."""

    gemini_base_url: str = Field(
        default="https://generativelanguage.googleapis.com", validation_alias="GEMINI_BASE_URL"
    )
    """Gemini API root, without the version path (``/v1beta`` is the client's choice)."""

    ollama_host: str = Field(default="http://127.0.0.1:11434", validation_alias="OLLAMA_HOST")
    """Ollama server as a base URL; ``host``, ``host:port`` and URLs are accepted, as the
    Ollama CLI accepts them, and normalised to ``scheme://host:port``."""

    openrouter_fallback: bool | None = Field(
        default=None, validation_alias="ARAGORA_OPENROUTER_FALLBACK"
    )
    """Fall back to OpenRouter on rate limit, quota, overload or timeout; ``None`` derives
    it (see :attr:`effective_openrouter_fallback`)."""

    openrouter_models_file: Path | None = Field(
        default=None, validation_alias="ARAGORA_OPENROUTER_MODELS_FILE"
    )
    """JSON file mapping ``provider:model`` to the OpenRouter models a call falls back to,
    replacing the shipped mapping (same format as ``agents/data/openrouter_models.json``)."""

    agent_endpoints: list[str] = Field(
        default_factory=list, validation_alias="ARAGORA_AGENT_ENDPOINTS"
    )
    """Base URLs that agent specs from API requests may name (``openai-compatible:MODEL@URL``
    under one of them); comma-separated in the environment. The operator's own specs
    (environment, CLI) may name any endpoint."""

    # --- webhooks ------------------------------------------------------------------------
    webhook_endpoints: list[str] = Field(
        default_factory=list, validation_alias="ARAGORA_WEBHOOK_ENDPOINTS"
    )
    """URL prefixes a webhook may target even on a loopback, private or link-local address
    (comma-separated). Any other webhook must resolve to public addresses only."""

    webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, validation_alias="ARAGORA_WEBHOOK_MAX_ATTEMPTS"
    )
    """Tries of one delivery before it is marked failed (backoff from 10 s, doubling, with
    jitter, at most an hour apart)."""

    webhook_timeout: float = Field(
        default=10.0, gt=0, le=300, validation_alias="ARAGORA_WEBHOOK_TIMEOUT"
    )
    """Seconds one delivery attempt may take (connect and answer)."""

    # --- agent resilience: per-endpoint limits, queueing, reconnects ---------------------
    agent_limits: dict[str, tuple[int, float | None, int | None]] = Field(
        default_factory=dict, validation_alias="ARAGORA_AGENT_LIMITS"
    )
    """Per-endpoint limits, ``KEY=CONCURRENCY[:RATE[:BURST]]`` comma-separated: KEY is a
    provider name, an endpoint's base URL, or ``default``; CONCURRENCY calls in flight,
    RATE calls started per second (``0``: no start-rate limit), bursts of BURST. Parts left
    out keep the default's (``16:8:16``). E.g. ``http://127.0.0.1:8081/v1=1,openai=32:16:32``.
    Parsed to ``{key: (concurrency, rate or None, burst or None)}``."""

    agent_queue_timeout: float = Field(
        default=600.0, gt=0, validation_alias="ARAGORA_AGENT_QUEUE_TIMEOUT"
    )
    """Seconds a call may wait for a slot of its endpoint (its own timeout starts only once
    it is sent); past it the call fails as ``queue_timeout``."""

    agent_connect_retry: float = Field(
        default=30.0, ge=0, validation_alias="ARAGORA_AGENT_CONNECT_RETRY"
    )
    """Seconds a call keeps retrying an endpoint that refuses or drops the connection before
    answering (a restarting local server), capped by the call's timeout; 0 retries such a
    failure like any other."""

    shutdown_grace: float = Field(default=25.0, ge=0, validation_alias="ARAGORA_SHUTDOWN_GRACE")
    """Seconds running debates get to finish after SIGTERM before the process exits and
    leaves the rest to be resumed (readiness turns 503 at once)."""

    lease_ttl: float = Field(default=30.0, gt=0, validation_alias="ARAGORA_LEASE_TTL")
    """Seconds a worker's lease on a running debate lasts without a heartbeat; after it
    expires another worker takes the debate over."""

    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, validation_alias="ARAGORA_MAX_BODY_BYTES"
    )
    """Largest request body the HTTP API accepts (413 beyond it)."""

    cors_origins: list[str] = Field(default_factory=list, validation_alias="ARAGORA_CORS_ORIGINS")
    """Origins allowed to call the API from a browser (comma-separated); CORS is off when
    empty."""

    # --- server: exposure and inbound limits --------------------------------------------
    allow_unauthenticated_network: bool = Field(
        default=False, validation_alias="ARAGORA_ALLOW_UNAUTHENTICATED_NETWORK"
    )
    """Let ``aragora serve`` listen on a non-loopback address with
    ``ARAGORA_REQUIRE_AUTH=false``; without it such a start is refused, since anyone who
    can reach the port could read every debate and start debates on the provider keys."""

    max_queued_debates: int = Field(
        default=200, ge=1, validation_alias="ARAGORA_MAX_QUEUED_DEBATES"
    )
    """Debates that may wait in the queue (all replicas together); a new debate beyond it
    gets 429 with ``Retry-After``."""

    rate_limit: int = Field(default=600, ge=0, validation_alias="ARAGORA_RATE_LIMIT")
    """Requests a minute one client may make to the rate-limited routes (all but health,
    probes and metrics); 0 turns the limit off. A client is its bearer token, or its peer
    address when it sends none."""

    rate_limit_debates: int = Field(default=30, ge=0, validation_alias="ARAGORA_RATE_LIMIT_DEBATES")
    """Debates a minute one client may start (``POST /api/v1/debates``); 0 turns the limit
    off. A client is its token, or its peer address when it sends none."""

    rate_limit_loopback: bool = Field(default=True, validation_alias="ARAGORA_RATE_LIMIT_LOOPBACK")
    """Whether clients on a loopback address are rate limited too (a reverse proxy on the
    same machine is one such client)."""

    # --- knowledge: past decisions shown to new debates ----------------------------------
    knowledge_context_tokens: int = Field(
        default=800, ge=0, validation_alias="ARAGORA_KNOWLEDGE_CONTEXT_TOKENS"
    )
    """Most tokens of past decisions added to a debate's context (each prompt carries
    them); ``0`` shows none."""

    knowledge_relevance: float = Field(
        default=0.3, ge=0, le=1, validation_alias="ARAGORA_KNOWLEDGE_RELEVANCE"
    )
    """Least similarity (0..1, words of the questions) for a past decision to be shown."""

    # --- sources --------------------------------------------------------------------------
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read keyword arguments first, then the exact variable names; no dotenv files."""
        return (init_settings, _ExactEnvironSource(settings_cls))

    # --- validators -----------------------------------------------------------------------
    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("receipt_signing_key_file", mode="after")
    @classmethod
    def _expand_key_file(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("default_agents", mode="before")
    @classmethod
    def _split_agent_specs(cls, value: object) -> object:
        if isinstance(value, str):
            return [spec.strip() for spec in value.split(",") if spec.strip()]
        return value

    @field_validator("default_agents", mode="after")
    @classmethod
    def _no_blank_specs(cls, value: list[str]) -> list[str]:
        specs = [spec.strip() for spec in value]
        if not specs:
            raise ValueError("must name at least one agent spec")
        if not all(specs):
            raise ValueError("agent specs must not be blank")
        simulated = [spec for spec in specs if spec.partition(":")[0].strip().lower() == "sim"]
        if simulated:
            # Simulated agents answer only evaluation questions; as defaults they would
            # quietly answer every caller's debate with refusals.
            raise ValueError(
                f"must not name simulated agents ({', '.join(simulated)}); "
                "use sim: specs in aragora eval or a request's agents"
            )
        return specs

    @field_validator("panels", mode="before")
    @classmethod
    def _panels_json(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object of panels: {exc}") from None
        if not isinstance(value, Mapping):
            raise ValueError("must be a JSON object of panels")
        panels = {}
        for name, config in value.items():
            try:
                panels[name] = PanelConfig.model_validate(config)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(part) for part in first["loc"])
                raise ValueError(
                    f"panel {name!r}: {where + ': ' if where else ''}{first['msg']}"
                ) from None
        return panels

    @field_validator("panels", mode="after")
    @classmethod
    def _panel_names(cls, value: dict[str, PanelConfig]) -> dict[str, PanelConfig]:
        for name, panel in value.items():
            if not _PANEL_NAME.fullmatch(name):
                raise ValueError(
                    f"panel name {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
                )
            if name in BUILT_IN_PANELS:
                raise ValueError(f"panel {name!r} is built in (aragora/{name}); pick another name")
            if panel.agents is not None and not all(spec.strip() for spec in panel.agents):
                raise ValueError(f"panel {name!r}: agent specs must not be blank")
        return value

    @field_validator("agent_endpoints", "webhook_endpoints", mode="before")
    @classmethod
    def _split_endpoints(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("agent_endpoints", "webhook_endpoints", mode="after")
    @classmethod
    def _http_endpoints(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"must be comma-separated http(s) base URLs, not {url!r}")
        return [url.strip().rstrip("/") for url in value]

    @field_validator("agent_limits", mode="before")
    @classmethod
    def _parse_agent_limits(cls, value: object) -> object:
        return _parse_limits(value) if isinstance(value, str) else value

    @field_validator("openrouter_models_file", mode="after")
    @classmethod
    def _expand_models_file(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    @field_validator("log_libraries", mode="before")
    @classmethod
    def _library_loggers(cls, value: object) -> object:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("false", "0", "no", "off", "none"):
                return []
            if word in ("true", "1", "yes", "on", "all", "*"):
                return ["*"]
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("log_libraries", mode="after")
    @classmethod
    def _logger_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if name != "*" and not _LOGGER_NAME.fullmatch(name):
                raise ValueError(
                    f"must be true, false or comma-separated logger names, not {name!r}"
                )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url", "database_read_url", mode="after")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value).scheme.split("+", 1)[0].lower()
        if scheme not in _DATABASE_SCHEMES:
            raise ValueError("must be a postgresql://… or sqlite:///path URL")
        return value

    @field_validator("redis_url", mode="after")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme.lower() not in _REDIS_SCHEMES:
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator(
        "anthropic_base_url",
        "openai_base_url",
        "openrouter_base_url",
        "gemini_base_url",
        mode="after",
    )
    @classmethod
    def _http_base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return value.strip().rstrip("/")

    @field_validator("ollama_host", mode="after")
    @classmethod
    def _ollama_base_url(cls, value: str) -> str:
        return _normalise_ollama_host(value)

    # --- derived values -------------------------------------------------------------------
    @property
    def effective_require_auth(self) -> bool:
        """Whether ``/api`` routes need a token: ``require_auth`` if set, else ``False``
        exactly when ``host`` is a loopback address or ``localhost``.

        ``host`` must be the address actually bound: ``aragora serve --host H`` puts ``H``
        there (:meth:`bound_to`) before anything reads this."""
        if self.require_auth is not None:
            return self.require_auth
        return not self.loopback_only

    @property
    def loopback_only(self) -> bool:
        """Whether ``host`` is a loopback address (or ``localhost``): only this machine can
        connect. ``0.0.0.0``, ``::``, other addresses and host names are not."""
        return _is_loopback_host(self.host)

    def bound_to(self, host: str | None = None, port: int | None = None) -> Settings:
        """These settings with the address the server really listens on (the ``--host``
        and ``--port`` of ``aragora serve`` win over ``ARAGORA_HOST``/``ARAGORA_PORT``),
        so everything derived from the address follows the bound one."""
        update: dict[str, Any] = {}
        if host is not None and host.strip():
            update["host"] = host.strip()
        if port is not None:
            update["port"] = port
        return self.model_copy(update=update) if update else self

    @property
    def effective_openrouter_fallback(self) -> bool:
        """Whether to fall back to OpenRouter: ``openrouter_fallback`` if set, else ``True``
        exactly when an OpenRouter API key is configured."""
        if self.openrouter_fallback is not None:
            return self.openrouter_fallback
        return self.openrouter_api_key is not None

    @property
    def effective_database_url(self) -> str:
        """The database to use: ``database_url`` if set, else
        ``sqlite:///<data_dir>/aragora.db`` (an absolute path)."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aragora.db').as_posix()}"

    @property
    def effective_auto_migrate(self) -> bool:
        """Whether a starting server migrates the schema itself: ``auto_migrate`` if set,
        else ``True`` exactly in embedded mode (SQLite); production (PostgreSQL) migrates
        explicitly, with a backup first, as the runbook does."""
        if self.auto_migrate is not None:
            return self.auto_migrate
        return urlsplit(self.effective_database_url).scheme.split("+", 1)[0].lower() == "sqlite"

    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret string (API keys, admin token, passwords inside the
        database and Redis URLs), for log redaction. Empty when none is configured."""
        found: list[str] = []
        for key in (
            self.admin_token,
            self.anthropic_api_key,
            self.openai_api_key,
            self.openrouter_api_key,
            self.gemini_api_key,
        ):
            if key is not None:
                found.append(key.get_secret_value())
        for url in (self.database_url, self.database_read_url, self.redis_url):
            password = urlsplit(url).password if url else None
            if password:
                found.extend({password, unquote(password)})
        return tuple(dict.fromkeys(value for value in found if value))


def _variable_name(field: FieldInfo, field_name: str) -> str:
    alias = field.validation_alias
    if not isinstance(alias, str):  # every field names its variable; guard against drift
        raise TypeError(f"settings field {field_name!r} has no environment variable name")
    return alias


# Values never repeated in error messages: secrets, and URLs that may carry a password.
_UNECHOED_VARIABLES = frozenset(
    _variable_name(field, name)
    for name, field in Settings.model_fields.items()
    if SecretStr in (field.annotation, *get_args(field.annotation))
) | {"ARAGORA_DATABASE_URL", "ARAGORA_DATABASE_READ_URL", "ARAGORA_REDIS_URL"}


class _ExactEnvironSource(PydanticBaseSettingsSource):
    """Reads each field from the variable its validation alias names, exactly as spelled.

    Values are handed to pydantic as raw strings (never JSON-decoded), so a list is
    comma-separated text and a boolean is ``true``/``false``/``1``/``0``. Unset and blank
    variables are skipped so the field keeps its default.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Return the raw value for one field, the variable name, and ``False`` (not complex)."""
        name = _variable_name(field, field_name)
        environ = _ENVIRON.get()
        raw = (os.environ if environ is None else environ).get(name)
        return (raw if raw is not None and raw.strip() else None), name, False

    def __call__(self) -> dict[str, Any]:
        """Return ``{variable name: raw value}`` for every field whose variable is set."""
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            raw, name, _ = self.get_field_value(field, field_name)
            if raw is not None:
                values[name] = raw
        return values


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: ``os.environ``) and nothing else.

    Only the variables named in CONTRACT.md are read; unset or blank ones take their
    defaults; other entries of ``env`` are ignored. Raises
    :class:`~aragora.errors.ConfigurationError` with one readable line naming every
    invalid variable (and never echoing a secret) when a value cannot work.
    """
    try:
        with _reading(env):
            return Settings()
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from exc


@contextmanager
def _reading(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(env)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def _describe(exc: ValidationError) -> str:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        variable = str(error["loc"][0]) if error["loc"] else "settings"
        message = error["msg"].removeprefix("Value error, ")
        raw = error.get("input")
        if isinstance(raw, str) and variable not in _UNECHOED_VARIABLES:
            message = f"{message} (got {raw!r})"
        problems.append(f"{variable}: {message}")
    return ("invalid configuration: " + "; ".join(problems)).replace("\n", " ")


_LIMIT_PROVIDERS = frozenset(
    {"anthropic", "openai", "openrouter", "gemini", "ollama", "openai-compatible", "default"}
)
_LIMITS_SYNTAX = "expected KEY=CONCURRENCY[:RATE[:BURST]], comma-separated"


def _parse_limits(text: str) -> dict[str, tuple[int, float | None, int | None]]:
    """``ARAGORA_AGENT_LIMITS`` as ``{key: (concurrency, rate, burst)}`` (None: not given).
    Keys are provider names, lower-cased, ``default``, or http(s) base URLs as written."""
    limits: dict[str, tuple[int, float | None, int | None]] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        key, equals, value = entry.rpartition("=")
        key = key.strip()
        if not equals or not key:
            raise ValueError(f"{_LIMITS_SYNTAX}, not {entry!r}")
        if "://" in key:
            parts = urlsplit(key)
            try:
                parts.port  # noqa: B018 - raises for a port out of range
            except ValueError:
                raise ValueError(f"{key!r} has an invalid port") from None
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.query
                or parts.fragment
                or "?" in key
                or "#" in key
                or parts.username
            ):
                raise ValueError(f"{key!r} is not an http(s) base URL ({_LIMITS_SYNTAX})")
            key = key.rstrip("/")
        else:
            key = key.lower()
            if key not in _LIMIT_PROVIDERS:
                known = ", ".join(sorted(_LIMIT_PROVIDERS))
                raise ValueError(f"unknown key {key!r}: use a base URL or one of {known}")
        if key in limits:
            raise ValueError(f"{key!r} is given twice")
        limits[key] = _limit_value(entry, value)
    return limits


def _limit_value(entry: str, value: str) -> tuple[int, float | None, int | None]:
    fields = [part.strip() for part in value.split(":")]
    if len(fields) > 3 or not fields[0]:
        raise ValueError(f"{_LIMITS_SYNTAX}, not {entry!r}")
    try:
        concurrency = int(fields[0])
        rate = float(fields[1]) if len(fields) > 1 and fields[1] else None
        burst = int(fields[2]) if len(fields) > 2 and fields[2] else None
    except ValueError:
        raise ValueError(f"{_LIMITS_SYNTAX} with numbers, not {entry!r}") from None
    if concurrency < 1 or (burst is not None and burst < 1):
        raise ValueError(f"concurrency and burst must be at least 1 in {entry!r}")
    if rate is not None and not 0 <= rate < float("inf"):
        raise ValueError(f"the rate must be 0 (no limit) or more in {entry!r}")
    return concurrency, rate, burst


def _is_loopback_host(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _normalise_ollama_host(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must be a host, host:port or URL")
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be a host, host:port or http(s) URL")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    if port is None:
        port = 443 if parts.scheme == "https" else _OLLAMA_DEFAULT_PORT
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{host}:{port}{path}"
