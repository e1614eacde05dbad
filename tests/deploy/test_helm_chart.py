"""The Helm chart, rendered by Helm's own Go template engine, against the code it deploys.

Rendering uses helm-python-sdk (Helm 4's SDK compiled into a PyPI wheel, no helm binary);
manifests are validated against the Kubernetes OpenAPI schemas shipped by kubernetes-validate
(strict: unknown fields fail). Both are dev dependencies; without them these tests skip and
tests/deploy/test_helm_templates.py still checks the templates' structure. Every command,
variable, port, probe path and metric name in the rendered manifests is checked with the
simulator's own parser, loader, routes and /metrics, and the preStop hook runs against a
live server.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from llm_simulator._version import __version__
from llm_simulator.config.loader import ENV_PREFIX
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.telemetry.prometheus import METRIC_NAMES
from llm_simulator.testing import InProcessServer
from tests.deploy.known import ROOT, Probe, answers, effective_config, is_pending, metric_types, parse_command

helm = pytest.importorskip("helm_python", reason="helm-python-sdk (a dev dependency) renders the chart")

CHART = ROOT / "deploy" / "helm" / "llm-simulator"
ADAPTER_RULES = ROOT / "deploy" / "prometheus" / "adapter-rules.yml"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RELEASE = "fleet"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest with schemas.
KUBE_VERSIONS = ("1.25", "1.37")
ADMIN_KEY = "sk-admin-deploy"

COMBOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "everything": {
        "autoscaling": {"enabled": True},
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "redis": {"enabled": True},
        "auth": {"enabled": True, "apiKeys": ["sk-user-1", "sk-user-2"], "adminKeys": [ADMIN_KEY]},
        "simulator": {"workers": 2, "extraEnv": {"LLM_SIMULATOR_CHAOS_PRESET": "intermittent_timeouts"}},
        "config": {"models": {"accept_unknown": True}, "rate_limits": {"enabled": True}},
    },
    "cpu-autoscaling": {"autoscaling": {"enabled": True, "metric": "cpu"}, "podDisruptionBudget": {"enabled": False}},
    "external-state-and-secret": {
        "state": {"url": "redis://redis.example:6379/2"},
        "auth": {"enabled": True, "existingSecret": "team-keys"},
    },
}
# What an existing Secret would hold (it is not part of the release).
EXISTING_SECRETS = {"team-keys": {"api-keys": "sk-team", "admin-keys": ADMIN_KEY}}


def render(values: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The chart's manifests for ``values``, by kind (NOTES.txt and empty templates left out)."""
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name=RELEASE, namespace="sim")
    out: dict[str, list[dict[str, Any]]] = {}
    for name, text in files.items():
        if name.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                out.setdefault(doc["kind"], []).append(doc)
    return out


@pytest.fixture(scope="module", params=sorted(COMBOS))
def manifests(request: pytest.FixtureRequest) -> dict[str, list[dict[str, Any]]]:
    """The rendered chart for each combination of the values' toggles."""
    return render(COMBOS[request.param])


