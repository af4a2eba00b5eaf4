"""The public API clients import, pinned as httpx pins its own: a public name cannot
disappear, and a new one cannot appear undeclared, without this file changing with it."""

from __future__ import annotations

import inspect
from types import ModuleType

import aragora
from aragora import errors


def defined_in(module: ModuleType) -> list[str]:
    """The public names ``module`` defines itself: not submodules, not names it imports."""
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", module.__name__) == module.__name__
    )


def test_the_package_exports_its_version_only() -> None:
    assert aragora.__all__ == ["__version__"]
    assert defined_in(aragora) == []
    assert isinstance(aragora.__version__, str)


def test_the_exception_tree_is_pinned() -> None:
    assert errors.__all__ == [
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
    assert errors.__all__ == defined_in(errors)  # nothing defined there goes undeclared


def test_every_error_is_in_the_tree_and_drawn_in_it() -> None:
    drawing = errors.__doc__ or ""
    for name in errors.__all__:
        kind = getattr(errors, name)
        assert issubclass(kind, errors.AragoraError), name
        assert f" {name} " in drawing or f" {name}\n" in drawing, name
