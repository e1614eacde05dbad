"""The Dockerfile, .dockerignore and docker-compose.yml against the code they start.

No container is built or run here (no daemon, no registry on the test machine): every
command, variable, port, path and mounted file the artefacts name is checked with the
simulator's own parser, loader and routes, and the image's HEALTHCHECK command is run against
a live server. docs/deployment.md says what could not be run.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_simulator.config.loader import ENV_PREFIX
from llm_simulator.testing import InProcessServer
from llm_simulator.testing.server import free_port
from tests.deploy.known import PENDING_ENV, ROOT, Probe, answers, effective_config, is_pending, parse_command

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
REDIS_OVERRIDE = ROOT / "deploy" / "compose" / "redis-state.yml"
REPLICAS = ("simulator-1", "simulator-2")

# -- the Dockerfile --------------------------------------------------------------------------------


@dataclass
class Stage:
    """One ``FROM … AS name`` stage: its base image and instructions as (keyword, arguments)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        """Every ``ENV k=v …`` of the stage, in order (later ones win)."""
        out: dict[str, str] = {}
        for args in self.all("ENV"):
            for word in shlex.split(args):
                name, sep, value = word.partition("=")
                assert sep, f"ENV {args!r}: use the name=value form"
                out[name] = value
        return out


def _logical_lines(text: str) -> Iterator[str]:
    """Instructions with their ``\\`` continuations joined; comments and blank lines left out."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    assert not pending, "a continuation runs off the end of the file"


def dockerfile() -> list[Stage]:
    """The Dockerfile's stages."""
    stages: list[Stage] = []
    for line in _logical_lines(DOCKERFILE.read_text()):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            assert match, line
            stages.append(Stage(match.group(1), match.group(2)))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def _exec_form(args: str) -> list[str]:
    """A JSON (exec form) argument list; the shell form is refused (signals would reach a shell)."""
    words = json.loads(args)
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), args
    return words


def _healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    (args,) = stage.all("HEALTHCHECK")
    options = dict(re.findall(r"--([a-z-]+)=(\S+)", args))
    command = args[args.index("CMD") + len("CMD") :].strip()
    return options, _exec_form(command)


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", value)
    assert match, value
    return float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2)]


def test_the_image_is_built_in_two_stages_and_runs_as_a_fixed_unprivileged_user() -> None:
    builder, runtime = dockerfile()
    assert builder.name == "builder" and builder.base == runtime.base == "python:3.11-slim"
    build = " ".join(builder.all("RUN"))
    # The builder makes the wheel and installs it (with its dependencies) into a virtualenv...
    assert "pip wheel --no-deps --wheel-dir /wheels ." in build and "pip install /wheels/*.whl" in build
    # ...and the runtime takes only that virtualenv.
    assert runtime.all("COPY") == ["--from=builder /opt/venv /opt/venv"]
    assert runtime.env()["PATH"].startswith("/opt/venv/bin:")
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and gid == uid, user
    created = " ".join(runtime.all("RUN"))
    assert f"--uid {uid}" in created and f"--gid {gid}" in created
    # The user comes last: nothing after it runs as root, and the image's main process is not root.
    assert [kw for kw, _ in runtime.instructions].index("USER") > max(
        i for i, (kw, _) in enumerate(runtime.instructions) if kw in ("RUN", "COPY")
    )


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves ``path`` out (the last matching pattern decides, ``!`` re-includes)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        parts = path.split("/")
        # A pattern matches the path or any of its parent directories.
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, body) or fnmatch.fnmatchcase(p, body.removeprefix("**/")) for p in prefixes):
            ignored = not negate
    return ignored


def test_the_build_context_holds_what_the_image_copies_and_little_else() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and line[0] != "#"]
    copied = []
    for stage in dockerfile():
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _destination = args.split()
            copied += sources
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert not _ignored(source, patterns), f"COPY {source}: left out of the build context by .dockerignore"
    assert not _ignored("src/llm_simulator/server/app.py", patterns)
    for heavy in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "bench/results", "build/lib"):
        assert _ignored(heavy, patterns), heavy
    assert _ignored("src/llm_simulator/__pycache__/x.pyc", patterns)


