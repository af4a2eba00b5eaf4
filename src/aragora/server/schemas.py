"""The HTTP wire models: request bodies, and the response shapes the OpenAPI document
describes (CONTRACT.md). Separate from the core's models (``aragora.debate.model``).

Routes return the service's documents as they are (rendered with orjson, not re-validated
through these models): the service is the authority on the content; these models are the
documentation of it, and the tests check real responses against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

from aragora.debate.protocol import MAX_ROUNDS, ConsensusRule, Mode
from aragora.runtime.debate_request import MAX_PRIORITY

__all__ = [
    "AgentsBody",
    "CancelBody",
    "CreateDebateBody",
    "CreateDebateRequest",
    "DebateDocument",
    "DebateList",
    "ErrorBody",
    "EventsBody",
    "HealthBody",
    "LeaderboardBody",
    "MaintenanceBody",
    "MaintenanceUpdate",
    "MessagesBody",
    "ReadinessBody",
    "StatsBody",
]


def _whole_number(value: Any) -> Any:
    # JSON Schema's integer is any number without a fraction (4.0 included), but never a
    # boolean or a string: pydantic's lax int would take `true` and "4".
    if isinstance(value, bool | str):
        raise ValueError("must be an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the models are strict, and 4.0 is an integer in JSON Schema
    return value


# Integers as JSON Schema means them: 4 and 4.0, never true or "4". The bounds come before
# the check so that the schema shows them as minimum/maximum.
Rounds = Annotated[int, Field(ge=1, le=MAX_ROUNDS), BeforeValidator(_whole_number)]
Priority = Annotated[int, Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY), BeforeValidator(_whole_number)]

ComponentStatus = Literal["healthy", "degraded", "unhealthy", "disabled"]
DebateStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class _Open(BaseModel):
    """A response document: the named fields are promised, more may follow."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Every error: a readable message, a machine code, and the request id."""

    error: str = Field(examples=["debate 42 not found"])
    code: str = Field(examples=["not_found"])
    trace_id: str = Field(description="The request's X-Request-ID; quote it in reports.")


class CreateDebateRequest(BaseModel):
    """``POST /api/v1/debates``. Only ``task`` is required; top-level ``mode``, ``rounds``,
    ``consensus`` and ``judge`` override the same fields of ``protocol``. The service
    validates the values (400 naming the first problem). Strict: a value of the wrong
    JSON type is refused, never converted (``"3"`` is not a number of rounds, ``true``
    not 1), as inside ``protocol``; ``null`` means the default."""

    model_config = ConfigDict(extra="allow", strict=True)

    task: str = Field(min_length=1, description="The question or task to deliberate.")
    agents: list[str] | None = Field(
        default=None, description="Agent specs (`provider:model[#label]`, `demo`, ...)."
    )
    # Enums arrive as JSON strings: strict for everything but their conversion.
    mode: Mode | None = Field(
        default=None, strict=False, description="auto, debate, vote or single."
    )
    rounds: Rounds | None = Field(default=None, description="Maximum debate rounds.")
    consensus: ConsensusRule | None = Field(
        default=None, strict=False, description="The consensus rule."
    )
    judge: str | None = Field(default=None, description="A panel member who decides.")
    protocol: dict[str, Any] | None = Field(default=None, description="Protocol settings.")
    context: str | None = Field(default=None, description="Background the agents see.")
    metadata: dict[str, Any] | None = Field(default=None, description="Kept with the debate.")
    priority: Priority | None = Field(
        default=None,
        description="Queue priority from -100 to 100 (null or absent: 0): higher runs first.",
    )

    @model_validator(mode="before")
    @classmethod
    def _question_is_task(cls, data: Any) -> Any:
        # ``question`` is the service's other name for ``task``.
        if isinstance(data, dict) and "task" not in data and "question" in data:
            return {**data, "task": data["question"]}
        return data


class CreateDebateBody(_Open):
    """202: the debate is queued."""

    success: Literal[True]
    debate_id: str
    id: str
    status: Literal["queued"]
    task: str
    queue_position: int = Field(description="1 is claimed next.")
    priority: int = 0


class DebateDocument(_Open):
    """The debate: request, progress and (once finished) the decision and its cost."""

    id: str
    debate_id: str
    task: str | None
    status: DebateStatus
    mode: str | None = None
    agents: list[Any] = Field(default_factory=list)
    rounds: int | None = None
    rounds_used: int | None = None
    consensus_reached: bool | None = None
    final_answer: str | None = None
    confidence: float | None = None
    votes: list[Any] | dict[str, Any] | None = None
    dissent: list[Any] | dict[str, Any] | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    cost: dict[str, Any] | None = Field(default=None, description="tokens, usd, per_agent")
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_seconds: float | None = None
    error: str | dict[str, Any] | None = None


class DebateList(_Open):
    """One page of debates, newest first (``items`` repeats ``debates``)."""

    debates: list[dict[str, Any]]
    items: list[dict[str, Any]]
    total: int
    count: int
    limit: int
    offset: int
    has_more: bool


class MessagesBody(_Open):
    """The debate's messages in order."""

    messages: list[dict[str, Any]]


class EventsBody(_Open):
    """Stored events after ``since``; ask again with ``since=next_since``."""

    events: list[dict[str, Any]]
    next_since: int


class CancelBody(_Open):
    """The cancellation was accepted (``cancelled`` at once when still queued)."""

    success: bool
    debate_id: str
    id: str
    status: str


class HealthBody(BaseModel):
    """``GET /api/health``: 200 when healthy or degraded, 503 when the database is down."""

    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    components: dict[str, ComponentStatus] = Field(
        description="database, redis and agents", examples=[{"database": "healthy"}]
    )
    maintenance: bool
    uptime_seconds: float
    timestamp: str


class ReadinessBody(BaseModel):
    """``GET /readyz`` and ``GET /healthz``."""

    status: str


class StatsBody(_Open):
    """``GET /api/admin/stats``."""

    active_debates: int
    queued_debates: int
    completed_debates: int
    failed_debates: int
    total_debates: int
    agents: dict[str, Any]
    maintenance: bool
    uptime_seconds: float


class MaintenanceBody(_Open):
    """The shared maintenance flag."""

    enabled: bool
    message: str


class MaintenanceUpdate(BaseModel):
    """Turn maintenance on or off; ``message`` is what clients are told meanwhile."""

    enabled: StrictBool
    message: str | None = None


class AgentsBody(_Open):
    """The configured agents."""

    agents: list[dict[str, Any]]
    total: int


class LeaderboardBody(_Open):
    """Agents by ELO, highest first: ``{agent, elo, wins, losses, debates}`` each."""

    rankings: list[dict[str, Any]]
    total: int
