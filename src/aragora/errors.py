"""The one exception hierarchy of Aragora, split by who is to blame.

    AragoraError
    ├── UserError                 the caller's mistake: fix the input and retry (HTTP 4xx, exit 2)
    │   ├── InvalidInputError     a malformed value (task, protocol, option)
    │   ├── InvalidAgentSpecError an agent spec that is malformed, unknown or unconfigured
    │   ├── NotFoundError         something named that does not exist
    │   ├── ConflictError         the request contradicts the current state
    │   ├── AuthenticationError   no credentials, or ones that name no valid token (401)
    │   ├── PermissionDeniedError a valid token whose role may not do this (403)
    │   └── PayloadTooLargeError  a request body over the size limit (413)
    ├── ProviderError             an LLM provider failed us (rate limit, outage, garbage)
    │   └── AgentTimeoutError     one agent call took longer than allowed
    └── SystemFailure             Aragora's own infrastructure failed (storage, bus, config)
        ├── ConfigurationError    the operator's settings cannot work
        ├── StaleLeaseError       a writer lost its lease; it must stop
        ├── SlowConsumerError     a stream's subscriber fell behind; it resumes with ``since``
        ├── UnavailableError      not taking this work now; retry after a while (503)
        │   ├── MaintenanceError  maintenance mode or draining: no new debates
        │   └── RateLimitedError  too many requests, or the queue is full (429)
        └── StorageError          the database failed or cannot be used as it is
            ├── DatabaseUnavailableError  unreachable, refused, timed out, connection lost
            ├── DataRejectedError         a value the database refuses: retrying cannot help
            └── SchemaMismatchError       the schema is not at this code's revision

Library errors are translated into these at the edge with ``raise ... from exc`` so a
caller never has to know which library sits underneath.
"""

from __future__ import annotations

__all__ = [
    "AgentTimeoutError",
    "AragoraError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "DataRejectedError",
    "DatabaseUnavailableError",
    "InvalidAgentSpecError",
    "InvalidInputError",
    "MaintenanceError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitedError",
    "SchemaMismatchError",
    "SlowConsumerError",
    "StaleLeaseError",
    "StorageError",
    "SystemFailure",
    "UnavailableError",
    "UserError",
]


class AragoraError(Exception):
    """Base of every error Aragora raises on purpose.

    ``code`` is a stable machine-readable name (used in HTTP error bodies);
    the message is one human-readable sentence.
    """

    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class UserError(AragoraError):
    """The caller asked for something invalid; nothing was changed."""

    code = "invalid_request"


class InvalidInputError(UserError):
    """A value in the request is malformed or out of range."""

    code = "invalid_input"


class InvalidAgentSpecError(UserError):
    """An agent spec is malformed, names an unknown provider, or lacks its API key."""

    code = "invalid_agent_spec"

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"agent spec {spec!r}: {reason}")
        self.spec = spec
        self.reason = reason


class NotFoundError(UserError):
    """The named object does not exist."""

    code = "not_found"


class ConflictError(UserError):
    """The request contradicts the current state (e.g. cancelling a finished debate)."""

    code = "conflict"


class AuthenticationError(UserError):
    """The request carries no credentials, or ones that match no valid token."""

    code = "unauthorized"


class PermissionDeniedError(UserError):
    """The token is valid but its role may not do this."""

    code = "forbidden"


class PayloadTooLargeError(UserError):
    """The request body is larger than the server accepts."""

    code = "payload_too_large"


class ProviderError(AragoraError):
    """An LLM provider failed to give a usable answer.

    ``kind`` classifies the failure (``rate_limited``, ``timeout``, ``server_error``, ...)
    so callers can decide whether retrying or falling back makes sense; ``retry_after`` is
    the wait the provider asked for (``Retry-After`` and similar headers), if any.
    """

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        kind: str = "server_error",
        provider: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.retry_after = retry_after
        """Seconds the provider asked us to wait before trying again, when it said."""


class AgentTimeoutError(ProviderError):
    """One agent call exceeded its time limit."""

    code = "agent_timeout"

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message, kind="timeout", provider=provider)


class SystemFailure(AragoraError):
    """Aragora's own infrastructure failed; the request may succeed later."""

    code = "system_failure"


class ConfigurationError(SystemFailure):
    """The operator's configuration cannot work (bad URL, unreadable key file, ...)."""

    code = "configuration_error"


class StaleLeaseError(SystemFailure):
    """An append carried a lease epoch that is no longer current; the writer must stop."""

    code = "stale_lease"


class SlowConsumerError(SystemFailure):
    """A subscriber fell behind by more frames than its queue holds. ``last_seq`` is the
    last durable seq it was given; it can resume from there with ``since``."""

    code = "slow_consumer"

    def __init__(self, last_seq: int) -> None:
        super().__init__(f"subscriber fell behind; resume with since={last_seq}")
        self.last_seq = last_seq


class UnavailableError(SystemFailure):
    """The service cannot take this work now; ``retry_after`` seconds is a fair wait."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: float = 30.0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class MaintenanceError(UnavailableError):
    """Maintenance mode is on, or this replica is draining: no new debates are accepted."""

    code = "maintenance"


class RateLimitedError(UnavailableError):
    """Too many requests from one client, or too many debates already waiting: the same
    request may succeed after ``retry_after`` seconds (HTTP 429 with ``Retry-After``)."""

    code = "rate_limited"


class StorageError(SystemFailure):
    """The database failed in a way the caller cannot fix by changing the request."""

    code = "storage_error"


class DatabaseUnavailableError(StorageError):
    """The database could not be reached or answered too late; retrying later may work.

    The message names the database URL with its password masked."""

    code = "database_unavailable"


class DataRejectedError(StorageError):
    """The database refused a value it was given (too long for its column, an encoding it
    cannot store, a violated constraint): the same write fails however often it is tried.
    Validation at the edge should have refused the value first; this is the backstop."""

    code = "data_rejected"


class SchemaMismatchError(StorageError):
    """The database schema is not at the revision this code needs; the message names the
    command that fixes it."""

    code = "schema_mismatch"
