"""What a call costs: token prices per model, read from a data file.

``data/pricing.json`` holds input/output USD per million tokens per ``provider:model``
and the date the prices were taken. Cost is always computed from the usage the provider
reported for the call (or taken as reported, when the provider states a cost itself, as
OpenRouter does), or from the adapter's token estimate when the provider reported none
(:mod:`aragora.agents.tokens`); :meth:`PriceTable.estimate` gives the most a request could
cost, for budget checks made before the call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aragora.agents.tokens import estimate_prompt_tokens
from aragora.debate.ports import CompletionRequest, Usage
from aragora.errors import ConfigurationError

__all__ = ["Price", "PriceTable", "estimate_input_tokens"]

_PER = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost of this many tokens, in USD."""
        return (input_tokens * self.input + output_tokens * self.output) / _PER


def estimate_input_tokens(request: CompletionRequest) -> int:
    """A tokenizer-free estimate of a request's prompt size (its system and user messages
    with chat framing; see :mod:`aragora.agents.tokens`)."""
    messages = [request.system, request.prompt] if request.system else [request.prompt]
    return estimate_prompt_tokens(messages)


class PriceTable:
    """Prices by ``provider:model``; ``provider:*`` prices a whole provider (local models)."""

    def __init__(self, prices: Mapping[str, Price], *, taken: str = "") -> None:
        self._prices = dict(prices)
        self.taken = taken
        """The date the prices were taken (ISO 8601)."""

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The shipped table, or the one at ``path``. Raises
        :class:`ConfigurationError` naming the file when it is unreadable or malformed."""
        try:
            if path is None:
                text = resources.files("aragora.agents").joinpath("data/pricing.json").read_text()
            else:
                text = path.read_text(encoding="utf-8")
            data: Any = json.loads(text)
            prices = {
                str(key): Price(float(entry["input"]), float(entry["output"]))
                for key, entry in data["models"].items()
            }
            taken = str(data.get("taken", ""))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            where = path or "the shipped pricing.json"
            raise ConfigurationError(f"cannot read prices from {where}: {exc}") from exc
        if any(p.input < 0 or p.output < 0 for p in prices.values()):
            raise ConfigurationError(f"negative price in {path or 'pricing.json'}")
        return cls(prices, taken=taken)

    def price(self, provider: str, model: str) -> Price | None:
        """The price of ``provider:model``: an exact entry, else the longest entry the model
        extends with a ``-``suffix (a dated snapshot), else ``provider:*``, else None."""
        key = f"{provider}:{model}"
        exact = self._prices.get(key)
        if exact is not None:
            return exact
        best: tuple[int, Price] | None = None
        for known, price in self._prices.items():
            if key.startswith(known + "-") and (best is None or len(known) > best[0]):
                best = (len(known), price)
        if best is not None:
            return best[1]
        return self._prices.get(f"{provider}:*")

    def usage(
        self,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        reported_cost: float | None = None,
        *,
        estimated: bool = False,
    ) -> Usage:
        """Usage with its cost: ``reported_cost`` when the provider gave one, else priced
        from the table (0 for an unpriced model). ``estimated`` marks token counts the
        adapter estimated because the provider reported none."""
        if reported_cost is not None and reported_cost >= 0:
            cost = reported_cost
        else:
            price = self.price(provider, model)
            cost = price.cost(input_tokens, output_tokens) if price else 0.0
        return Usage(input_tokens, output_tokens, round(cost, 10), estimated)

    def estimate(self, provider: str, model: str, request: CompletionRequest) -> Usage:
        """The most ``request`` could use: its estimated prompt plus ``max_tokens`` of output."""
        return self.usage(provider, model, estimate_input_tokens(request), request.max_tokens)
