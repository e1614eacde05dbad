"""``llm-simulator``: the command-line entry point and the parser of every command.

Each command lives in its own module (``serve``, ``config_cmd``, ``models``, ``health``,
``generate``, ``client``, ``benchmark``, ``simulate``) with an ``add_parser`` and a handler; this module
assembles them and turns every failure into one line on stderr and an exit code (see
``cli.output``): 0 ok, 1 the operation failed, 2 usage/config error or unreachable server.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence

import httpx

from llm_simulator._version import __version__
from llm_simulator.cli import benchmark, client, config_cmd, generate, health, models, serve
from llm_simulator.cli import fidelity as fidelity_cmd
from llm_simulator.cli import simulate as simulate_cmd
from llm_simulator.cli.config_cmd import example_config
from llm_simulator.cli.flags import FLAG_KEYS, flags_from, resolve_config
from llm_simulator.cli.output import EXIT_OK, EXIT_USAGE, PROG, CliError, CliParser, add_format_flag, print_json
from llm_simulator.config.loader import ConfigError

# Kept importable from here: tests and docs examples use them through ``cli.main``.
__all__ = ["FLAG_KEYS", "build_parser", "example_config", "flags_from", "main", "resolve_config"]

EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command and subcommand."""
    # Typed as the base class so the command modules take plain argparse types; at run time
    # every subparser is a CliParser (argparse builds subparsers with the parent's class).
    parser: argparse.ArgumentParser = CliParser(
        prog=PROG,
        description="Offline OpenAI/Anthropic/Gemini API simulator.",
        epilog="Exit codes: 0 ok, 1 the operation ran but failed (e.g. unhealthy, an error response),\n"
        "2 usage or configuration error, or the server cannot be reached.\n"
        "Run 'llm-simulator COMMAND --help' for a command's flags.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    serve.add_parser(sub)
    config_cmd.add_parser(sub)
    models.add_parser(sub)
    health.add_parser(sub)
    generate.add_parser(sub)
    client.add_parser(sub)
    benchmark.add_parser(sub)
    sub.choices["benchmark"].set_defaults(handler=benchmark.run)
    simulate_cmd.add_parser(sub)
    fidelity_cmd.add_parser(sub)
    version = sub.add_parser(
        "version", help="print the version", description="Print the simulator's version (json: with Python's)."
    )
    version.set_defaults(handler=_version)
    add_format_flag(version)
    return parser


def _version(args: argparse.Namespace) -> int:
    if args.format == "json":
        print_json(
            {
                "name": PROG,
                "version": __version__,
                "python": platform.python_version(),
                "platform": platform.platform(),
            }
        )
    else:
        print(f"{PROG} {__version__}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (also for ``--help`` and usage errors)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors exit from inside argparse
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except httpx.HTTPError as exc:  # a transport failure no command translated: still one line
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``… | head``): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