def test_the_command_is_serve_on_all_interfaces_on_the_exposed_port() -> None:
    runtime = dockerfile()[-1]
    (entrypoint,) = runtime.all("ENTRYPOINT")
    (cmd,) = runtime.all("CMD")
    argv = _exec_form(entrypoint) + _exec_form(cmd)
    assert argv == ["llm-simulator", "serve"]
    args = parse_command(argv)
    assert args.command == "serve"
    env = runtime.env()
    config = effective_config(env)
    (exposed,) = runtime.all("EXPOSE")
    assert config.server.host == "0.0.0.0"
    assert exposed == f"{config.server.port}" == env[ENV_PREFIX + "PORT"]
    assert config.server.workers >= 1
    assert runtime.all("STOPSIGNAL") == ["SIGTERM"]


def test_the_healthcheck_asks_health_with_python_within_its_interval() -> None:
    options, argv = _healthcheck(dockerfile()[-1])
    assert argv[:2] == ["python", "-c"] and "/health" in argv[2]
    assert "curl" not in argv[2] and "wget" not in argv[2]
    assert _seconds(options["timeout"]) < _seconds(options["interval"])
    # /health answers a caller that is not loopback and has no key, even with auth on.
    auth_on = {"auth": {"require_auth": True, "api_keys": ["sk-x"]}}
    assert set(answers([Probe("GET", "/health")], auth_on).values()) == {200}


