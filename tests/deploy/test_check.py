"""`deploy/check`, the gate scripts/test runs: it passes on deploy/ as it is, and fails on
a manifest that Kubernetes would reject or that names an apiVersion with no schema."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .support import DEPLOY, ROOT, require_tool


def _copy_of_deploy(tmp_path: Path) -> Path:
    """deploy/ copied into a scratch checkout that shares this one's .venv."""
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    require_tool("kubectl", "deploy/check renders deploy/k8s with it")
    require_tool("promtool", "scripts/test installs the Debian package prometheus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")}
    return subprocess.run(
        ["bash", str(root / "deploy" / "check")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_deploy_check_passes(tmp_path: Path) -> None:
    done = _check(_copy_of_deploy(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "ok  kubectl kustomize deploy/k8s |",
        "ok  kubectl kustomize deploy/k8s/production |",
        "ok  promtool test rules",
        "ok  hadolint",
    ):
        assert line in done.stdout


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        # A field no Deployment has.
        (
            "  revisionHistoryLimit: 10\n",
            "  revisionHistoryLimit: 10\n  replicass: 2\n",
            "replicass",
        ),
        # An apiVersion with no schema: kubernetes-validate only warns; the check fails.
        (
            "apiVersion: apps/v1\nkind: Deployment\n",
            "apiVersion: apps/v2\nkind: Deployment\n",
            "apps/v2",
        ),
    ],
)
def test_deploy_check_fails_on_a_bad_manifest(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    root = _copy_of_deploy(tmp_path)
    backend = root / "deploy" / "k8s" / "base" / "backend.yaml"
    text = backend.read_text()
    assert old in text
    backend.write_text(text.replace(old, new, 1))
    done = _check(root)
    assert done.returncode != 0
    assert said in done.stderr


def test_deploy_check_fails_on_a_failing_alert_test(tmp_path: Path) -> None:
    root = _copy_of_deploy(tmp_path)
    alerts = root / "deploy" / "monitoring" / "prometheus" / "alerts.yaml"
    alerts.write_text(alerts.read_text().replace(") > 0.05", ") > 0.5", 1))
    done = _check(root)
    assert done.returncode != 0
    assert "promtool test rules failed" in done.stderr
