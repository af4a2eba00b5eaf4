"""deploy/compose.yaml: valid Compose (`docker compose config` when this machine has it,
else the Compose Specification's JSON schema), every variable it needs is in the
committed example env file, and it has the production shape: two backends and a worker
behind the frontend, PostgreSQL 15, Redis 7 and a migration that runs first."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .support import DEPLOY

COMPOSE = DEPLOY / "compose.yaml"
EXAMPLE = DEPLOY / ".env.example"
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"

_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def example_env() -> dict[str, str]:
    """The example env file's variables, with a stand-in for every value left blank
    (the operator fills those in)."""
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip() or f"example-{name.strip().lower()}"
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` substitution."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        value = env.get(name, "")
        if operator in (":?", "?") and not value:
            raise AssertionError(f"{name} is required: {argument}")
        if operator in (":-", "-") and not value:
            return argument
        return value

    return _VARIABLE.sub(substitute, text)


def validate(document: dict[str, Any]) -> None:
    """Validate against the Compose Specification (a draft 2019-09 schema; it names that
    draft by a URI jsonschema does not recognise, so the validator is named here)."""
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator.check_schema(schema)
    jsonschema.Draft201909Validator(schema).validate(document)


def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE.read_text(), example_env()))
    return loaded


def _docker_compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return [docker, "compose"] if probe.returncode == 0 else None


def test_compose_file_is_valid(tmp_path: Path) -> None:
    compose = _docker_compose()
    if compose is not None:
        env_file = tmp_path / ".env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in example_env().items()))
        done = subprocess.run(
            [*compose, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    # The schema check runs either way: it needs no Docker.
    validate(compose_file())


def test_the_schema_check_rejects_what_compose_would() -> None:
    broken = compose_file()
    broken["services"]["aragora-backend"]["deploy"]["replicas"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = compose_file()
    broken["services"]["redis"]["restartt"] = "always"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_every_variable_is_in_the_example_env_file() -> None:
    used = {m.group(1) for m in _VARIABLE.finditer(COMPOSE.read_text())}
    assert used <= set(example_env()), used - set(example_env())
    required = {
        m.group(1) for m in _VARIABLE.finditer(COMPOSE.read_text()) if m.group(2) in (":?", "?")
    }
    assert required == {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "ARAGORA_ADMIN_TOKEN"}
    # The example leaves the secrets blank: nobody runs with a committed password.
    blank = {
        line.split("=")[0]
        for line in EXAMPLE.read_text().splitlines()
        if re.fullmatch(r"[A-Z0-9_]+=", line.strip())
    }
    assert required <= blank


def test_production_shape() -> None:
    services = compose_file()["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "migrate",
        "aragora-backend",
        "aragora-worker",
        "aragora-frontend",
    }
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    backend = services["aragora-backend"]
    assert backend["deploy"]["replicas"] == 2
    assert backend["command"] == ["serve"]
    assert services["aragora-worker"]["command"] == ["worker"]
    migrate = services["migrate"]
    assert [*migrate["entrypoint"], *migrate["command"]] == [
        "python",
        "-m",
        "aragora.migrations.runner",
        "migrate",
    ]
    assert migrate["restart"] == "no"
    for name in ("aragora-backend", "aragora-worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        env = services[name]["environment"]
        assert env["ARAGORA_AUTO_MIGRATE"] == "false"
        assert env["ARAGORA_DATABASE_URL"].startswith("postgresql://aragora:")
        assert env["ARAGORA_DATABASE_URL"].endswith("@postgres:5432/aragora")
        assert env["ARAGORA_REDIS_URL"].endswith("@redis:6379/0")
        assert services[name]["read_only"] is True
        assert services[name]["cap_drop"] == ["ALL"]
        # Longer than ARAGORA_SHUTDOWN_GRACE: running debates get their time.
        assert int(services[name]["stop_grace_period"].rstrip("s")) > int(
            env["ARAGORA_SHUTDOWN_GRACE"]
        )
    # The worker serves no HTTP: the image's /healthz check would mark it unhealthy.
    assert services["aragora-worker"]["healthcheck"] == {"disable": True}
    # Only the frontend publishes a port; nginx reaches the backends by service name.
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"aragora-frontend"}
    nginx = (DEPLOY / "docker" / "nginx.conf").read_text()
    assert "server aragora-backend:8080;" in nginx
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "aragora"
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "aragora"