def _one(manifests: dict[str, list[dict[str, Any]]], kind: str, component: str = "simulator") -> dict[str, Any]:
    (found,) = [m for m in manifests[kind] if m["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return found


def _container(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    (container,) = _one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _secret_data(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    secrets = {name: dict(data) for name, data in EXISTING_SECRETS.items()}
    for secret in manifests.get("Secret", []):
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        secrets[secret["metadata"]["name"]] = decoded
    return secrets


def container_env(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The container's environment as the kubelet would set it (Secret references resolved)."""
    secrets = _secret_data(manifests)
    env = {}
    for item in _container(manifests)["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
    return env


def _config_mounts(manifests: dict[str, list[dict[str, Any]]], tmp: Path) -> dict[str, Path]:
    """Files of the ConfigMap volume: path in the container → a copy written under ``tmp``."""
    pod = _one(manifests, "Deployment")["spec"]["template"]["spec"]
    (mount,) = [m for m in _container(manifests)["volumeMounts"] if m["name"] == "config"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    configmap = _one(manifests, "ConfigMap")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    out = {}
    for key, text in configmap["data"].items():
        path = tmp / key
        path.write_text(text)
        out[f"{mount['mountPath']}/{key}"] = path
    return out


def _config(manifests: dict[str, list[dict[str, Any]]], tmp: Path) -> SimulatorConfig:
    return effective_config(container_env(manifests), _config_mounts(manifests, tmp))


# -- Kubernetes schemas ------------------------------------------------------------------------------


def _validatable(manifests: dict[str, list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for kind, docs in manifests.items():
        if kind != "ServiceMonitor":  # a CRD: no schema ships offline; checked field by field below
            yield from docs


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(
    manifests: dict[str, list[dict[str, Any]]], version: str
) -> None:
    validator = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (a dev dependency)")
    docs = list(_validatable(manifests))
    assert {"Deployment", "Service", "ConfigMap"} <= {doc["kind"] for doc in docs}
    for doc in docs:
        validator.validate(doc, version, strict=True)


def test_the_schemas_do_reject_a_broken_manifest() -> None:
    validator = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (a dev dependency)")
    broken = render({})["Deployment"][0]
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/ready"
    with pytest.raises(validator.ValidationError):
        validator.validate(broken, KUBE_VERSIONS[0], strict=True)


def test_helm_lint_finds_nothing_to_warn_about() -> None:
    for values in COMBOS.values():
        result = helm.lint(str(CHART), values, strict=True)
        assert result["errors"] == [], result
        # Severity 1 is information ("icon is recommended"); 2 and up are warnings and errors.
        assert [m for m in result["messages"] if m["severity"] >= 2] == [], result


def test_the_chart_deploys_this_release_of_the_simulator() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    assert _container(render({}))["image"] == f"llm-simulator:{__version__}"


# -- the container: command, variables, config, ports, probes -------------------------------------


def test_the_container_runs_serve_with_a_configuration_the_loader_accepts(
    manifests: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    container = _container(manifests)
    # The image's ENTRYPOINT is llm-simulator (tests/deploy/test_container.py); the chart gives args.
    assert "command" not in container
    assert parse_command(["llm-simulator", *container["args"]]).command == "serve"
    config = _config(manifests, tmp_path)
    (port,) = container["ports"]
    assert config.server.host == "0.0.0.0"
    assert (port["name"], port["containerPort"]) == ("http", config.server.port)
    env = container_env(manifests)
    if env.get(ENV_PREFIX + "REQUIRE_AUTH") == "true":
        assert config.auth.require_auth and (config.auth.api_keys or config.auth.admin_keys)


def test_shared_state_is_wired_only_when_asked_for(manifests: dict[str, list[dict[str, Any]]]) -> None:
    env = container_env(manifests)
    state = env.get(ENV_PREFIX + "STATE")
    redis = [m for m in manifests.get("Service", []) if m["metadata"]["name"].endswith("-redis")]
    if redis:
        assert state == f"redis://{redis[0]['metadata']['name']}:{redis[0]['spec']['ports'][0]['port']}/0"
    if state is None:
        assert not redis
    else:
        assert state.startswith("redis://")
        if not is_pending(ENV_PREFIX + "STATE"):
            assert effective_config({ENV_PREFIX + "STATE": state}).model_dump()["state"]["url"] == state


def test_the_probes_ask_real_paths_that_need_no_key(manifests: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    container = _container(manifests)
    paths = {name: container[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {name: get["path"] for name, get in paths.items()} == {
        "startupProbe": "/health",
        "livenessProbe": "/health",
        "readinessProbe": "/ready",
    }
    assert {get["port"] for get in paths.values()} == {p["name"] for p in container["ports"]}
    config = _config(manifests, tmp_path)
    statuses = answers([Probe("GET", "/health"), Probe("GET", "/ready"), Probe("GET", "/metrics")], config)
    assert set(statuses.values()) == {200}, statuses


def test_the_grace_period_covers_the_prestop_wait_and_the_drain(
    manifests: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    pod = _one(manifests, "Deployment")["spec"]["template"]["spec"]
    command = _container(manifests)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "python"
    mounts = _config_mounts(manifests, tmp_path)
    assert command[1] in mounts, f"{command[1]} is not in the mounted ConfigMap"
    wait = float(command[2])
    drain = _config(manifests, tmp_path).server.drain_timeout_s
    # granian allows its workers the drain deadline plus 2 s before killing them.
    assert pod["terminationGracePeriodSeconds"] >= wait + drain + 2


@pytest.mark.parametrize("auth", [False, True], ids=["auth-off", "auth-on"])
def test_the_prestop_hook_marks_a_live_server_not_ready_and_it_keeps_serving(auth: bool, tmp_path: Path) -> None:
    values = COMBOS["everything"] if auth else COMBOS["defaults"]
    manifests = render(values)
    command = _container(manifests)["lifecycle"]["preStop"]["exec"]["command"]
    script = _config_mounts(manifests, tmp_path)[command[1]]
    env = container_env(manifests)
    config: dict[str, Any] = {"latency": {"enabled": False}}
    if auth:
        config["auth"] = {"require_auth": True, "admin_keys": [ADMIN_KEY], "api_keys": ["sk-user-1"]}
    server = InProcessServer(config).start()
    try:
        assert httpx.get(server.url + "/ready").status_code == 200
        hook_env = {ENV_PREFIX + "PORT": server.url.rsplit(":", 1)[1]}
        if ENV_PREFIX + "ADMIN_KEY" in env:
            hook_env[ENV_PREFIX + "ADMIN_KEY"] = env[ENV_PREFIX + "ADMIN_KEY"]
        done = subprocess.run(
            [sys.executable, str(script), "0"], check=False, env=hook_env, capture_output=True, timeout=30
        )
        assert done.returncode == 0 and done.stderr == b"", done.stderr
        ready = httpx.get(server.url + "/ready")
        assert (ready.status_code, ready.json()["reason"]) == (503, "draining")
        assert httpx.get(server.url + "/health").status_code == 200
        headers = {"authorization": "Bearer sk-user-1"}
        body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        assert httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers).status_code == 200
    finally:
        server.stop()


def test_the_prestop_hook_never_fails_the_shutdown(tmp_path: Path) -> None:
    manifests = render({})
    command = _container(manifests)["lifecycle"]["preStop"]["exec"]["command"]
    script = _config_mounts(manifests, tmp_path)[command[1]]
    server = InProcessServer({"auth": {"require_auth": True, "api_keys": ["sk-user-1"]}}).start()
    try:
        # Auth on and no admin key: the drain call is refused, the hook still exits 0.
        hook_env = {ENV_PREFIX + "PORT": server.url.rsplit(":", 1)[1]}
        done = subprocess.run(
            [sys.executable, str(script), "0"], check=False, env=hook_env, capture_output=True, timeout=30
        )
        assert done.returncode == 0 and b"POST /admin/drain failed" in done.stderr
        assert httpx.get(server.url + "/ready").status_code == 200
    finally:
        server.stop()


# -- Service, selectors, PDB, HPA, ServiceMonitor ---------------------------------------------------


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_selectors_pick_the_simulator_pods_and_nothing_else(manifests: dict[str, list[dict[str, Any]]]) -> None:
    pods = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["metadata"]["labels"]
        for d in manifests["Deployment"]
    }
    simulator = _one(manifests, "Deployment")
    service = _one(manifests, "Service")
    selectors = [simulator["spec"]["selector"]["matchLabels"], service["spec"]["selector"]]
    selectors += [pdb["spec"]["selector"]["matchLabels"] for pdb in manifests.get("PodDisruptionBudget", [])]
    for selector in selectors:
        assert [name for name, labels in pods.items() if _selects(selector, labels)] == ["simulator"], selector
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in _container(manifests)["ports"]}
    if "redis" in pods:
        redis = _one(manifests, "Deployment", "redis")
        assert [n for n, labels in pods.items() if _selects(redis["spec"]["selector"]["matchLabels"], labels)] == [
            "redis"
        ]


def test_the_autoscaler_scales_on_an_exported_gauge_through_the_documented_adapter_rule(
    manifests: dict[str, list[dict[str, Any]]],
) -> None:
    deployment = _one(manifests, "Deployment")
    if "HorizontalPodAutoscaler" not in manifests:
        assert deployment["spec"]["replicas"] >= 1
        return
    (hpa,) = manifests["HorizontalPodAutoscaler"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    (metric,) = hpa["spec"]["metrics"]
    if metric["type"] == "Resource":
        assert metric["resource"]["name"] == "cpu"
        # Utilisation is relative to the request: without one the HPA cannot compute it.
        assert _container(manifests)["resources"]["requests"]["cpu"]
        return
    name = metric["pods"]["metric"]["name"]
    (rule,) = yaml.safe_load(ADAPTER_RULES.read_text())["rules"]
    assert rule["name"]["as"] == name
    series = rule["seriesQuery"].split("{")[0].strip("'\" ")
    assert series in METRIC_NAMES and metric_types()[series] == "gauge", series
    assert {"namespace", "pod"} <= set(rule["resources"]["overrides"])


def test_the_service_monitor_scrapes_each_pod_as_the_alert_rules_expect(
    manifests: dict[str, list[dict[str, Any]]],
) -> None:
    if "ServiceMonitor" not in manifests:
        return
    (monitor,) = manifests["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = _one(manifests, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
    job = relabel["job"]["replacement"]
    alerts = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
    assert any(f'job="{job}"' in r["expr"] for r in alerts)
    assert relabel["instance"]["sourceLabels"] == ["__meta_kubernetes_pod_name"]


# -- values that cannot work are refused at render time ---------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth": {"enabled": True}}, "auth.enabled needs auth.apiKeys or auth.adminKeys"),
        ({"autoscaling": {"enabled": True, "metric": "memory"}}, "autoscaling.metric must be activeRequests or cpu"),
    ],
    ids=["auth-without-keys", "unknown-hpa-metric"],
)
def test_values_that_cannot_work_fail_the_render_with_a_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=message):
        render(values)
