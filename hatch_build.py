"""Hatch build hook: put the web UI's build into the wheel and the sdist.

- wheel: ``web/dist`` becomes ``aragora/server/webui`` (what ``aragora.server.web`` serves);
- sdist: ``web/dist`` is added as it is (it is git-ignored, so hatch would leave it out),
  beside the UI's sources, so a wheel built from the sdist needs no Node.js.

Before either, ``node web/scripts/build.mjs`` rebuilds the UI if its sources changed
(``npm ci`` from the committed lockfile, then Vite); it does nothing when the build is
current. Without Node.js an existing current build is used; without either the build
stops with what to install. Editable installs (``uv sync``) skip all of this: a checkout
serves ``web/dist`` directly.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        web = Path(self.root) / "web"
        dist = web / "dist"
        script = web / "scripts" / "build.mjs"
        node = shutil.which("node")
        if node and script.is_file():
            subprocess.run([node, str(script)], check=True)
        elif not (dist / "index.html").is_file():
            raise RuntimeError(
                "the web UI is not built and Node.js is not installed: install Node.js 20 "
                "(with npm) and build again, or build from an sdist, which carries the UI"
            )
        target = "aragora/server/webui" if self.target_name == "wheel" else "web/dist"
        build_data["force_include"][str(dist)] = target
