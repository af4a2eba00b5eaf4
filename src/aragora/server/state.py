"""What every route reaches through the app: settings, the node, auth and metrics.

Set once by the app's lifespan (``app.state.aragora``); routes take it through the typed
dependency aliases below (``ServiceDep``, ``StateDep``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from aragora.errors import UnavailableError
from aragora.runtime.auth import Authenticator
from aragora.runtime.node import Node
from aragora.runtime.service import DebateService
from aragora.server.metrics import Metrics
from aragora.server.throttling import Throttle
from aragora.settings import Settings
from aragora.wiring import Services

__all__ = ["AppState", "ServiceDep", "StateDep", "app_state"]


@dataclass(slots=True)
class AppState:
    """The running app's parts (``node`` and ``authenticator`` once the lifespan ran)."""

    settings: Settings
    metrics: Metrics
    node: Node[Services] | None = None
    authenticator: Authenticator | None = None
    throttle: Throttle | None = None
    """The inbound rate limits (``None``: none at all)."""
    started: float = field(default_factory=time.monotonic)
    require_auth: bool = field(init=False)
    """``settings.effective_require_auth``, computed once (it parses the host)."""

    def __post_init__(self) -> None:
        self.require_auth = self.settings.effective_require_auth

    def ready_authenticator(self) -> Authenticator:
        """The authenticator; :class:`UnavailableError` (503) before startup."""
        if self.authenticator is None:
            raise UnavailableError("the server is starting or stopping", retry_after=5)
        return self.authenticator

    def ready_node(self) -> Node[Services]:
        """The node; :class:`UnavailableError` (503) before startup or after shutdown."""
        if self.node is None:
            raise UnavailableError("the server is starting or stopping", retry_after=5)
        return self.node


def app_state(connection: HTTPConnection) -> AppState:
    """The app's :class:`AppState` (for a request or a WebSocket)."""
    state: AppState = connection.app.state.aragora
    return state


# Dependencies are coroutines: FastAPI runs a plain ``def`` dependency in a worker thread.
async def _state(connection: HTTPConnection) -> AppState:
    return app_state(connection)


async def _service(connection: HTTPConnection) -> DebateService:
    return app_state(connection).ready_node().service


StateDep = Annotated[AppState, Depends(_state)]
ServiceDep = Annotated[DebateService, Depends(_service)]
