"""``llm-simulator config``: show, validate, init and env."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from llm_simulator.cli.flags import add_config_flags, env_table, resolve_config
from llm_simulator.cli.output import EXIT_FAILED, EXIT_OK, PROG, add_format_flag, print_json
from llm_simulator.config.loader import ENV_PREFIX, ConfigError, load_config, redacted

DEFAULT_INIT_FILE = Path("llm-simulator.yaml")


def example_config() -> str:
    """The commented example configuration shipped with the package."""
    return resources.files("llm_simulator.config").joinpath("example.yaml").read_text("utf-8")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``config`` with ``show``, ``validate``, ``init`` and ``env``."""
    config = subparsers.add_parser(
        "config",
        help="show, validate or create configuration",
        description="Inspect and create configuration. Precedence: flags > LLM_SIMULATOR_* environment > file >\n"
        "defaults.",
    )
    config.set_defaults(handler=run)
    sub = config.add_subparsers(
        dest="config_command", required=True, metavar="{show,validate,init,env}", title="subcommands"
    )

    show = sub.add_parser(
        "show",
        help="print the effective config (secrets redacted)",
        description="Print the configuration serve would run with, given the same flags, environment and file.\n"
        "Secrets are redacted.",
    )
    add_config_flags(show)
    add_format_flag(
        show,
        choices=("yaml", "json", "text"),
        default="yaml",
        help_text="output format (default yaml; text is the same as yaml)",
    )

    validate = sub.add_parser(
        "validate",
        help="check a config file",
        description="Check a config file: schema, latency profiles, aliases, fixture files and event sinks.\n"
        "Exit 0 when valid, 2 when not (the problems are printed on stderr, one key per line).",
    )
    validate.add_argument("file", type=Path, help="the file (.yaml, .toml or .json)")
    add_format_flag(validate, help_text="output format (default text; json: {file, valid, error})")

    init = sub.add_parser(
        "init",
        help="write the commented example config",
        description="Write the commented example configuration (see also: llm-simulator generate config).",
    )
    init.add_argument(
        "file", type=Path, nargs="?", default=DEFAULT_INIT_FILE, help=f"where to write (default {DEFAULT_INIT_FILE})"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file (else exit 1)")

    env = sub.add_parser(
        "env",
        help="list the environment variables",
        description=f"List the short {ENV_PREFIX}* variables, the key each sets and the matching serve flag.\n"
        f"Any key is also reachable as {ENV_PREFIX}<SECTION>__<KEY>, e.g. {ENV_PREFIX}SERVER__PORT.",
    )
    add_format_flag(env)


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``config`` subcommand; returns the exit code."""
    command = args.config_command
    if command == "show":
        data = redacted(resolve_config(args))
        if args.format == "json":
            print_json(data)
        else:
            import yaml  # only this command prints YAML: serve never loads it

            sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
        return EXIT_OK
    if command == "validate":
        return _validate(args.file, args.format == "json")
    if command == "init":
        if args.file.exists() and not args.force:
            print(f"{PROG}: {args.file} exists (use --force to overwrite)", file=sys.stderr)
            return EXIT_FAILED
        args.file.write_text(example_config(), encoding="utf-8")
        print(f"wrote {args.file}")
        return EXIT_OK
    return _env(args.format == "json")


def _validate(file: Path, as_json: bool) -> int:
    from llm_simulator.engine.simulator import Simulator
    from llm_simulator.telemetry.sinks import check_sinks

    try:
        checked = load_config(file, {}, {})
        Simulator(checked)
        check_sinks(checked)
    except ConfigError as exc:
        if as_json:
            print_json({"file": str(file), "valid": False, "error": str(exc)})
        raise
    if as_json:
        print_json({"file": str(file), "valid": True, "error": None})
    else:
        print(f"{file}: valid")
    return EXIT_OK


def _env(as_json: bool) -> int:
    rows = env_table()
    if as_json:
        print_json(rows)
        return EXIT_OK
    for row in rows:
        print(f"{row['name']:<36} {row['key'] or 'path of the config file':<34} {row['flag'] or ''}".rstrip())
    print(f"{ENV_PREFIX + '<SECTION>__<KEY>':<36} any key, e.g. {ENV_PREFIX}SERVER__PORT")
    return EXIT_OK
