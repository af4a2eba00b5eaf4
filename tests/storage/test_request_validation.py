"""Requests are checked before anything is stored, so a value no backend could hold is a
400 naming its field on every backend (on PostgreSQL it used to be a 500 or a debate
looping on its appends)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aragora import wiring
from aragora.errors import UserError
from aragora.records.debates import Storage
from aragora.runtime.node import Node
from aragora.settings import load_settings


@pytest.fixture
async def node(store: Storage) -> AsyncIterator[Node]:
    data_dir = tempfile.mkdtemp(prefix="aragora-validation-")
    settings = load_settings({"ARAGORA_DATA_DIR": data_dir, "ARAGORA_DEMO_DELAY": "0"})
    node = await wiring.open_node(settings, storage=store)
    try:
        yield node
    finally:
        await node.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "p", "agents": ["demo#" + "L" * 300], "mode": "single"}, "label"),
        ({"task": "p", "agents": ["demo:" + "m" * 151]}, "model"),
        ({"task": "p\x00q"}, "task"),
        ({"task": "p", "context": "a\x00b"}, "context"),
        ({"task": "p", "metadata": {"k": "\x00"}}, "metadata.k"),
        ({"task": "p", "agents": ["demo#a\x00b"]}, r"agents\[0\]"),
        ({"task": "p", "agents": ["demo#a\ud800b"]}, r"agents\[0\]"),
    ],
)
async def test_a_value_no_backend_could_hold_is_refused_before_storing(
    node: Node, store: Storage, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(UserError, match=field):
        await node.service.create(body)
    assert (await store.debates.counts())["queued"] == 0
