"""deploy/kubernetes/: valid for the Kubernetes API (offline schemas) and what the issue asks of it.

Two replicas, probes on /healthz at the port the image serves it on, resource requests, a non-root
security context, credentials only as Secret references, a PodDisruptionBudget, a Service and an
Ingress for HTTP mode (the Ingress publishing POST /slack/events alone).
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from aom_bot.slack.http import EVENTS_PATH
from tests.deploy.helpers import (
    KUBERNETES_DIR,
    ROOT,
    credential_names,
    image_entrypoint,
    load_yaml_documents,
    option,
    parse_cli,
    setting_names,
)

#: the Kubernetes version whose schemas the manifests must pass (kubernetes-validate ships them)
KUBERNETES_VERSION = "1.33"

MANIFEST_FILES = sorted(KUBERNETES_DIR.rglob("*.yaml"))  # jobs/ included


def _resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFEST_FILES for doc in load_yaml_documents(path)]


def _one(kind: str) -> dict[str, Any]:
    found = [r for r in _resources() if r["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def _validate(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = _pod(deployment)["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


@pytest.mark.parametrize(
    "path", MANIFEST_FILES, ids=lambda p: str(Path(p).relative_to(KUBERNETES_DIR))
)
def test_every_manifest_passes_the_kubernetes_schemas(path: Path) -> None:
    """Each document is accepted by the strict schema of its kind (unknown fields are errors)."""
    documents = load_yaml_documents(path)
    assert documents, f"{path.name} holds no resource"
    for resource in documents:
        _validate(resource)


def _pod_templates() -> dict[str, dict[str, Any]]:
    """Every pod template: the Deployment's and the migration Job's."""
    return {
        r["kind"]: r["spec"]["template"]["spec"]
        for r in _resources()
        if r["kind"] in ("Deployment", "Job")
    }


def test_the_manifests_are_the_expected_kinds() -> None:
    """Deployment, Service, Ingress, PDB, ConfigMap, ServiceAccount, the migrate Job; no Secret."""
    kinds = sorted(r["kind"] for r in _resources())
    expected = ["ConfigMap", "Deployment", "Ingress", "Job", "PodDisruptionBudget", "Service"]
    assert kinds == sorted([*expected, "ServiceAccount"])
    top_level = {r["kind"] for p in KUBERNETES_DIR.glob("*.yaml") for r in load_yaml_documents(p)}
    assert "Job" not in top_level  # `kubectl apply -f deploy/kubernetes/` must not re-apply it


def test_the_image_is_this_versions_and_the_same_everywhere() -> None:
    """Deployment and Job run one image, tagged with the version in pyproject (never latest)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    images = {c["image"] for pod in _pod_templates().values() for c in pod["containers"]}
    assert images == {f"aom-bot:{pyproject['project']['version']}"}


def test_the_migration_job_runs_aom_bot_migrate_once() -> None:
    """The Job's command is `aom-bot migrate`, never retried forever, pods not restarted."""
    job = _one("Job")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    parse_cli(container["command"] + container.get("args", []))
    assert container["command"][:2] == ["aom-bot", "migrate"]
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] <= 5


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("a misspelt probe field", lambda c: c.__setitem__("livenesProbe", c["livenessProbe"])),
        ("a port given as text", lambda c: c["ports"][0].__setitem__("containerPort", "8080")),
        ("a secret value inline", lambda c: c["env"][-1]["valueFrom"].__setitem__("value", "x")),
    ],
)
def test_the_same_validator_rejects_a_broken_deployment(where: str, change: Any) -> None:
    """The schema check is real: the shipped Deployment with one wrong field fails it."""
    broken = copy.deepcopy(_one("Deployment"))
    change(_container(broken))
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)