def test_the_healthcheck_passes_against_a_live_server_and_fails_without_one() -> None:
    _, argv = _healthcheck(dockerfile()[-1])
    command = [sys.executable, *argv[1:]]
    server = InProcessServer({"latency": {"enabled": False}}).start()
    try:
        port = server.url.rsplit(":", 1)[1]
        ok = subprocess.run(command, check=False, env={ENV_PREFIX + "PORT": port}, capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.stop()
    closed = {ENV_PREFIX + "PORT": str(free_port())}
    down = subprocess.run(command, check=False, env=closed, capture_output=True, timeout=30)
    assert down.returncode != 0 and b"Connection refused" in down.stderr


# -- docker-compose.yml ----------------------------------------------------------------------------


def _merge(base: Any, override: Any) -> Any:
    """Compose's merge of an override file: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: _merge(base[k], v) if k in base else v for k, v in {**base, **override}.items()}
    return override


def compose(*overrides: Path) -> dict[str, Any]:
    """docker-compose.yml (anchors and ``<<`` merges resolved) with override files applied."""
    loaded = yaml.safe_load(COMPOSE.read_text())
    for path in overrides:
        loaded = _merge(loaded, yaml.safe_load(path.read_text()))
    assert isinstance(loaded, dict)
    return loaded


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Bind mounts: path in the container → file or directory in the repository (all must exist)."""
    out = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        assert source.startswith("./"), f"{volume}: only bind mounts of repository files"
        path = ROOT / source
        assert path.exists(), f"{volume}: {source} does not exist"
        out[target] = path
    return out


def _ports(service: dict[str, Any]) -> dict[int, int]:
    """Published ports: container port → host port."""
    out = {}
    for spec in service.get("ports", []):
        host, container = str(spec).split(":")
        out[int(container)] = int(host)
    return out


def test_the_fleet_has_two_replicas_a_balancer_redis_prometheus_and_grafana() -> None:
    services = compose()["services"]
    assert set(services) == {*REPLICAS, "lb", "redis", "prometheus", "grafana"}
    first, second = (services[name] for name in REPLICAS)
    assert first["build"] == "." and first["image"] == second["image"]
    assert first["environment"] == second["environment"]
    host_ports = [port for service in services.values() for port in _ports(service).values()]
    assert len(host_ports) == len(set(host_ports)), "two services publish the same host port"
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image ({image})"


@pytest.mark.parametrize("overrides", [(), (REDIS_OVERRIDE,)], ids=["alone", "with-redis-state"])
def test_each_replica_starts_with_a_valid_configuration_on_its_published_port(overrides: tuple[Path, ...]) -> None:
    services = compose(*overrides)["services"]
    for name in REPLICAS:
        service = services[name]
        env = {k: str(v) for k, v in service["environment"].items()}
        config = effective_config(env, _mounts(service))
        assert config.server.host == "0.0.0.0", name
        assert config.server.port in _ports(service), f"{name}: port {config.server.port} is not published"
        assert parse_command(["llm-simulator", *service.get("command", ["serve"])]).command == "serve"
        # docker stop sends SIGTERM and kills after stop_grace_period: longer than the drain.
        assert _seconds(service["stop_grace_period"]) > config.server.drain_timeout_s, name
        for pending in set(env) & set(PENDING_ENV):
            assert overrides, f"{name}: {pending} outside the optional override, before the code has it"


def test_the_redis_override_points_every_replica_at_the_compose_redis() -> None:
    override = yaml.safe_load(REDIS_OVERRIDE.read_text())["services"]
    services = compose()["services"]
    assert set(override) == set(REPLICAS)
    for name in REPLICAS:
        env = override[name]["environment"]
        assert set(env) == {ENV_PREFIX + "STATE"}
        if not is_pending(ENV_PREFIX + "STATE"):
            assert effective_config(env).model_dump()["state"]["url"] == env[ENV_PREFIX + "STATE"]
        match = re.fullmatch(r"redis://([\w-]+):(\d+)/\d+", env[ENV_PREFIX + "STATE"])
        assert match and match.group(1) in services and match.group(2) == "6379"
        assert override[name]["depends_on"] == {match.group(1): {"condition": "service_healthy"}}
    assert "healthcheck" in services["redis"]


def _nginx() -> str:
    mounts = _mounts(compose()["services"]["lb"])
    return mounts["/etc/nginx/nginx.conf"].read_text()


def test_the_balancer_spreads_over_the_replicas_and_passes_streams_unbuffered() -> None:
    services = compose()["services"]
    conf = _nginx()
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", conf, re.MULTILINE)
    ports = {
        name: effective_config(services[name]["environment"], _mounts(services[name])).server.port for name in REPLICAS
    }
    assert sorted(upstreams) == sorted((name, str(port)) for name, port in ports.items())
    (listen,) = re.findall(r"^\s*listen\s+(\d+);", conf, re.MULTILINE)
    assert int(listen) in _ports(services["lb"])
    for directive in ("proxy_buffering off;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";'):
        assert directive in conf, directive
    assert set(services["lb"]["depends_on"]) == set(REPLICAS)
    assert all(dep == {"condition": "service_healthy"} for dep in services["lb"]["depends_on"].values())


def test_prometheus_scrapes_each_replica_not_the_balancer_with_the_shipped_rules() -> None:
    services = compose()["services"]
    mounts = _mounts(services["prometheus"])
    config = yaml.safe_load(mounts["/etc/prometheus/prometheus.yml"].read_text())
    (rules,) = config["rule_files"]
    assert mounts[rules].resolve() == (ROOT / "deploy" / "prometheus" / "rules.yml").resolve()
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "llm-simulator" and job["metrics_path"] == "/metrics"
    targets = job["static_configs"][0]["targets"]
    ports = {
        name: effective_config(services[name]["environment"], _mounts(services[name])).server.port for name in REPLICAS
    }
    assert sorted(targets) == sorted(f"{name}:{port}" for name, port in ports.items())
    assert set(answers([Probe("GET", "/metrics")], {"auth": {"require_auth": True, "api_keys": ["k"]}}).values()) == {
        200
    }
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_grafana_is_provisioned_with_the_shipped_dashboard_on_the_compose_prometheus() -> None:
    services = compose()["services"]
    mounts = _mounts(services["grafana"])
    datasources = yaml.safe_load(mounts["/etc/grafana/provisioning/datasources/datasources.yml"].read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    match = re.fullmatch(r"http://([\w-]+):(\d+)", source["url"])
    assert match and match.group(1) == "prometheus" and int(match.group(2)) in _ports(services["prometheus"])
    providers = yaml.safe_load(mounts["/etc/grafana/provisioning/dashboards/dashboards.yml"].read_text())
    (provider,) = providers["providers"]
    folder = provider["options"]["path"]
    dashboards = {target: path for target, path in mounts.items() if target.startswith(folder + "/")}
    assert [path.resolve() for path in dashboards.values()] == [
        (ROOT / "deploy" / "grafana" / "llm-simulator-dashboard.json").resolve()
    ]
    assert services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] in dashboards
