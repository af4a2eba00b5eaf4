"""Aragora: multi-agent deliberation with a decision, its dissent, its cost and a receipt."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aragora")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
