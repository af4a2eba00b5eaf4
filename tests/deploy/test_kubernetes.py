"""What the Kubernetes manifests say: the runbook's names and settings, the probes, grace
periods and security context, who may reach whom, the production overlay, and the
custom resources (cert-manager, prometheus-operator) against the models generated from
their published CRDs. (`deploy/check` runs kubernetes-validate --strict on the built-in
resources; see also test_check.py.)"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from cloudcoil.models.cert_manager import v1 as cert_manager
from cloudcoil.models.prometheus_operator import v1 as prometheus_operator

from aragora.settings import load_settings

from .support import (
    Resource,
    configmap_data,
    container,
    env_of,
    find,
    names,
    pod_spec,
    render,
    require_tool,
)

NAMESPACE = "aragora"
CLUSTER_SCOPED = {"Namespace", "ClusterIssuer"}
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}

# The runbook's Kubernetes commands, verbatim (spec/runbook.txt).
RUNBOOK_KUBECTL = [
    "kubectl -n aragora get pods",
    "kubectl -n aragora top pods",
    "kubectl -n aragora get events --sort-by=.metadata.creationTimestamp | tail -20",
    'kubectl -n aragora logs deployment/aragora-backend --tail=100 | grep "agent_response_time"',
    "kubectl -n aragora scale deployment/aragora-backend --replicas=4",
    'kubectl -n aragora logs deployment/aragora-backend | grep "websocket"',
    'kubectl -n ingress-nginx logs -l app.kubernetes.io/name=ingress-nginx | grep "websocket"',
    'kubectl -n aragora logs deployment/aragora-backend | grep "rate_limit\\|429\\|timeout"',
    "kubectl -n aragora rollout history deployment/aragora-backend",
    "kubectl -n aragora rollout undo deployment/aragora-backend",
    "kubectl -n aragora rollout status deployment/aragora-backend",
    "kubectl -n aragora get certificate",
    "kubectl -n aragora delete secret aragora-tls",
    "kubectl -n aragora annotate certificate aragora-cert "
    'cert-manager.io/issue-temporary-certificate="true"',
    "kubectl -n aragora scale deployment/aragora-backend --replicas=5",
    "kubectl -n aragora scale deployment/aragora-frontend --replicas=3",
    "kubectl -n aragora get pods -w",
    "kubectl -n aragora set resources deployment/aragora-backend \\\n"
    "--limits=memory=4Gi,cpu=2000m \\\n"
    "--requests=memory=1Gi,cpu=500m",
    "kubectl -n aragora exec -it postgres-0 -- pg_dump -U aragora aragora > backup.sql",
    "kubectl -n aragora exec -i postgres-0 -- psql -U aragora aragora < backup.sql",
    "kubectl -n aragora get pods -o wide",
    "kubectl -n aragora logs deployment/aragora-backend --tail=100 -f",
    "kubectl -n aragora get events --sort-by=.lastTimestamp | tail -20",
    "kubectl -n aragora set env deployment/aragora-backend ARAGORA_LOG_LEVEL=DEBUG",
    "kubectl -n aragora set env deployment/aragora-backend ARAGORA_LOG_LEVEL=INFO",
]


# --- quantities -----------------------------------------------------------------------------
_SUFFIXES = {
    "m": Decimal("0.001"),
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
}


def quantity(value: object) -> Decimal:
    """A Kubernetes quantity (``500m``, ``2``, ``1Gi``) as a number."""
    text = str(value)
    for suffix, factor in _SUFFIXES.items():
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * factor
    return Decimal(text)


def resources_of(c: Mapping[str, Any]) -> dict[str, dict[str, Decimal]]:
    return {
        kind: {name: quantity(v) for name, v in values.items()}
        for kind, values in c["resources"].items()
    }


RUNBOOK_RESOURCES = {
    "limits": {"memory": quantity("4Gi"), "cpu": quantity("2000m")},
    "requests": {"memory": quantity("1Gi"), "cpu": quantity("500m")},
}


@pytest.fixture(scope="module")
def default() -> list[Resource]:
    return render("default")


@pytest.fixture(scope="module")
def production() -> list[Resource]:
    return render("production")


# --- every kustomization --------------------------------------------------------------------
@pytest.mark.parametrize("overlay", ["default", "production"])
def test_everything_lives_in_the_aragora_namespace(overlay: str) -> None:
    resources = render(overlay)
    assert find(resources, "Namespace", NAMESPACE)
    for r in resources:
        if r["kind"] in CLUSTER_SCOPED:
            continue
        assert r["metadata"].get("namespace") == NAMESPACE, r["metadata"]


def test_cluster_issuer_is_applied_on_its_own() -> None:
    (issuer,) = render("cluster-issuer")
    assert issuer["kind"] == "ClusterIssuer"
    assert "namespace" not in issuer["metadata"]


@pytest.mark.parametrize("overlay", ["default", "production"])
def test_every_image_is_pinned_to_a_tag(overlay: str) -> None:
    for r in render(overlay):
        if r["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(r)
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", c["image"]), (
                r["metadata"]["name"],
                c["image"],
            )


# --- the runbook's names ---------------------------------------------------------------------
def test_the_runbooks_deployments_exist(default: list[Resource]) -> None:
    assert names(default, "Deployment") >= {"aragora-backend", "aragora-frontend", "aragora-worker"}


def test_postgres_0_is_postgresql_15_with_user_and_database_aragora(
    default: list[Resource],
) -> None:
    postgres = find(default, "StatefulSet", "postgres")
    # A StatefulSet names its first pod <name>-0.
    assert postgres["spec"]["replicas"] == 1
    template = postgres["spec"]["template"]
    # `kubectl exec postgres-0 -- …` picks the default container.
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == (
        "postgres"
    )
    db = container(postgres, "postgres")
    assert db["image"].startswith("postgres:15")
    env = env_of(db)
    assert env["POSTGRES_USER"]["value"] == "aragora"
    assert env["POSTGRES_DB"]["value"] == "aragora"
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "aragora-secrets"
    assert postgres["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]


def test_certificate_aragora_cert_feeds_secret_aragora_tls_to_the_ingress(
    default: list[Resource],
) -> None:
    cert = find(default, "Certificate", "aragora-cert")
    assert cert["spec"]["secretName"] == "aragora-tls"
    ingress = find(default, "Ingress", "aragora")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (tls,) = ingress["spec"]["tls"]
    assert tls["secretName"] == "aragora-tls"
    assert set(tls["hosts"]) == set(cert["spec"]["dnsNames"])
    assert {rule["host"] for rule in ingress["spec"]["rules"]} == set(cert["spec"]["dnsNames"])
    # The example ClusterIssuer is the one the certificate names.
    (issuer,) = render("cluster-issuer")
    assert cert["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": issuer["metadata"]["name"],
    }


def test_the_ingress_carries_long_lived_websockets(default: list[Resource]) -> None:
    ingress = find(default, "Ingress", "aragora")
    notes = ingress["metadata"]["annotations"]
    # The runbook: proxy timeouts above 60 s; the server pings every 20 s.
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(notes[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    assert notes["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    # Knowledge imports may be up to 512 MiB.
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == "512m"
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths == {"/ws": "aragora-backend", "/api": "aragora-backend", "/": "aragora-frontend"}


# --- the backend -----------------------------------------------------------------------------
def test_backend_requests_and_limits_are_the_runbooks(default: list[Resource]) -> None:
    backend = container(find(default, "Deployment", "aragora-backend"), "backend")
    assert resources_of(backend) == RUNBOOK_RESOURCES


def test_backend_probes(default: list[Resource]) -> None:
    backend = container(find(default, "Deployment", "aragora-backend"), "backend")
    ports = {p["name"]: p["containerPort"] for p in backend["ports"]}
    assert ports == {"http": 8080}
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ):
        get = backend[probe]["httpGet"]
        assert get["path"] == path
        assert ports[get["port"]] == 8080
    env = configmap_data(default, "aragora-config")
    assert env["ARAGORA_PORT"] == "8080"


def _sleep_seconds(c: Mapping[str, Any]) -> int:
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command
    return int(command[1])


@pytest.mark.parametrize(
    ("name", "container_name", "close"),
    [
        ("aragora-backend", "backend", 5),  # uvicorn closes open connections for up to 5 s
        ("aragora-worker", "worker", 0),
    ],
)
def test_grace_period_outlasts_the_drain(
    default: list[Resource], name: str, container_name: str, close: int
) -> None:
    workload = find(default, "Deployment", name)
    c = container(workload, container_name)
    grace = float(configmap_data(default, "aragora-config")["ARAGORA_SHUTDOWN_GRACE"])
    pause = _sleep_seconds(c) if "lifecycle" in c else 0
    period = pod_spec(workload)["terminationGracePeriodSeconds"]
    assert period > pause + grace + close, (period, pause, grace)
    if name == "aragora-backend":
        assert pause > 0  # the endpoints stop routing to the pod before it drains


def test_the_shutdown_grace_of_the_configmap_is_what_the_app_reads(
    default: list[Resource],
) -> None:
    # Every key of the ConfigMap is a setting Aragora reads, with a valid value.
    data = configmap_data(default, "aragora-config")
    settings = load_settings(data)
    assert settings.shutdown_grace == 25
    assert settings.host == "0.0.0.0"
    assert settings.effective_require_auth  # reachable from the network: tokens required
    assert settings.auto_migrate is False
    assert settings.log_format == "json"


@pytest.mark.parametrize("name", ["aragora-backend", "aragora-worker"])
def test_config_from_the_configmap_and_keys_from_secrets(
    default: list[Resource], name: str
) -> None:
    workload = find(default, "Deployment", name)
    c = container(workload, "backend" if name == "aragora-backend" else "worker")
    assert {"configMapRef": {"name": "aragora-config"}} in c["envFrom"]
    env = env_of(c)
    secret_keys = {"ARAGORA_DATABASE_URL", "ARAGORA_REDIS_URL", "ANTHROPIC_API_KEY"}
    if name == "aragora-backend":
        secret_keys.add("ARAGORA_ADMIN_TOKEN")
    for key in secret_keys:
        ref = env[key]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "aragora-secrets"
        assert ref["key"] == key
    # No secret value is written into a manifest.
    assert all("value" not in entry for entry in env.values()), env
    # The receipt key file is in a mounted Secret, the same for every replica.
    key_file = Path(configmap_data(default, "aragora-config")["ARAGORA_RECEIPT_SIGNING_KEY_FILE"])
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    (mount,) = [m for m in mounts.values() if key_file.parent == Path(m["mountPath"])]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["secret"]["secretName"] == "aragora-receipt-key"
    # The pod runs as group 10001, which may read the key (0440) and nobody else.
    assert volumes[mount["name"]]["secret"]["defaultMode"] == 0o440
    # ARAGORA_DATA_DIR is writable although the root filesystem is not.
    data_dir = configmap_data(default, "aragora-config")["ARAGORA_DATA_DIR"]
    (data,) = [m for m in mounts.values() if m["mountPath"] == data_dir]
    assert "emptyDir" in volumes[data["name"]]


@pytest.mark.parametrize("overlay", ["default", "production"])
def test_every_pod_meets_the_restricted_pod_security_standard(overlay: str) -> None:
    resources = render(overlay)
    namespace = find(resources, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for r in resources:
        if r["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(r)
        where = r["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, (where, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (where, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (where, c["name"])
            assert c["resources"]["limits"]["memory"], (where, c["name"])


# --- ordering: the schema migration runs before anything serves -------------------------------
def test_migration_job_runs_the_runbooks_command(default: list[Resource]) -> None:
    job = find(default, "Job", "aragora-migrate")
    migrate = container(job, "migrate")
    assert migrate["command"] == ["python", "-m", "aragora.migrations.runner", "migrate"]
    assert (
        migrate["image"]
        == container(find(default, "Deployment", "aragora-backend"), "backend")["image"]
    )


def test_backends_and_workers_wait_for_the_schema(default: list[Resource], tmp_path: Path) -> None:
    # The line the init containers wait for is the one `status` prints on an up-to-date
    # database (checked here against the real command on a migrated SQLite file).
    env = {
        "ARAGORA_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
        "ARAGORA_DATA_DIR": str(tmp_path),
        "PATH": str(Path(sys.executable).parent),
    }
    runner = [sys.executable, "-m", "aragora.migrations.runner"]
    subprocess.run([*runner, "migrate"], env=env, check=True, capture_output=True, timeout=60)
    status = subprocess.run(
        [*runner, "status"], env=env, check=True, capture_output=True, text=True, timeout=60
    ).stdout
    for name in ("aragora-backend", "aragora-worker"):
        wait = container(find(default, "Deployment", name), "wait-for-schema")
        script = wait["command"][-1]
        (expected,) = re.findall(r"grep -qx '([^']+)'", script)
        assert expected in status.splitlines(), (expected, status)
        assert "python -m aragora.migrations.runner status" in script
        assert {"configMapRef": {"name": "aragora-config"}} in wait["envFrom"]


def test_daily_backup_dumps_to_a_volume(default: list[Resource]) -> None:
    cron = find(default, "CronJob", "aragora-db-backup")
    fields = cron["spec"]["schedule"].split()
    assert len(fields) == 5
    assert fields[2:] == ["*", "*", "*"]  # every day
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    dump = container(cron, "pg-dump")
    assert "pg_dump" in dump["command"][-1]
    assert dump["image"].startswith("postgres:15")
    assert env_of(dump)["ARAGORA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == (
        "aragora-secrets"
    )
    volumes = {v["name"]: v for v in pod_spec(cron)["volumes"]}
    claim = volumes["backups"]["persistentVolumeClaim"]["claimName"]
    assert find(default, "PersistentVolumeClaim", claim)


# --- scaling ---------------------------------------------------------------------------------
def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _pod_labels(workload: Resource) -> dict[str, str]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    labels: dict[str, str] = spec["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize("overlay", ["default", "production"])
def test_selectors_match_their_pods(overlay: str) -> None:
    resources = render(overlay)
    workloads = [r for r in resources if r["kind"] in WORKLOADS]
    for r in resources:
        if r["kind"] in {"Deployment", "StatefulSet"}:
            assert _selects(r["spec"]["selector"], _pod_labels(r)), r["metadata"]["name"]
        if r["kind"] == "Service":
            selected = [
                w
                for w in workloads
                if _selects({"matchLabels": r["spec"]["selector"]}, _pod_labels(w))
            ]
            assert len(selected) == 1, (
                r["metadata"]["name"],
                [w["metadata"]["name"] for w in selected],
            )
            ports = {
                p["name"] for c in pod_spec(selected[0])["containers"] for p in c.get("ports", [])
            }
            for port in r["spec"]["ports"]:
                assert port["targetPort"] in ports, (r["metadata"]["name"], port)
        if r["kind"] == "PodDisruptionBudget":
            selected = [w for w in workloads if _selects(r["spec"]["selector"], _pod_labels(w))]
            assert len(selected) == 1, r["metadata"]["name"]


@pytest.mark.parametrize(("overlay", "floor"), [("default", 2), ("production", 4)])
def test_autoscaler_scales_the_backend(overlay: str, floor: int) -> None:
    resources = render(overlay)
    hpa = find(resources, "HorizontalPodAutoscaler", "aragora-backend")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "aragora-backend")
    assert hpa["spec"]["minReplicas"] == floor
    assert hpa["spec"]["maxReplicas"] > floor
    assert find(resources, "Deployment", "aragora-backend")["spec"]["replicas"] == floor
    pdb = find(resources, "PodDisruptionBudget", "aragora-backend")
    assert pdb["spec"]["minAvailable"] < floor


# --- who may reach whom ----------------------------------------------------------------------
Peer = tuple[str, dict[str, str]]  # (namespace, pod labels)


def _allowed(policies: list[Resource], source: Peer, target: dict[str, str], port: int) -> bool:
    """Whether the NetworkPolicies of the aragora namespace let ``source`` connect to a pod
    labelled ``target`` on ``port`` (namespaces are selected by their name label)."""
    namespace, labels = source
    applying = [p for p in policies if _selects(p["spec"]["podSelector"], target)]
    assert applying, f"no NetworkPolicy selects {target}: everything would be allowed"
    for policy in applying:
        for rule in policy["spec"].get("ingress", []):
            if rule.get("ports") and port not in [p["port"] for p in rule["ports"]]:
                continue
            for peer in rule.get("from", []):
                ns_selector = peer.get("namespaceSelector")
                pod_selector = peer.get("podSelector")
                if ns_selector is None:
                    ns_ok = namespace == NAMESPACE
                else:
                    ns_ok = _selects(ns_selector, {"kubernetes.io/metadata.name": namespace})
                pod_ok = pod_selector is None or _selects(pod_selector, labels)
                if ns_ok and pod_ok:
                    return True
    return False


def _component(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "aragora", "app.kubernetes.io/component": name}


INGRESS: Peer = ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS: Peer = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
OTHER_NAMESPACE: Peer = ("default", {"app": "anything"})


def _in_namespace(component: str) -> Peer:
    return (NAMESPACE, _component(component))


@pytest.mark.parametrize(
    ("source", "target", "port", "allowed"),
    [
        (INGRESS, "frontend", 8080, True),
        (INGRESS, "backend", 8080, True),
        (_in_namespace("frontend"), "backend", 8080, True),
        (PROMETHEUS, "backend", 8080, True),
        (PROMETHEUS, "postgres-exporter", 9187, True),
        (OTHER_NAMESPACE, "backend", 8080, False),
        (OTHER_NAMESPACE, "frontend", 8080, False),
        (_in_namespace("redis"), "backend", 8080, False),
        (_in_namespace("backend"), "postgres", 5432, True),
        (_in_namespace("worker"), "postgres", 5432, True),
        (_in_namespace("migrate"), "postgres", 5432, True),
        (_in_namespace("backup"), "postgres", 5432, True),
        (_in_namespace("postgres-exporter"), "postgres", 5432, True),
        (_in_namespace("frontend"), "postgres", 5432, False),
        (INGRESS, "postgres", 5432, False),
        (OTHER_NAMESPACE, "postgres", 5432, False),
        (_in_namespace("backend"), "redis", 6379, True),
        (_in_namespace("worker"), "redis", 6379, True),
        (_in_namespace("frontend"), "redis", 6379, False),
        (_in_namespace("postgres-exporter"), "redis", 6379, False),
        (INGRESS, "redis", 6379, False),
        (INGRESS, "backend", 9999, False),
    ],
)
def test_network_policies(
    default: list[Resource], source: Peer, target: str, port: int, allowed: bool
) -> None:
    policies = [r for r in default if r["kind"] == "NetworkPolicy"]
    assert _allowed(policies, source, _component(target), port) is allowed


def test_acme_solver_is_reachable_from_the_ingress(default: list[Resource]) -> None:
    policies = [r for r in default if r["kind"] == "NetworkPolicy"]
    solver = {"acme.cert-manager.io/http01-solver": "true"}
    assert _allowed(policies, INGRESS, solver, 8089)
    assert not _allowed(policies, OTHER_NAMESPACE, solver, 8089)


# --- monitoring resources --------------------------------------------------------------------
@pytest.mark.parametrize("overlay", ["default", "production"])
def test_service_monitors_scrape_what_the_alerts_name(overlay: str) -> None:
    resources = render(overlay)
    for name, port in (("aragora-backend", "http"), ("postgres-exporter", "metrics")):
        monitor = find(resources, "ServiceMonitor", name)
        service = find(resources, "Service", name)  # job label = the Service's name
        assert _selects(monitor["spec"]["selector"], service["metadata"]["labels"])
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == [port]
        assert port in {p["name"] for p in service["spec"]["ports"]}
    backend = find(resources, "ServiceMonitor", "aragora-backend")["spec"]["endpoints"][0]
    assert backend["path"] == "/metrics"
    assert backend["authorization"]["credentials"] == {
        "name": "aragora-metrics-token",
        "key": "token",
    }


# --- production ------------------------------------------------------------------------------
def test_production_uses_an_external_postgresql(production: list[Resource]) -> None:
    assert names(production, "StatefulSet") == set()
    assert "postgres" not in names(production, "Service")
    assert "postgres" not in names(production, "NetworkPolicy")
    exporter = container(find(production, "Deployment", "postgres-exporter"), "postgres-exporter")
    assert env_of(exporter)["PGSSLMODE"]["value"] == "require"


def test_production_runs_more_replicas(default: list[Resource], production: list[Resource]) -> None:
    for name in ("aragora-backend", "aragora-frontend", "aragora-worker"):
        more = find(production, "Deployment", name)["spec"]["replicas"]
        assert more > find(default, "Deployment", name)["spec"]["replicas"], name
    # Everything else has the same names.
    assert {(r["kind"], r["metadata"]["name"]) for r in production} == {
        (r["kind"], r["metadata"]["name"])
        for r in default
        if not (
            r["kind"] in {"StatefulSet", "Service", "NetworkPolicy"}
            and r["metadata"]["name"].startswith("postgres")
            and r["metadata"]["name"] != "postgres-exporter"
        )
    }


# --- custom resources against their CRDs' models -----------------------------------------------
CRD_MODELS: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("cert-manager.io/v1", "Certificate"): cert_manager.Certificate,
    ("cert-manager.io/v1", "ClusterIssuer"): cert_manager.ClusterIssuer,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): prometheus_operator.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): prometheus_operator.PrometheusRule,
}


CUSTOM_GROUPS = {"cert-manager.io", "monitoring.coreos.com"}


def test_every_custom_resource_kind_has_a_model() -> None:
    kinds = {
        (r["apiVersion"], r["kind"])
        for overlay in ("default", "production", "cluster-issuer")
        for r in render(overlay)
        if r["apiVersion"].split("/")[0] in CUSTOM_GROUPS
    }
    assert kinds == set(CRD_MODELS)


def _unknown_fields(given: Any, kept: Any, path: str = "") -> list[str]:
    """Paths in ``given`` that the model dropped (fields its CRD does not have)."""
    if isinstance(given, dict):
        kept = kept if isinstance(kept, dict) else {}
        found = [f"{path}.{key}" for key in given if key not in kept]
        for key, value in given.items():
            if key in kept:
                found += _unknown_fields(value, kept[key], f"{path}.{key}")
        return found
    if isinstance(given, list) and isinstance(kept, list):
        return [
            unknown
            for i, (a, b) in enumerate(zip(given, kept, strict=True))
            for unknown in _unknown_fields(a, b, f"{path}[{i}]")
        ]
    return []


def check_custom_resource(resource: Resource) -> None:
    """Validate a cert-manager or prometheus-operator resource strictly: the model's
    types, patterns and required fields, and no field its CRD lacks."""
    model = CRD_MODELS[(resource["apiVersion"], resource["kind"])]
    parsed = model.model_validate(resource)
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    unknown = _unknown_fields(resource, kept)
    assert not unknown, f"{resource['kind']} {resource['metadata']['name']}: unknown {unknown}"


@pytest.mark.parametrize("overlay", ["default", "production", "cluster-issuer"])
def test_custom_resources_match_their_crds(overlay: str) -> None:
    custom = [r for r in render(overlay) if r["apiVersion"].split("/")[0] in CUSTOM_GROUPS]
    assert custom
    for resource in custom:
        check_custom_resource(resource)


@pytest.mark.parametrize(
    ("kind", "damage"),
    [
        ("Certificate", lambda r: r["spec"].__setitem__("secretNmae", "aragora-tls")),
        ("Certificate", lambda r: r["spec"].pop("secretName")),
        ("ServiceMonitor", lambda r: r["spec"]["endpoints"][0].__setitem__("interval", "often")),
        ("PrometheusRule", lambda r: r["spec"]["groups"][0]["rules"][0].__setitem__("recrod", "x")),
    ],
)
def test_the_crd_check_rejects_what_the_crd_would(
    default: list[Resource], kind: str, damage: Any
) -> None:
    (resource,) = [r for r in default if r["kind"] == kind][:1]
    broken = yaml.safe_load(yaml.safe_dump(resource))
    damage(broken)
    with pytest.raises((AssertionError, pydantic.ValidationError)):
        check_custom_resource(broken)


# --- the runbook's commands against what we ship --------------------------------------------
_TARGET = re.compile(r"\b(deployment|certificate|secret)[/ ]([a-z0-9-]+)")


def test_runbook_commands_name_what_the_default_deployment_has(default: list[Resource]) -> None:
    deployments = names(default, "Deployment")
    for command in RUNBOOK_KUBECTL:
        words = shlex.split(command.replace("\\\n", " ").split("|")[0].split(">")[0].split("<")[0])
        assert words[:3] == ["kubectl", "-n", "aragora"] or words[:3] == [
            "kubectl",
            "-n",
            "ingress-nginx",
        ]
        for kind, name in _TARGET.findall(command):
            if kind == "deployment":
                assert name in deployments, command
            elif kind == "certificate":
                assert find(default, "Certificate", name)
            else:  # the TLS secret is cert-manager's output
                assert name == find(default, "Certificate", "aragora-cert")["spec"]["secretName"]
        if "postgres-0" in command:
            inner = words[words.index("--") + 1 :]
            assert inner[:3] in (["pg_dump", "-U", "aragora"], ["psql", "-U", "aragora"])
            assert inner[3] == "aragora"
            assert find(default, "StatefulSet", "postgres")


def _local(command: str, manifest: Path) -> Resource:
    """Run a `kubectl … deployment/X …` command of the runbook offline on ``manifest``
    (`--local -f FILE -o yaml`) and return the object it would apply."""
    kubectl = require_tool("kubectl", "the runbook's commands are kubectl commands")
    words = shlex.split(command.replace("\\\n", " "))
    target = next(
        w for w in words if re.fullmatch(r"(deployment|certificate)/?.*", w) or w == "certificate"
    )
    if target == "certificate":
        i = words.index(target)
        words[i : i + 2] = ["--local", "-f", str(manifest), "-o", "yaml"]
    else:
        words[words.index(target) : words.index(target) + 1] = [
            "--local",
            "-f",
            str(manifest),
            "-o",
            "yaml",
        ]
    done = subprocess.run(
        [kubectl, *words[1:]], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{command!r}: {done.stderr}"
    result: Resource = yaml.safe_load(done.stdout)
    return result


def _command(start: str) -> str:
    (command,) = [c for c in RUNBOOK_KUBECTL if c.startswith(start)]
    return command


def test_runbook_set_resources_sets_what_we_ship(default: list[Resource], tmp_path: Path) -> None:
    manifest = tmp_path / "backend.yaml"
    backend = find(default, "Deployment", "aragora-backend")
    manifest.write_text(yaml.safe_dump(backend))
    changed = _local(_command("kubectl -n aragora set resources"), manifest)
    assert resources_of(container(changed, "backend")) == RUNBOOK_RESOURCES
    # The command changes nothing else: applying the manifest again restores the same.
    assert resources_of(container(backend, "backend")) == RUNBOOK_RESOURCES


def test_runbook_log_level_commands(default: list[Resource], tmp_path: Path) -> None:
    manifest = tmp_path / "backend.yaml"
    manifest.write_text(yaml.safe_dump(find(default, "Deployment", "aragora-backend")))
    for level in ("DEBUG", "INFO"):
        changed = _local(
            _command(
                f"kubectl -n aragora set env deployment/aragora-backend ARAGORA_LOG_LEVEL={level}"
            ),
            manifest,
        )
        env = env_of(container(changed, "backend"))
        # An explicit env entry wins over the ConfigMap's ARAGORA_LOG_LEVEL.
        assert env["ARAGORA_LOG_LEVEL"]["value"] == level
        assert load_settings({"ARAGORA_LOG_LEVEL": level}).log_level == level


def test_runbook_certificate_annotation(default: list[Resource], tmp_path: Path) -> None:
    manifest = tmp_path / "certificate.yaml"
    manifest.write_text(yaml.safe_dump(find(default, "Certificate", "aragora-cert")))
    changed = _local(_command("kubectl -n aragora annotate certificate aragora-cert"), manifest)
    assert (
        changed["metadata"]["annotations"]["cert-manager.io/issue-temporary-certificate"] == "true"
    )
    check_custom_resource(changed)
