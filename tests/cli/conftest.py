"""Fixtures shared by the command-line tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _isolated_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the root logger as a fresh process has it, and leaves it so.

    Commands run in-process here, and ``aragora debate`` configures logging to the
    ``sys.stderr`` of its test (a capture stream that is closed afterwards); without this,
    a later test's log records would go to that closed stream."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
