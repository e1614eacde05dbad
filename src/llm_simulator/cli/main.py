"""``llm-simulator``: serve, config (show/validate/init/env), models, version.

Flags are declared with ``default=SUPPRESS`` so a flag the user did not pass is absent from
the parsed namespace and never overrides the file or the environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

from llm_simulator._version import __version__
from llm_simulator.cli import benchmark
from llm_simulator.config.loader import ENV_KEYS, ENV_PREFIX, ConfigError, load_config, redacted
from llm_simulator.config.schema import SimulatorConfig

# Flag destination → dotted config key.
FLAG_KEYS: dict[str, str] = {
    "host": "server.host",
    "port": "server.port",
    "workers": "server.workers",
    "server": "server.implementation",
    "max_body_bytes": "server.max_body_bytes",
    "drain_timeout": "server.drain_timeout_s",
    "seed": "seed",
    "latency_multiplier": "latency.multiplier",
    "latency_profile": "latency.default_profile",
    "strategy": "generation.strategy",
    "accept_unknown_models": "models.accept_unknown",
    "log_level": "logging.level",
    "json_logs": "logging.json_logs",
    "require_auth": "auth.require_auth",
    "api_key": "auth.api_keys",
    "admin_key": "auth.admin_keys",
    "fixtures": "fixtures.files",
    "chaos": "chaos.enabled",
    "chaos_probability": "chaos.probability",
    "chaos_preset": "chaos.preset",
    "rate_limits": "rate_limits.enabled",
    "otlp_endpoint": "telemetry.tracing.otlp_endpoint",
    "access_log": "logging.access_log",
}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    s = argparse.SUPPRESS
    parser.add_argument("--config", "-c", type=Path, default=s, help="config file (.yaml, .toml, .json)")
    parser.add_argument("--host", default=s, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", "-p", type=int, default=s, help="port (default 8080)")
    parser.add_argument("--workers", type=int, default=s, help="worker processes")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default=s, help="HTTP server")
    parser.add_argument("--max-body-bytes", type=int, default=s, help="request body limit")
    parser.add_argument("--drain-timeout", type=float, default=s, help="seconds to drain streams on SIGTERM")
    parser.add_argument("--seed", type=int, default=s, help="run seed: reproducible outputs")
    parser.add_argument("--no-latency", action="store_true", default=s, help="respond without simulated delays")
    parser.add_argument("--latency-multiplier", type=float, default=s, help="scale every delay")
    parser.add_argument("--latency-profile", default=s, help="default latency profile")
    parser.add_argument("--strategy", default=s, help="text strategy: lorem, echo, template, fixed, random, corpus")
    parser.add_argument("--accept-unknown-models", action="store_true", default=s, help="serve any model id")
    parser.add_argument("--log-level", default=s, help="debug, info, warning, error")
    parser.add_argument("--json-logs", action="store_true", default=s, help="log as JSON lines")
    parser.add_argument("--access-log", action="store_true", default=s, help="log one line per request")
    parser.add_argument(
        "--otlp-endpoint",
        default=s,
        metavar="URL",
        help="export OpenTelemetry traces to this OTLP/HTTP collector (needs the otel extra)",
    )
    parser.add_argument("--require-auth", action="store_true", default=s, help="require an API key")
    parser.add_argument("--api-key", action="append", default=s, help="an accepted API key, role user (repeatable)")
    parser.add_argument("--admin-key", action="append", default=s, help="an accepted API key, role admin (repeatable)")
    parser.add_argument(
        "--fixtures", action="append", default=s, metavar="FILE", help="a fixtures file of rules/scenarios (repeatable)"
    )
    parser.add_argument(
        "--chaos", action="store_true", default=s, help="inject failures (the configured rules, or a default mix)"
    )
    parser.add_argument(
        "--chaos-probability", type=float, default=s, metavar="P", help="global failure probability factor (0-1)"
    )
    parser.add_argument(
        "--chaos-preset",
        default=s,
        help="intermittent_timeouts, rate_limit_stress, high_latency, partial_outage or full_outage",
    )
    parser.add_argument("--rate-limits", action="store_true", default=s, help="enforce provider rate limits")


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


def resolve_config(args: argparse.Namespace, environ: dict[str, str] | None = None) -> SimulatorConfig:
    """The effective configuration: flags > environment > file > defaults."""
    env = dict(os.environ if environ is None else environ)
    file: Path | None = getattr(args, "config", None)
    if file is None and env.get(ENV_PREFIX + "CONFIG"):
        file = Path(env[ENV_PREFIX + "CONFIG"])
    return load_config(file, env, flags_from(args))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog="llm-simulator", description="Offline OpenAI/Anthropic/Gemini API simulator.")
    parser.add_argument("--version", action="version", version=f"llm-simulator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the simulator")
    _add_config_flags(serve)

    config = sub.add_parser("config", help="show, validate or create configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    show = config_sub.add_parser("show", help="print the effective config (secrets redacted)")
    _add_config_flags(show)
    show.add_argument("--format", choices=["yaml", "json"], default="yaml")
    validate = config_sub.add_parser("validate", help="check a config file")
    validate.add_argument("file", type=Path)
    init = config_sub.add_parser("init", help="write the commented example config")
    init.add_argument("file", type=Path, nargs="?", default=Path("llm-simulator.yaml"))
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    config_sub.add_parser("env", help="list the environment variables")

    models = sub.add_parser("models", help="list the model catalogue")
    _add_config_flags(models)
    models.add_argument("--provider", choices=["openai", "anthropic", "google"])
    models.add_argument("--json", action="store_true", help="print JSON")

    benchmark.add_parser(sub)

    sub.add_parser("version", help="print the version")
    return parser


def example_config() -> str:
    """The commented example configuration shipped with the package."""
    return resources.files("llm_simulator.config").joinpath("example.yaml").read_text("utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"llm-simulator: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(f"llm-simulator {__version__}")
        return 0
    if args.command == "config":
        return _config(args)
    if args.command == "benchmark":
        return benchmark.run(args)
    config = resolve_config(args)
    if args.command == "models":
        return _models(args, config)
    # Build one Simulator up front so a bad profile or alias fails here, not in a worker.
    from llm_simulator.engine.simulator import Simulator
    from llm_simulator.server.run import serve
    from llm_simulator.telemetry.sinks import check_sinks

    Simulator(config)
    check_sinks(config)
    print(
        f"llm-simulator {__version__} listening on http://{config.server.host}:{config.server.port} "
        f"({config.server.implementation}, {config.server.workers} worker(s))",
        file=sys.stderr,
    )
    serve(config)
    return 0


def _config(args: argparse.Namespace) -> int:
    command = args.config_command
    if command == "show":
        data = redacted(resolve_config(args))
        if args.format == "json":
            print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        else:
            print(yaml.safe_dump(data, sort_keys=False), end="")
        return 0
    if command == "validate":
        from llm_simulator.engine.simulator import Simulator
        from llm_simulator.telemetry.sinks import check_sinks

        checked = load_config(args.file, {}, {})
        Simulator(checked)
        check_sinks(checked)
        print(f"{args.file}: valid")
        return 0
    if command == "init":
        if args.file.exists() and not args.force:
            print(f"llm-simulator: {args.file} exists (use --force to overwrite)", file=sys.stderr)
            return 1
        args.file.write_text(example_config(), encoding="utf-8")
        print(f"wrote {args.file}")
        return 0
    for short, key in ENV_KEYS.items():
        print(f"{ENV_PREFIX}{short:<22} {key}")
    print(f"{ENV_PREFIX}{'CONFIG':<22} path of the config file")
    print(f"{ENV_PREFIX}<SECTION>__<KEY>       any key, e.g. {ENV_PREFIX}SERVER__PORT")
    return 0


def _models(args: argparse.Namespace, config: SimulatorConfig) -> int:
    from llm_simulator.engine.simulator import Simulator

    sim = Simulator(config)
    rows = sim.catalogue.list_models(args.provider)
    if args.json:
        print(orjson.dumps([_model_row(m) for m in rows], option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"{'id':<34} {'provider':<10} {'kind':<10} {'context':>10} {'max out':>8}  profile")
    for m in rows:
        row = f"{m.id:<34} {m.provider:<10} {m.kind:<10} {m.context_window:>10} {m.max_output_tokens:>8}"
        print(f"{row}  {m.latency_profile}")
    for alias, target in sim.catalogue.aliases().items():
        print(f"{alias:<34} alias of {target}")
    return 0


def _model_row(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "provider": m.provider,
        "kind": m.kind,
        "context_window": m.context_window,
        "max_output_tokens": m.max_output_tokens,
        "embedding_dimensions": m.embedding_dimensions,
        "capabilities": list(m.capabilities),
        "latency_profile": m.latency_profile,
    }


if __name__ == "__main__":
    raise SystemExit(main())
