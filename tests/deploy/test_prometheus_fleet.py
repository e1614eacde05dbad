"""A real Prometheus scraping two live simulators with the compose configuration and the rules.

The compose Prometheus config is used as shipped, but for its targets (two in-process
servers on loopback ports) and a 1 s scrape interval. Prometheus evaluates every shipped rule
(all must be healthy), runs every dashboard query (all must parse and evaluate), lists both
replicas for the dashboard's Replica variable, and sums requests across them exactly.
Skipped where Debian's prometheus is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from llm_simulator.testing import InProcessServer
from llm_simulator.testing.server import free_port
from tests.deploy.known import ROOT
from tests.deploy.test_deploy_metrics import _load_dashboard, _panels

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus (Debian package) is not installed")
COMPOSE_CONFIG = ROOT / "deploy" / "compose" / "prometheus.yml"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
CHAT = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
# Requests sent to each replica: different, so a sum that counted one twice would show.
SENT = (3, 5)
# Grafana's variables as the dashboard's "All" would set them.
VARIABLES = {"$__rate_interval": "1m", "$provider": ".*", "$model": ".*", "$instance": ".*"}
T = TypeVar("T")


def _until(probe: Callable[[], T | None], what: str, timeout: float = 90.0) -> T:
    """Poll ``probe`` until it returns something (a loaded machine gets a generous deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


class Prometheus:
    """The Prometheus HTTP API of the test's server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10).json()
        return body

    def vector(self, expr: str) -> dict[str, float]:
        """A query's instant vector as instance → value."""
        result = self.query(expr)
        assert result["status"] == "success", (expr, result)
        return {s["metric"].get("instance", ""): float(s["value"][1]) for s in result["data"]["result"]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, list[str]]]:
    """Prometheus scraping two simulators: (its API, the replicas' instance labels)."""
    assert PROMETHEUS is not None
    directory = tmp_path_factory.mktemp("prometheus")
    replicas = [InProcessServer({"latency": {"enabled": False}}).start() for _ in range(2)]
    instances = [r.url.removeprefix("http://") for r in replicas]
    config = yaml.safe_load(COMPOSE_CONFIG.read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    # The same rules file the compose file mounts at /etc/prometheus/rules.yml.
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    config["rule_files"] = [str(RULES)]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": instances}]
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        for replica, count in zip(replicas, SENT, strict=True):
            for _ in range(count):
                assert httpx.post(replica.url + "/v1/chat/completions", json=CHAT).status_code == 200
        prometheus = Prometheus(f"http://127.0.0.1:{port}")

        def ready() -> bool | None:
            try:
                return httpx.get(prometheus.url + "/-/ready", timeout=2).status_code == 200 or None
            except httpx.TransportError:
                assert process.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
                return None

        _until(ready, "Prometheus to start")
        yield prometheus, instances
    finally:
        process.terminate()
        process.wait(20)
        log.close()
        for replica in replicas:
            replica.stop()


def test_requests_are_summed_across_replicas_exactly_once(fleet: tuple[Prometheus, list[str]]) -> None:
    prometheus, instances = fleet
    per_replica = 'sum by (instance) (llm_simulator_requests_total{endpoint="chat", instance=~"$instance"})'
    expected = dict(zip(instances, map(float, SENT), strict=True))
    query = per_replica.replace("$instance", ".*")
    _until(lambda: prometheus.vector(query) == expected or None, f"{expected} from {query}")
    total = 'sum(llm_simulator_requests_total{endpoint="chat", instance=~".*"})'
    assert prometheus.vector(total) == {"": float(sum(SENT))}
    # The Replica variable narrows to one (Grafana writes a single choice as the value itself).
    assert prometheus.vector(per_replica.replace("$instance", instances[1])) == {instances[1]: float(SENT[1])}


def test_the_replica_variable_lists_both_replicas(fleet: tuple[Prometheus, list[str]]) -> None:
    prometheus, instances = fleet
    (variable,) = [v for v in _load_dashboard()["templating"]["list"] if v["name"] == "instance"]
    query = variable["query"]["query"]
    selector = query.removeprefix("label_values(").rsplit(",", 1)[0]

    def listed() -> list[str] | None:
        response = httpx.get(prometheus.url + "/api/v1/label/instance/values", params={"match[]": selector}).json()
        values = sorted(response["data"])
        return values if values == sorted(instances) else None

    assert _until(listed, "both replicas under the Replica variable") == sorted(instances)


def test_every_dashboard_query_parses_and_evaluates(fleet: tuple[Prometheus, list[str]]) -> None:
    prometheus, _ = fleet
    # Wait for the scrapes that make the raw series exist.
    _until(lambda: prometheus.vector("llm_simulator_workers") or None, "a scrape of both replicas")
    queries = 0
    for panel in _panels(_load_dashboard()["panels"]):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            result = prometheus.query(expr)
            assert result["status"] == "success", (panel["title"], expr, result)
            queries += 1
    assert queries >= 40


def test_every_shipped_rule_evaluates_healthy(fleet: tuple[Prometheus, list[str]]) -> None:
    prometheus, _ = fleet

    def evaluated() -> list[dict[str, Any]] | None:
        groups = httpx.get(prometheus.url + "/api/v1/rules").json()["data"]["groups"]
        rules: list[dict[str, Any]] = [rule for group in groups for rule in group["rules"]]
        return rules if rules and all(rule["health"] != "unknown" for rule in rules) else None

    rules = _until(evaluated, "every rule's first evaluation")
    shipped = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert len(rules) == len(shipped)
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not unhealthy, unhealthy
    # The down alert watches the job the compose config scrapes: with both replicas up it is quiet.
    down = [r for r in rules if r["name"] == "LLMSimulatorDown"]
    assert down and down[0]["state"] == "inactive"
