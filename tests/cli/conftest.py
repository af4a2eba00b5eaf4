"""Fixtures shared by the command-line tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """Each test starts with the root logger as a fresh process has it, and leaves it so.

    Commands run in-process here, and ``aragora debate`` configures logging to the
    ``sys.stderr`` of its test (a capture stream that is closed afterwards); without this,
    a later test's log records would go to that closed stream. The levels it sets on
    Aragora's loggers are put back too (with ``setLevel``, which clears logging's cache)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name).level for name in ("aragora", "aragora.access")}
    root.handlers = []
    root.setLevel(logging.WARNING)
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers = handlers
    root.setLevel(level)
    for name, previous in named.items():
        logging.getLogger(name).setLevel(previous)
