"""``llm-simulator``: the command-line entry point and the parser of every command.

Each command lives in its own module (``serve``, ``config_cmd``, ``models``, ``health``,
``generate``, ``client``, ``benchmark``, ``simulate``) with an ``add_parser`` and a handler; this module
assembles them and turns every failure into one line on stderr and an exit code (see
``cli.output``): 0 ok, 1 the operation failed, 2 usage/config error or unreachable server.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from collections.abc import Sequence

from llm_simulator._version import __version__
from llm_simulator.cli.output import EXIT_OK, EXIT_USAGE, PROG, CliError, CliParser, add_format_flag, print_json
from llm_simulator.cli.startup import collection_paused

__all__ = ["build_parser", "main"]

EXIT_INTERRUPTED = 130

# Each command's module, in the order ``--help`` lists them. A command line naming one
# imports only that module: ``serve`` need not load httpx, rich, the load generator and the
# virtual-time engine it never uses (start-up time).
COMMANDS = {
    "serve": "llm_simulator.cli.serve",
    "config": "llm_simulator.cli.config_cmd",
    "models": "llm_simulator.cli.models",
    "health": "llm_simulator.cli.health",
    "generate": "llm_simulator.cli.generate",
    "client": "llm_simulator.cli.client",
    "benchmark": "llm_simulator.cli.benchmark",
    "simulate": "llm_simulator.cli.simulate",
    "fidelity": "llm_simulator.cli.fidelity",
    "profile": "llm_simulator.cli.profile",
    "cassette": "llm_simulator.cli.cassette",
}


def _named_command(argv: Sequence[str]) -> str | None:
    """The command the arguments name, when the first argument is one (else None: build them all)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command and subcommand (``only``: of that one command alone)."""
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
    for name, module_name in COMMANDS.items():
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.add_parser(sub)
            if name == "benchmark":
                sub.choices["benchmark"].set_defaults(handler=module.run)
    if only is not None:
        return parser
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
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = _named_command(arguments)
    try:
        # Building the parser imports the command's module (for ``serve``, most of the server,
        # whose modules it then freezes anyway before forking: frozen now, they are never walked).
        with collection_paused(freeze=command == "serve"):
            args = build_parser(command).parse_args(arguments)
    except SystemExit as exc:  # --help, --version and usage errors exit from inside argparse
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``… | head``): stop quietly, and keep Python from complaining
        # again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        # A configuration error, or a transport failure no command translated: one line each.
        # Their modules are looked up, not imported: a command that never loaded them cannot
        # have raised their errors (``version`` loads no configuration, only some commands httpx).
        loader = sys.modules.get("llm_simulator.config.loader")
        if loader is not None and isinstance(exc, loader.ConfigError):
            print(f"{PROG}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        httpx = sys.modules.get("httpx")
        if httpx is not None and isinstance(exc, httpx.HTTPError):
            print(f"{PROG}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    raise SystemExit(main())
