"""The monitoring of deploy/monitoring: the rules and the dashboard use only metrics and
labels Aragora exports, hold the runbook's queries, link every alert to its section of
docs/operations.md, have a promtool test that fires and one that stays silent for every
alert, and the PrometheusRule for the Operator is the rule files, unchanged.
(`deploy/check` runs promtool check rules and promtool test rules.)"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from aragora.server.metrics import Metrics

from .support import MONITORING, OPERATIONS, load_yaml, require_tool

PROMETHEUS = MONITORING / "prometheus"
ALERTS = PROMETHEUS / "alerts.yaml"
RECORDING = PROMETHEUS / "recording-rules.yaml"
ALERT_TESTS = PROMETHEUS / "tests" / "alerts.test.yaml"
DASHBOARD = MONITORING / "grafana" / "aragora.json"

# The runbook's appendix ("Prometheus Queries"), verbatim.
RUNBOOK_QUERIES = {
    "error rate": 'sum(rate(aragora_http_requests_total{status=~"5.."}[5m])) / '
    "sum(rate(aragora_http_requests_total[5m])) * 100",
    "p95 latency": "histogram_quantile(0.95, "
    "sum(rate(aragora_http_request_duration_seconds_bucket[5m])) by (le))",
    "active debates": "aragora_active_debates",
    "memory": 'process_resident_memory_bytes{job="aragora-backend"} / 1024 / 1024 / 1024',
}
# Metrics of other exporters the rules use, and the exporter that has them.
FOREIGN_PREFIXES = ("kube_", "pg_", "certmanager_", "process_", "up", "ALERTS")


def rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return rules(ALERTS)


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def all_exprs() -> list[str]:
    return [r["expr"] for r in rules(ALERTS) + rules(RECORDING)] + dashboard_exprs()


# --- the PrometheusRule is the rule files -----------------------------------------------------
def _renderer() -> Any:
    path = MONITORING / "render-prometheusrule"
    loader = importlib.machinery.SourceFileLoader("render_prometheusrule", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_prometheusrule_is_generated_from_the_rule_files() -> None:
    committed = (MONITORING / "prometheusrule.yaml").read_text()
    assert committed == _renderer().render(), (
        "deploy/monitoring/prometheusrule.yaml is out of date: run "
        "deploy/monitoring/render-prometheusrule"
    )
    resource = yaml.safe_load(committed)
    assert resource["kind"] == "PrometheusRule"
    assert (
        resource["spec"]["groups"] == load_yaml(RECORDING)["groups"] + load_yaml(ALERTS)["groups"]
    )


# --- metric and label names ---------------------------------------------------------------
def _exported() -> dict[str, set[str]]:
    """Every sample name the app's metrics registry exports, with its label names."""
    metrics = Metrics()
    exported: dict[str, set[str]] = {}
    families: Iterator[Metric] = metrics.registry.collect()
    collectors = {c._name: c for c in _collectors(metrics)}
    for family in families:
        collector = collectors.get(family.name)
        labels = set(getattr(collector, "_labelnames", ()))
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        for suffix in suffixes.get(family.type, [""]):
            exported[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return exported


def _collectors(metrics: Metrics) -> list[Any]:
    return [value for value in vars(metrics).values() if hasattr(value, "_labelnames")]


_SELECTOR = re.compile(r"\b(aragora_[a-z_]+)(\{[^}]*\})?")


def test_rules_and_dashboard_use_only_what_aragora_exports() -> None:
    exported = _exported()
    for expr in all_exprs():
        for name, matchers in _SELECTOR.findall(expr):
            assert name in exported, f"{name} is not exported by aragora ({expr})"
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers):
                if label == "maintenance":
                    continue  # see test_maintenance_is_excluded_whether_labelled_or_not
                assert label in exported[name] | {"job", "instance", "pod", "namespace"}, (
                    f"{name} has no label {label} ({expr})"
                )


def test_maintenance_is_excluded_whether_labelled_or_not() -> None:
    # The planned-maintenance exclusion must hold for series with the label
    # (maintenance="true") and without it (a server that does not label): a negative
    # matcher on "true" counts unlabelled series as unplanned.
    uses = [e for e in all_exprs() if "maintenance" in e]
    assert uses
    for expr in uses:
        assert re.findall(r'maintenance\s*(=~|!~|!=|=)\s*"([^"]*)"', expr) == [("!=", "true")], expr
    (alert,) = [a for a in alerts() if a["alert"] == "AragoraHighErrorRate"]
    assert 'maintenance!="true"' in alert["expr"]


def test_recording_rules_hold_the_runbooks_queries() -> None:
    recorded = {r["record"]: r["expr"] for r in rules(RECORDING)}
    assert recorded["aragora:http_error_rate:percent5m"] == RUNBOOK_QUERIES["error rate"]
    assert (
        recorded["aragora:http_request_duration_seconds:p95_5m"] == RUNBOOK_QUERIES["p95 latency"]
    )
    assert recorded["aragora:process_resident_memory:gib"] == RUNBOOK_QUERIES["memory"]
    assert recorded["aragora:active_debates:max"] == f"max({RUNBOOK_QUERIES['active debates']})"
    for name in recorded:
        assert re.fullmatch(r"aragora:[a-z0-9_]+:[a-z0-9_]+", name), name


def test_dashboard_shows_the_runbooks_queries() -> None:
    exprs = dashboard_exprs()
    for name, query in RUNBOOK_QUERIES.items():
        assert query in exprs, f"the dashboard lacks the runbook's {name} query"
    board = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"]


def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    promtool = require_tool("promtool", "scripts/test installs the Debian package prometheus")
    # promtool parses a recording rule's expression: one per expression of the dashboard.
    exprs = dashboard_exprs() + [a["expr"] for a in alerts()]
    rule_file = tmp_path / "exprs.yaml"
    rule_file.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "exprs",
                        "rules": [
                            {"record": f"check:expr:{i}", "expr": e} for i, e in enumerate(exprs)
                        ],
                    }
                ]
            }
        )
    )
    done = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # And the check is no formality: a broken expression is rejected.
    rule_file.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "x", "rules": [{"record": "a:b:c", "expr": "sum(rate(x[5m])"}]}]}
        )
    )
    broken = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert broken.returncode != 0


# --- alerts: severity, runbook link, tests ----------------------------------------------------
def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of ``markdown``."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6} (.+)", line)
        if heading:
            text = heading.group(1).strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            anchors.add(text.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
def test_every_alert_has_a_severity_and_a_runbook_section(alert: dict[str, Any]) -> None:
    assert alert["alert"].startswith("Aragora")
    assert alert["labels"]["severity"] in {"critical", "warning"}
    notes = alert["annotations"]
    assert notes["summary"]
    assert notes["description"]
    path, _, anchor = notes["runbook_url"].partition("#")
    assert path == "docs/operations.md"
    assert anchor in github_anchors(OPERATIONS.read_text()), notes["runbook_url"]
    # The guide names the alert in the section it links to.
    section = OPERATIONS.read_text().split("\n## ")
    assert any(alert["alert"] in part for part in section)


def test_every_alert_has_a_firing_and_a_silent_promtool_test() -> None:
    tests = load_yaml(ALERT_TESTS)
    assert tests["rule_files"] == ["../alerts.yaml", "../recording-rules.yaml"]
    fired: set[str] = set()
    silent: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else silent).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert fired == names
    assert silent == names
