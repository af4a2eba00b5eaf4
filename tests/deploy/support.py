"""Shared helpers of the deploy/ tests: where things are, the rendered kustomizations, and
the tools the checks need (kubectl, promtool, nginx), which skip a test when missing
except under CI=true, where a missing tool is a failure."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
MONITORING = DEPLOY / "monitoring"
DOCKER = DEPLOY / "docker"
OPERATIONS = ROOT / "docs" / "operations.md"

# kustomization directory -> what it is
OVERLAYS = {
    "default": K8S,
    "production": K8S / "production",
    "cluster-issuer": K8S / "cluster-issuer",
}

Resource = dict[str, Any]


def require_tool(name: str, how: str) -> str:
    """The path of ``name``; skips the test when it is missing (fails under CI=true)."""
    found = shutil.which(name)
    if found:
        return found
    reason = f"{name} is not on PATH ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; scripts/test installs it, or install it on the CI image")
    pytest.skip(reason)


@functools.cache
def _rendered_text(directory: Path) -> str:
    kubectl = require_tool("kubectl", "kubectl kustomize renders deploy/k8s")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return done.stdout


def render(overlay: str) -> list[Resource]:
    """The resources ``kubectl kustomize`` renders for one of :data:`OVERLAYS`."""
    return [doc for doc in yaml.safe_load_all(_rendered_text(OVERLAYS[overlay])) if doc]


def rendered_text(overlay: str) -> str:
    """The YAML ``kubectl kustomize`` prints for one of :data:`OVERLAYS`."""
    return _rendered_text(OVERLAYS[overlay])


def find(resources: Iterable[Resource], kind: str, name: str) -> Resource:
    """The one resource of ``kind`` named ``name``."""
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def names(resources: Iterable[Resource], kind: str) -> set[str]:
    """The names of every resource of ``kind``."""
    return {r["metadata"]["name"] for r in resources if r["kind"] == kind}


def pod_spec(workload: Resource) -> dict[str, Any]:
    """The pod template's spec of a Deployment, StatefulSet, Job or CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]["spec"]
    return template


def container(workload: Resource, name: str) -> dict[str, Any]:
    """The container (or init container) ``name`` of a workload's pod template."""
    spec = pod_spec(workload)
    found = [c for c in [*spec.get("initContainers", []), *spec["containers"]] if c["name"] == name]
    assert len(found) == 1, f"{workload['metadata']['name']} has no container {name!r}"
    return found[0]


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    """A container's ``env`` as name -> entry."""
    return {e["name"]: e for e in c.get("env", [])}


def configmap_data(resources: Iterable[Resource], name: str) -> dict[str, str]:
    data: dict[str, str] = find(resources, "ConfigMap", name)["data"]
    return data


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
