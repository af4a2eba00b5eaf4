"""``agent_request`` at DEBUG: one line per agent call of a debate, with its sizes and
timing, never its text.

    agent_request agent=demo:skeptic provider=demo model=skeptic phase=propose
    prompt_chars=1234 max_tokens=1024 seconds=0.0123 outcome=ok answer_chars=456
    input_tokens=300 output_tokens=120

``outcome`` is ``ok`` or the failure's kind (``timeout``, ``rate_limit`` ... or
``error``, ``cancelled``); the answer's fields are null when there is none. The
composition root wraps a debate's agents in :class:`CallLog` only when
``aragora.agents`` logs at DEBUG, so other levels pay nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aragora.agents.resilience.forwarding import Wrapper
from aragora.debate.ports import LLM, Completion, CompletionRequest, TokenCallback
from aragora.errors import ProviderError
from aragora.logs import log_event

__all__ = ["CallLog", "logs_calls"]

_log = logging.getLogger("aragora.agents")


def logs_calls() -> bool:
    """Whether ``agent_request`` lines would be written (``aragora.agents`` at DEBUG)."""
    return _log.isEnabledFor(logging.DEBUG)


class CallLog(Wrapper):
    """Logs ``agent_request`` for every call of the wrapped agent, named ``agent``."""

    def __init__(self, inner: LLM, *, agent: str) -> None:
        super().__init__(inner)
        self._agent = agent

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        started = time.perf_counter()
        outcome = "ok"
        completion: Completion | None = None
        try:
            completion = await self._inner.complete(request, on_token)
            return completion
        except ProviderError as exc:
            outcome = exc.kind
            raise
        except TimeoutError:
            outcome = "timeout"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            usage = completion.usage if completion is not None else None
            log_event(
                _log,
                "agent_request",
                logging.DEBUG,
                agent=self._agent,
                provider=self.provider,
                model=self.model,
                phase=request.phase,
                prompt_chars=len(request.system) + len(request.prompt),
                max_tokens=request.max_tokens,
                seconds=round(time.perf_counter() - started, 4),
                outcome=outcome,
                answer_chars=len(completion.text) if completion is not None else None,
                input_tokens=usage.input_tokens if usage is not None else None,
                output_tokens=usage.output_tokens if usage is not None else None,
            )
