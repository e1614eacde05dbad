"""The configuration flags of ``serve`` (and ``config show``): one table, one env var each.

Every flag sets one dotted config key and has an ``LLM_SIMULATOR_*`` variable (from
``config.loader.ENV_KEYS``) that sets the same key. Flags are declared with
``default=SUPPRESS``, so a flag the user did not pass is absent from the parsed namespace
and never overrides the environment or the file: precedence is flags > env > file > defaults.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from llm_simulator.config.loader import ENV_KEYS, ENV_PREFIX, load_config
from llm_simulator.config.schema import SimulatorConfig

CONFIG_ENV = ENV_PREFIX + "CONFIG"


@dataclass(frozen=True)
class ConfigFlag:
    """One command-line flag that sets one configuration key.

    ``env`` is the short name in ``ENV_KEYS`` (``PORT`` for ``LLM_SIMULATOR_PORT``);
    ``action`` is ``store`` (typed by ``type``), ``store_true`` or ``append``.
    """

    names: tuple[str, ...]
    key: str
    env: str
    help: str
    group: str
    type: Callable[[str], Any] | None = None
    action: str = "store"
    metavar: str | None = None
    choices: tuple[str, ...] | None = None

    @property
    def dest(self) -> str:
        """The namespace attribute argparse derives from the long name."""
        return self.names[0].removeprefix("--").replace("-", "_")

    @property
    def env_var(self) -> str:
        """The full environment variable name."""
        return ENV_PREFIX + self.env


GROUPS: tuple[str, ...] = (
    "server",
    "generation",
    "latency",
    "chaos and limits",
    "auth",
    "logging and telemetry",
    "proxy and replay",
)

CONFIG_FLAGS: tuple[ConfigFlag, ...] = (
    ConfigFlag(("--host",), "server.host", "HOST", "bind address", "server"),
    ConfigFlag(("--port", "-p"), "server.port", "PORT", "port to listen on", "server", type=int),
    ConfigFlag(("--workers",), "server.workers", "WORKERS", "worker processes", "server", type=int, metavar="N"),
    ConfigFlag(
        ("--server",), "server.implementation", "SERVER", "HTTP server", "server", choices=("granian", "uvicorn")
    ),
    ConfigFlag(
        ("--single-process",),
        "server.single_process",
        "SINGLE_PROCESS",
        "serve from this process, no supervisor (one granian worker; not replaced if it dies)",
        "server",
        action="store_true",
    ),
    ConfigFlag(
        ("--max-body-bytes",),
        "server.max_body_bytes",
        "MAX_BODY_BYTES",
        "request body limit in bytes",
        "server",
        type=int,
        metavar="N",
    ),
    ConfigFlag(
        ("--drain-timeout",),
        "server.drain_timeout_s",
        "DRAIN_TIMEOUT",
        "seconds to drain streams on SIGTERM",
        "server",
        type=float,
        metavar="S",
    ),
    ConfigFlag(
        ("--max-concurrent",),
        "security.max_concurrent_requests",
        "MAX_CONCURRENT",
        "requests in flight at once in each worker (the server's cap is this times --workers); above it"
        " new ones get the provider's 503/529",
        "server",
        type=int,
        metavar="N",
    ),
    ConfigFlag(
        ("--timeout",),
        "security.request_timeout_s",
        "TIMEOUT",
        "seconds from a request's body to its response's start before a 504 (streams then run on)",
        "server",
        type=float,
        metavar="S",
    ),
    ConfigFlag(
        ("--state",),
        "state.url",
        "STATE",
        "shared state for workers and replicas: redis://host:port/db, or memory (docs/scaling.md)",
        "server",
        metavar="URL",
    ),
    ConfigFlag(("--seed",), "seed", "SEED", "run seed: reproducible outputs", "generation", type=int, metavar="N"),
    ConfigFlag(
        ("--strategy",),
        "generation.strategy",
        "STRATEGY",
        "text strategy",
        "generation",
        choices=("lorem", "echo", "template", "fixed", "random", "corpus"),
    ),
    ConfigFlag(
        ("--accept-unknown-models",),
        "models.accept_unknown",
        "ACCEPT_UNKNOWN_MODELS",
        "serve any model id instead of a 404",
        "generation",
        action="store_true",
    ),
    ConfigFlag(
        ("--fixtures",),
        "fixtures.files",
        "FIXTURES",
        "a fixtures file of rules/scenarios, repeatable",
        "generation",
        action="append",
        metavar="FILE",
    ),
    ConfigFlag(
        ("--no-latency",),
        "latency.enabled",
        "NO_LATENCY",
        "respond without simulated delays",
        "latency",
        action="store_true",
    ),
    ConfigFlag(
        ("--latency-multiplier",),
        "latency.multiplier",
        "LATENCY_MULTIPLIER",
        "scale every delay",
        "latency",
        type=float,
        metavar="X",
    ),
    ConfigFlag(
        ("--engine",),
        "engine.default_deployment",
        "ENGINE",
        "serve every chat model from its own load-aware engine deployment (a preset or a configured one)",
        "latency",
        metavar="DEPLOYMENT",
    ),
    ConfigFlag(
        ("--latency-profile",),
        "latency.default_profile",
        "LATENCY_PROFILE",
        "latency profile of models without their own",
        "latency",
        metavar="NAME",
    ),
    ConfigFlag(
        ("--chaos",),
        "chaos.enabled",
        "CHAOS",
        "inject failures (the configured rules, or a default mix)",
        "chaos and limits",
        action="store_true",
    ),
    ConfigFlag(
        ("--chaos-probability",),
        "chaos.probability",
        "CHAOS_PROBABILITY",
        "global failure probability factor (0-1); implies --chaos",
        "chaos and limits",
        type=float,
        metavar="P",
    ),
    ConfigFlag(
        ("--chaos-preset",),
        "chaos.preset",
        "CHAOS_PRESET",
        "intermittent_timeouts, rate_limit_stress, high_latency, partial_outage or full_outage; implies --chaos",
        "chaos and limits",
        metavar="NAME",
    ),
    ConfigFlag(
        ("--rate-limits",),
        "rate_limits.enabled",
        "RATE_LIMITS",
        "enforce provider rate limits, in each worker (own buckets: the server allows the limits times --workers)",
        "chaos and limits",
        action="store_true",
    ),
    ConfigFlag(
        ("--require-auth",), "auth.require_auth", "REQUIRE_AUTH", "require an API key", "auth", action="store_true"
    ),
    ConfigFlag(
        ("--api-key",),
        "auth.api_keys",
        "API_KEY",
        "an accepted API key with role user, repeatable",
        "auth",
        action="append",
        metavar="KEY",
    ),
    ConfigFlag(
        ("--admin-key",),
        "auth.admin_keys",
        "ADMIN_KEY",
        "an accepted API key with role admin, repeatable",
        "auth",
        action="append",
        metavar="KEY",
    ),
    ConfigFlag(
        ("--log-level",),
        "logging.level",
        "LOG_LEVEL",
        "debug, info, warning or error",
        "logging and telemetry",
        metavar="LEVEL",
    ),
    ConfigFlag(
        ("--json-logs",),
        "logging.json_logs",
        "JSON_LOGS",
        "log as JSON lines",
        "logging and telemetry",
        action="store_true",
    ),
    ConfigFlag(
        ("--access-log",),
        "logging.access_log",
        "ACCESS_LOG",
        "log one line per request",
        "logging and telemetry",
        action="store_true",
    ),
    ConfigFlag(
        ("--otlp-endpoint",),
        "telemetry.tracing.otlp_endpoint",
        "OTLP_ENDPOINT",
        "export OpenTelemetry traces to this OTLP/HTTP collector (needs the otel extra)",
        "logging and telemetry",
        metavar="URL",
    ),
    ConfigFlag(
        ("--proxy",),
        "proxy.upstream",
        "PROXY",
        "forward provider requests to this upstream base URL (docs/proxy.md)",
        "proxy and replay",
        metavar="URL",
    ),
    ConfigFlag(
        ("--record",),
        "proxy.record_dir",
        "RECORD",
        "write proxied exchanges as JSONL cassettes into this directory",
        "proxy and replay",
        metavar="DIR",
    ),
    ConfigFlag(
        ("--replay",),
        "proxy.replay_dir",
        "REPLAY",
        "answer from the cassettes in this directory",
        "proxy and replay",
        metavar="DIR",
    ),
)

# Flag destination → dotted config key (what ``flags_from`` hands to the loader).
FLAG_KEYS: dict[str, str] = {flag.dest: flag.key for flag in CONFIG_FLAGS if flag.dest != "no_latency"}
# The long flag of each short env name, for ``config env``.
FLAG_OF_ENV: dict[str, str] = {flag.env: flag.names[0] for flag in CONFIG_FLAGS}


@cache
def _defaults() -> SimulatorConfig:
    return SimulatorConfig()


def schema_default(key: str) -> Any:
    """The built-in default of a dotted config key (for help texts)."""
    node: Any = _defaults()
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _help(flag: ConfigFlag) -> str:
    # Showing the default only where it says something: lists, flags and unset keys have none.
    default = schema_default(flag.key)
    notes = [] if flag.action != "store" or default in (None, "", ()) else [f"default {default}"]
    notes.append(f"env {flag.env_var}" + (", comma-separated" if flag.action == "append" else ""))
    # argparse treats "%" as a format character in help texts.
    return f"{flag.help} ({'; '.join(notes)})".replace("%", "%%")


def add_config_flags(parser: argparse.ArgumentParser, *, grouped: bool = True) -> None:
    """Add ``--config`` and every configuration flag, each with ``default=SUPPRESS``."""
    suppress = argparse.SUPPRESS
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=suppress,
        metavar="FILE",
        help=f"config file: .yaml, .toml or .json (env {CONFIG_ENV})",
    )
    groups: dict[str, Any] = {}
    for flag in CONFIG_FLAGS:
        if grouped and flag.group not in groups:
            groups[flag.group] = parser.add_argument_group(flag.group)
        target = groups[flag.group] if grouped else parser
        kwargs: dict[str, Any] = {"default": suppress, "help": _help(flag), "dest": flag.dest}
        if flag.action == "store":
            kwargs.update(type=flag.type, metavar=flag.metavar, choices=flag.choices)
        else:
            kwargs["action"] = flag.action
            if flag.action == "append":
                kwargs["metavar"] = flag.metavar
        target.add_argument(*flag.names, **kwargs)


def flags_from(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted config keys for exactly the flags the user passed."""
    given = vars(args)
    flags = {key: given[dest] for dest, key in FLAG_KEYS.items() if dest in given}
    if given.get("no_latency"):
        flags["latency.enabled"] = False
    # Choosing a chaos preset or probability on the command line means chaos is wanted.
    if "chaos_preset" in given or "chaos_probability" in given:
        flags["chaos.enabled"] = True
    return flags


def resolve_config(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> SimulatorConfig:
    """The effective configuration: flags > environment > file > defaults."""
    env = dict(os.environ if environ is None else environ)
    file: Path | None = getattr(args, "config", None)
    if file is None and env.get(CONFIG_ENV):
        file = Path(env[CONFIG_ENV])
    return load_config(file, env, flags_from(args))


def env_table() -> list[dict[str, str | None]]:
    """Every short environment variable: its name, the key it sets and the matching flag."""
    rows: list[dict[str, str | None]] = [
        {"name": ENV_PREFIX + short, "key": key, "flag": FLAG_OF_ENV.get(short)} for short, key in ENV_KEYS.items()
    ]
    rows.append({"name": CONFIG_ENV, "key": None, "flag": "--config"})
    return rows
