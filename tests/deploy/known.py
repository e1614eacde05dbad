"""What the deployment artefacts may name, taken from the code itself.

The Dockerfile, docker-compose.yml and the Helm chart name commands, ``LLM_SIMULATOR_*``
variables, ports, HTTP paths and metric names; each must exist in the simulator. The checks
here ask the real parser, loader, route table and metric registry rather than a copied list.
"""

from __future__ import annotations

import argparse
import asyncio
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_simulator.cli.flags import CONFIG_ENV
from llm_simulator.cli.main import build_parser
from llm_simulator.config.loader import ENV_KEYS, ENV_PREFIX, load_config
from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp
from tests.server.asgi_driver import call

ROOT = Path(__file__).resolve().parents[2]

# Variables another branch is adding (issue 18 item 1: the redis state backend), wired in the
# artefacts only where they are optional (the compose override file, the chart's state/redis
# toggles). Once ENV_KEYS has them they are checked like every other name.
PENDING_ENV = {ENV_PREFIX + "STATE": "state.url (the redis state backend)"}
# Variables the image sets for Python itself, not for the simulator.
RUNTIME_ENV = {
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_CACHE_DIR",
}


def console_scripts() -> dict[str, str]:
    """The commands ``pip install llm-simulator`` puts on PATH, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    scripts: dict[str, str] = project["scripts"]
    return scripts


def parse_command(argv: Sequence[str]) -> argparse.Namespace:
    """Parse an ``llm-simulator …`` command line with the CLI's own parser (SystemExit if unknown)."""
    assert argv and argv[0] in console_scripts(), f"{argv[0]!r} is not a command the package installs"
    return build_parser().parse_args(list(argv[1:]))


def is_pending(name: str) -> bool:
    """Whether ``name`` is a variable not yet in this branch's code (see ``PENDING_ENV``)."""
    return name in PENDING_ENV and name.removeprefix(ENV_PREFIX) not in ENV_KEYS


def simulator_env(env: Mapping[str, str]) -> dict[str, str]:
    """The ``LLM_SIMULATOR_*`` part of an environment, pending names left out."""
    return {k: v for k, v in env.items() if k.startswith(ENV_PREFIX) and not is_pending(k)}


def effective_config(env: Mapping[str, str], mounts: Mapping[str, Path] | None = None) -> SimulatorConfig:
    """The configuration a container with this environment starts with, read by the real loader.

    ``mounts`` maps paths inside the container to files here (the config file named by
    ``LLM_SIMULATOR_CONFIG``). An unknown variable, a bad value or a missing file raises
    ``ConfigError`` as ``serve`` would at start-up.
    """
    unknown = [k for k in env if not k.startswith(ENV_PREFIX) and k not in RUNTIME_ENV]
    assert not unknown, f"variables that are neither LLM_SIMULATOR_* nor the runtime's: {unknown}"
    values = simulator_env(env)
    file = None
    if CONFIG_ENV in values:
        inside = values.pop(CONFIG_ENV)
        assert mounts is not None and inside in mounts, f"{CONFIG_ENV}={inside} is not a mounted file"
        file = mounts[inside]
        assert file.is_file(), file
    return load_config(file, values, {})


@dataclass(frozen=True)
class Probe:
    """An HTTP path a probe, a healthcheck or a scrape requests, and the status it needs."""

    method: str
    path: str
    status: int = 200


# Probes come from the kubelet, Docker or Prometheus: never loopback, never with a key.
REMOTE_CLIENT = ("10.1.2.3", 40000)


def answers(probes: Sequence[Probe], config: SimulatorConfig | Mapping[str, Any] | None = None) -> dict[Probe, int]:
    """The status each probe gets from a fresh in-process app (auth on or off per ``config``)."""
    if not isinstance(config, SimulatorConfig):
        config = SimulatorConfig.model_validate(dict(config or {}))

    async def run() -> dict[Probe, int]:
        app = SimulatorApp(config)
        try:
            return {p: (await call(app, p.method, p.path, client=REMOTE_CLIENT)).status for p in probes}
        finally:
            await app.telemetry.close()

    return asyncio.run(run())


def metric_types() -> dict[str, str]:
    """Every family a fresh app's ``/metrics`` exposes (counters with ``_total``) → its type."""
    from prometheus_client.parser import text_string_to_metric_families

    async def run() -> str:
        app = SimulatorApp(SimulatorConfig())
        try:
            return (await call(app, "GET", "/metrics", client=REMOTE_CLIENT)).body.decode()
        finally:
            await app.telemetry.close()

    families = text_string_to_metric_families(asyncio.run(run()))
    return {f"{f.name}_total" if f.type == "counter" else f.name: f.type for f in families}
