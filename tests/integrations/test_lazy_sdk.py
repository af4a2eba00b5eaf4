"""The MCP SDK is imported only where MCP is served: never by ``aragora --help`` or by the
server's start (the ``/mcp`` endpoint imports it on its first request)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "statement",
    [
        "import aragora.server.app",
        "from aragora.cli.main import build_parser; build_parser()",
    ],
)
def test_the_mcp_sdk_is_not_imported_up_front(statement: str) -> None:
    code = f"import sys\n{statement}\nprint('mcp' in sys.modules, 'openai' in sys.modules)\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
