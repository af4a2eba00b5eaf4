"""The operator's ``ARAGORA_DEFAULT_AGENTS`` are trusted like the rest of the operator's
configuration; only specs a caller supplies are held to ``ARAGORA_AGENT_ENDPOINTS``."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from aragora import wiring
from aragora.errors import InvalidAgentSpecError
from aragora.settings import load_settings
from tests.runtime.support import new_storage, wait_until

ENDPOINT_SPEC = "openai-compatible:local-model@http://127.0.0.1:9/v1"  # nothing listens


async def test_default_agents_naming_an_endpoint_run_and_a_callers_are_refused() -> None:
    data_dir = tempfile.mkdtemp(prefix="aragora-defaults-")
    settings = load_settings(
        {
            "ARAGORA_DATA_DIR": data_dir,
            "ARAGORA_DEMO_DELAY": "0",
            "ARAGORA_DEFAULT_AGENTS": ENDPOINT_SPEC,
            "ARAGORA_AGENT_TIMEOUT": "2",
        }
    )
    storage = new_storage()
    node = await wiring.open_node(settings, storage=storage)
    node.start()
    try:
        created = await node.service.create({"task": "Which database?", "mode": "single"})
        assert created["status"] == "queued"
        with pytest.raises(InvalidAgentSpecError, match="ARAGORA_AGENT_ENDPOINTS"):
            await node.service.create({"task": "Which database?", "agents": [ENDPOINT_SPEC]})

        async def ended() -> bool:
            return (await storage.debates.get(created["id"])).status in ("completed", "failed")

        await wait_until(ended, within=30)
        document = (await storage.debates.get(created["id"])).document
        assert document is not None
        # it ran (and failed to reach the endpoint), rather than being refused its panel
        assert "ARAGORA_AGENT_ENDPOINTS" not in str(document.get("error"))
        assert document["agents"][0]["provider"] == "openai-compatible"
    finally:
        await node.close()
        shutil.rmtree(data_dir, ignore_errors=True)