def test_two_replicas_that_a_rollout_never_reduces() -> None:
    """Two replicas; a rolling update adds a pod before it removes one."""
    spec = _one("Deployment")["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_pods_run_as_the_images_non_root_user(kind: str) -> None:
    """runAsNonRoot with the image's numeric user; no privilege escalation, no capabilities."""
    pod = _pod_templates()[kind]
    pod_security = pod["securityContext"]
    (container,) = pod["containers"]
    container_security = container["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    dockerfile_user = [
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("USER ")
    ][-1]
    assert dockerfile_user == f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}"
    assert container_security["allowPrivilegeEscalation"] is False
    assert container_security["readOnlyRootFilesystem"] is True
    assert container_security["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False


def test_the_container_command_is_accepted_by_aom_bot() -> None:
    """The image's entry point plus the Deployment's args parse as `aom-bot run` (HTTP mode)."""
    argv = image_entrypoint() + [str(a) for a in _container(_one("Deployment")).get("args", [])]
    params = parse_cli(argv)
    assert params["mode"].value == "http"
    assert params["host"] == "0.0.0.0"  # noqa: S104 - the pod must accept the Service's traffic


def test_probes_ask_healthz_on_the_port_the_bot_serves() -> None:
    """Startup, readiness and liveness all GET /healthz on the container port that `--port` is."""
    container = _container(_one("Deployment"))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    argv = image_entrypoint() + [str(a) for a in container.get("args", [])]
    served = int(option(argv, "--port") or 3000)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == "/healthz", probe
        port = http_get["port"]
        assert ports.get(port, port) == served, probe


def test_credentials_are_secret_references_never_values() -> None:
    """Every credential the bot reads comes from a secretKeyRef; none is written in the files."""
    given = {e["name"] for e in _container(_one("Deployment"))["env"]}
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "AOM_BOT_DATABASE_URL"} <= given
    assert {"CLOUD_SDK_AK", "CLOUD_SDK_SK"} <= given
    credentials = credential_names()
    for kind, pod in _pod_templates().items():
        for container in pod["containers"]:
            assert "envFrom" not in container, kind  # every variable named, none by surprise
            for entry in container["env"]:
                if entry["name"] in credentials:
                    assert "value" not in entry, (kind, entry["name"])
                    assert "secretKeyRef" in entry["valueFrom"], (kind, entry["name"])
    for path in MANIFEST_FILES:
        text = path.read_text(encoding="utf-8")
        for prefix in ("xoxb-", "xapp-", "xoxp-"):
            assert f"{prefix}" not in text.replace(f"{prefix}...", ""), path.name


def test_every_environment_variable_is_one_the_bot_reads() -> None:
    """A misspelt name would be ignored without a word (the settings ignore unknown variables)."""
    for kind, pod in _pod_templates().items():
        names = {e["name"] for c in pod["containers"] for e in c["env"]}
        assert not names - setting_names(), kind


def test_resource_requests_and_a_memory_limit() -> None:
    """The scheduler knows what a replica needs; a leak is stopped by the memory limit."""
    resources = _container(_one("Deployment"))["resources"]
    assert resources["requests"]["cpu"]
    assert resources["requests"]["memory"]
    assert resources["limits"]["memory"]


def test_the_disruption_budget_keeps_one_replica_of_these_pods() -> None:
    """The PDB selects the Deployment's pods and lets a drain take only one of the two."""
    deployment = _one("Deployment")
    pdb = _one("PodDisruptionBudget")["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= pdb["minAvailable"] < deployment["spec"]["replicas"]


def test_the_service_reaches_the_pods_http_port() -> None:
    """The Service selects the pods and targets the named container port."""
    deployment = _one("Deployment")
    service = _one("Service")["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    names = {p["name"] for p in _container(deployment)["ports"]}
    assert {p["targetPort"] for p in service["ports"]} <= names


def test_the_ingress_publishes_slack_events_only() -> None:
    """Only the events path is public: /healthz and /metrics stay inside the cluster."""
    service = _one("Service")
    rules = _one("Ingress")["spec"]["rules"]
    paths = [p for rule in rules for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [(EVENTS_PATH, "Exact")]
    assert {p["backend"]["service"]["name"] for p in paths} == {service["metadata"]["name"]}


def test_the_profiles_file_is_mounted_where_aom_bot_config_points() -> None:
    """The Deployment mounts the ConfigMap as a directory (an applied change reaches the pod) and
    AOM_BOT_CONFIG names the file in it."""
    pod = _pod(_one("Deployment"))
    config_map = _one("ConfigMap")["metadata"]["name"]
    volume = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name") == config_map)
    container = pod["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert "subPath" not in mount
    assert mount.get("readOnly") is True
    env = {e["name"]: e.get("value") for e in container["env"]}
    (file_name,) = _one("ConfigMap")["data"]
    assert env["AOM_BOT_CONFIG"] == f"{mount['mountPath']}/{file_name}"


def test_the_shipped_profiles_file_keeps_the_environment_setup(tmp_path: Path) -> None:
    """As shipped, the file is valid and changes nothing: the environment's project is the one
    profile, everyone may read, follow and subscribe, and nobody may act."""
    from aom_bot.config import Settings
    from aom_bot.profiles import Permission, load_bot_config

    ((file_name, text),) = _one("ConfigMap")["data"].items()
    path = tmp_path / file_name
    path.write_text(text, encoding="utf-8")
    settings = Settings(
        _env_file=None,
        aom_region="cn-north-4",
        aom_project_id="0123456789abcdef0123456789abcdef",
        cloud_sdk_ak="AKEXAMPLE",
        cloud_sdk_sk="sk-example-value",
    )  # type: ignore[call-arg]
    config = load_bot_config(settings, path=path, environ={})
    assert list(config.profiles) == ["default"]
    policy = config.policy
    where = {"profile": "default", "channel_id": "C0ANY00001", "user_id": "U0ANY00001"}
    for permission in (Permission.READ, Permission.FOLLOW, Permission.SUBSCRIBE):
        assert policy.allows(permission, **where)
    for permission in (Permission.TERMINATE, Permission.RETRY, Permission.RUN):
        assert not policy.allows(permission, **where)
