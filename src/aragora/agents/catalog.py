"""Facts about models kept as data: per-model request quirks and OpenRouter fallback ids.

``data/model_quirks.json`` says which models reject ``temperature``, which field caps
their output and which role carries the system prompt. ``data/openrouter_models.json``
maps ``provider:model`` to the OpenRouter model ids a call falls back to, in order; the
operator may replace it with a file of the same format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from aragora.errors import ConfigurationError

__all__ = ["ModelQuirks", "OpenRouterMap", "QuirkBook"]


@dataclass(frozen=True, slots=True)
class ModelQuirks:
    """How to phrase a request for one model."""

    temperature: bool = True
    """Whether the model accepts ``temperature`` (reasoning models do not)."""
    max_tokens_param: str = "max_tokens"
    system_role: str = "system"
    thinking_budget: int | None = None
    """Gemini: tokens the model may spend thinking (0 turns thinking off)."""


@dataclass(frozen=True, slots=True)
class _Rule:
    provider: str
    prefixes: tuple[str, ...]
    changes: Mapping[str, Any]


_QUIRK_FIELDS = {"temperature": bool, "max_tokens_param": str, "system_role": str}


def _read(name: str, path: Path | None) -> Any:
    try:
        if path is None:
            text = resources.files("aragora.agents").joinpath(f"data/{name}").read_text()
        else:
            text = path.read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path or name}: {exc}") from exc


class QuirkBook:
    """Model quirks by provider and model-name prefix; later rules override earlier ones."""

    def __init__(self, rules: Sequence[_Rule] = ()) -> None:
        self._rules = tuple(rules)

    @classmethod
    def load(cls, path: Path | None = None) -> QuirkBook:
        """The shipped rules (or those at ``path``); a malformed file is a
        :class:`ConfigurationError` naming it."""
        data = _read("model_quirks.json", path)
        rules = []
        try:
            for entry in data["rules"]:
                changes: dict[str, Any] = {}
                for field, kind in _QUIRK_FIELDS.items():
                    if field in entry:
                        if not isinstance(entry[field], kind):
                            raise TypeError(f"{field} must be a {kind.__name__}")
                        changes[field] = entry[field]
                if "thinking_budget" in entry:
                    changes["thinking_budget"] = int(entry["thinking_budget"])
                prefixes = tuple(str(p) for p in entry["prefixes"])
                rules.append(_Rule(str(entry["provider"]), prefixes, changes))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"malformed model quirks ({path or 'shipped'}): {exc}"
            ) from exc
        return cls(rules)

    def for_model(self, provider: str, model: str) -> ModelQuirks:
        """The quirks of ``provider:model`` (defaults when no rule matches)."""
        quirks = ModelQuirks()
        for rule in self._rules:
            if rule.provider == provider and model.startswith(rule.prefixes):
                quirks = replace(quirks, **rule.changes)
        return quirks


class OpenRouterMap:
    """``provider:model`` -> the OpenRouter model ids its calls fall back to, in order."""

    def __init__(
        self, models: Mapping[str, Sequence[str]], prefixes: Mapping[str, str] | None = None
    ) -> None:
        self._models = {key: tuple(ids) for key, ids in models.items()}
        self._prefixes = dict(prefixes or {})

    @classmethod
    def load(cls, path: Path | None = None) -> OpenRouterMap:
        """The shipped mapping, or the operator's file at ``path`` (same format)."""
        data = _read("openrouter_models.json", path)
        try:
            models = {str(k): [str(i) for i in v] for k, v in data.get("models", {}).items()}
            prefixes = {str(k): str(v) for k, v in data.get("prefixes", {}).items()}
        except (AttributeError, TypeError) as exc:
            raise ConfigurationError(
                f"malformed OpenRouter model map ({path or 'shipped'}): {exc}"
            ) from exc
        return cls(models, prefixes)

    def targets(self, provider: str, model: str) -> tuple[str, ...]:
        """OpenRouter ids for ``provider:model``: the listed ones, else prefix + model when
        the provider has a prefix, else none (no fallback)."""
        listed = self._models.get(f"{provider}:{model}")
        if listed is not None:
            return listed
        prefix = self._prefixes.get(provider)
        return (prefix + model,) if prefix is not None else ()
