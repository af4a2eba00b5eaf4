"""What the Dockerfiles promise, read from the files (hadolint lints them in deploy/check;
tests/deploy/container-smoke builds and runs them where containers can run): the base
image is a build argument, the runtime stage is the base plus the installed application
and an unprivileged user, the entry point is `aragora serve`, the health check asks
/healthz, and the build context is limited by .dockerignore."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .support import DOCKER, ROOT


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs (name -> default) and the stages of a Dockerfile."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            stages.append(Stage(words[0], words[2] if len(words) > 2 else None))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
        elif keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    return args, stages


def test_backend_image() -> None:
    args, stages = parse(DOCKER / "backend.Dockerfile")
    assert args["BASE_IMAGE"].startswith("python:3.11")
    assert [s.name for s in stages] == ["ui", "build", None]
    build, runtime = stages[1], stages[2]
    # The build and the runtime share the base (the virtual environment points at its
    # Python), given as a build argument.
    assert build.base == runtime.base == "${BASE_IMAGE}"
    # The runtime takes only the installed environment from the build: no compiler, no
    # uv, no caches, no sources.
    copies = runtime.all("COPY")
    assert copies == ["--from=build /opt/aragora /opt/aragora"]
    runs = " ".join(runtime.all("RUN"))
    assert "apt-get" not in runs
    assert "pip" not in runs
    assert "uv " not in runs
    assert runtime.all("USER") == ["10001:10001"]
    assert runtime.all("ENTRYPOINT") == ['["aragora"]']
    assert runtime.all("CMD") == ['["serve"]']
    assert runtime.all("EXPOSE") == ["8080"]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    assert "/healthz" in healthcheck
    env = " ".join(runtime.all("ENV"))
    assert "ARAGORA_HOST=0.0.0.0" in env
    assert "ARAGORA_DATA_DIR=/var/lib/aragora" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    # The dependencies are the locked ones, without the dev group.
    syncs = " ".join(build.all("RUN"))
    assert "uv sync" in syncs
    assert "--locked" in syncs
    assert "--no-dev" in syncs
    # The web app goes into the wheel when the context has one.
    assert "COPY --from=ui /src/web/ web/" in [f"COPY {c}" for c in build.all("COPY")]


def test_frontend_image() -> None:
    args, stages = parse(DOCKER / "frontend.Dockerfile")
    assert args["NGINX_IMAGE"].startswith("nginx:")
    assert [s.name for s in stages] == ["ui", None]
    runtime = stages[1]
    assert runtime.base == "${NGINX_IMAGE}"
    assert "deploy/docker/nginx.conf /etc/aragora/nginx.conf" in runtime.all("COPY")
    assert runtime.all("USER") == ["101:101"]
    assert runtime.all("EXPOSE") == ["8080"]
    (entrypoint,) = runtime.all("ENTRYPOINT")
    assert '"-c", "/etc/aragora/nginx.conf"' in entrypoint
    # nginx runs unprivileged with a read-only root filesystem: everything it writes is
    # under /tmp (an emptyDir or tmpfs), it listens above 1024.
    conf = (DOCKER / "nginx.conf").read_text()
    for directive in re.findall(r"^\s*(?:pid|\w+_temp_path)\s+(\S+);", conf, re.M):
        assert directive.startswith("/tmp/"), directive
    assert re.findall(r"^\s*listen\s+(\S+);", conf, re.M) == ["8080"]


@pytest.mark.parametrize("dockerfile", ["backend.Dockerfile", "frontend.Dockerfile"])
def test_the_ui_is_built_only_when_there_is_one(dockerfile: str) -> None:
    _, stages = parse(DOCKER / dockerfile)
    ui = stages[0]
    assert ui.base == "${NODE_IMAGE}"
    (run,) = ui.all("RUN")
    assert run.startswith("if [ -f web/package.json ]; then")
    assert "npm --prefix web ci" in run
    assert "npm --prefix web run build" in run
    assert "mkdir -p web/dist" in run  # without web/, an empty dist


def test_dockerignore_sends_only_what_the_images_are_built_from() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    included = [line[1:] for line in lines if line.startswith("!")]
    assert included == ["pyproject.toml", "uv.lock", "README.md", "src/", "web/", "deploy/docker/"]
    assert "web/node_modules" in lines
    assert "web/dist" in lines
