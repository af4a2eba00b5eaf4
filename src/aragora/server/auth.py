"""Who may call what: the access rules of CONTRACT.md as FastAPI dependencies.

======================  ============================  =================================
access                  ARAGORA_REQUIRE_AUTH=true     ARAGORA_REQUIRE_AUTH=false
======================  ============================  =================================
``read`` (GETs)         viewer token                  open
``write`` (create,      operator token                open
cancel)
``stats``               operator token, or a local    operator token, or a local
                        operator                      operator
``admin``               admin token                   admin token
======================  ============================  =================================

A *local operator* is a caller whose peer address is loopback and whose request carries
no header a proxy adds (``Forwarded``, ``Via``, any ``X-Forwarded-*``, ``X-Real-IP``,
``X-Client-IP``, ``CF-Connecting-IP``, ``True-Client-IP`` and the like, see
:data:`FORWARDING_HEADERS`): someone on the machine itself, not a client relayed by a
proxy on it. The runbook calls ``/api/admin/stats`` that way.

A token is validated whenever one is given, even where none is needed: a wrong token is
always 401 (``WWW-Authenticate: Bearer``); a valid token whose role is too weak is 403.
Health, liveness, readiness and the docs need no token; the Prometheus metrics are a
``read`` route (a viewer token when ``ARAGORA_REQUIRE_AUTH`` is on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from aragora.errors import AuthenticationError
from aragora.runtime.auth import Authenticator, Principal
from aragora.server.ratelimit import peer_is_loopback
from aragora.server.state import app_state

__all__ = [
    "FORWARDING_HEADERS",
    "Access",
    "AdminAccess",
    "ReadAccess",
    "StatsAccess",
    "WriteAccess",
    "access_of",
    "authorize",
    "bearer_token",
    "is_local_operator",
]


class Access(Enum):
    """What a route needs; see the table in the module docstring."""

    READ = ("viewer", True, False)
    WRITE = ("operator", True, False)
    STATS = ("operator", False, True)
    ADMIN = ("admin", False, False)

    def __init__(self, role: str, open_without_auth: bool, local_operator: bool) -> None:
        self.role = role
        self.open_without_auth = open_without_auth
        self.local_operator = local_operator


def bearer_token(connection: HTTPConnection, *, query: bool = False) -> str | None:
    """The bearer secret of ``Authorization`` (``?token=`` too when ``query``, for
    WebSockets); ``None`` when absent. :class:`AuthenticationError` for an
    ``Authorization`` header of another scheme."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        return secret.strip()
    if query:
        return connection.query_params.get("token")
    return None


FORWARDING_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "client-ip",
        "cf-connecting-ip",
        "true-client-ip",
        "x-cluster-client-ip",
        "fastly-client-ip",
        "x-original-forwarded-for",
        "x-proxyuser-ip",
        "x-envoy-external-address",
        "x-appengine-user-ip",
    }
)
"""Headers by which a proxy says whom it relays (every ``X-Forwarded-*`` header too): a
request carrying any of them did not come from the local operator, whatever its peer."""


def _forwarded(connection: HTTPConnection) -> bool:
    for name in connection.headers:
        if name in FORWARDING_HEADERS or name.startswith("x-forwarded-"):
            return True
    return False


def is_local_operator(connection: HTTPConnection) -> bool:
    """Peer on loopback and no header of a proxy (:data:`FORWARDING_HEADERS`)."""
    return peer_is_loopback(connection) and not _forwarded(connection)


async def authorize(
    connection: HTTPConnection,
    authenticator: Authenticator,
    access: Access,
    *,
    require_auth: bool,
    query_token: bool = False,
) -> Principal | None:
    """Apply ``access`` to this caller: the principal, or ``None`` for an anonymous caller
    that is let in. Raises :class:`AuthenticationError` (401) or
    :class:`~aragora.errors.PermissionDeniedError` (403)."""
    secret = bearer_token(connection, query=query_token)
    if secret is None:
        if access.open_without_auth and not require_auth:
            return None
        if access.local_operator and is_local_operator(connection):
            return None
        raise AuthenticationError(f"this needs a bearer token with the {access.role} role")
    principal = await authenticator.authenticate(secret)
    if require_auth or not access.open_without_auth:
        principal.require(access.role)
    return principal


_ACCESS_OF: dict[Callable[..., object], Access] = {}


def access_of(dependency: Callable[..., object]) -> Access | None:
    """The access level a route dependency checks (``None``: not an access check); the
    OpenAPI document says from it which operations need a token."""
    return _ACCESS_OF.get(dependency)


def _dependency(access: Access) -> Callable[..., Awaitable[Principal | None]]:
    # One plain coroutine per access level: every sub-dependency costs per request, so
    # the bearer scheme is documented in the OpenAPI document by the app, not resolved.
    async def check(request: Request) -> Principal | None:
        state = app_state(request)
        return await authorize(
            request, state.ready_authenticator(), access, require_auth=state.require_auth
        )

    check.__name__ = f"require_{access.name.lower()}"
    _ACCESS_OF[check] = access
    return check


ReadAccess = Annotated[Principal | None, Depends(_dependency(Access.READ))]
WriteAccess = Annotated[Principal | None, Depends(_dependency(Access.WRITE))]
StatsAccess = Annotated[Principal | None, Depends(_dependency(Access.STATS))]
AdminAccess = Annotated[Principal | None, Depends(_dependency(Access.ADMIN))]
