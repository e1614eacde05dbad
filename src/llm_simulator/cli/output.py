"""What every command shares: the parser class, ``--format``, JSON printing and exit codes.

Exit codes (the same for every command): 0 the command did what was asked; 1 it ran but the
outcome is a failure (an unhealthy server, an error response); 2 a usage or configuration
error, or a server that cannot be reached. Failures print one line on stderr, never a
traceback: commands raise a ``CliError`` carrying its exit code and ``main`` renders it once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import orjson

PROG = "llm-simulator"
FORMATS: tuple[str, ...] = ("text", "json")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure reported as one line on stderr, with the exit code it carries."""

    exit_code = EXIT_USAGE
    # Most messages read "llm-simulator: …"; server errors have their own fixed shape.
    prefixed = True

    def line(self) -> str:
        """The line printed on stderr."""
        return f"{PROG}: {self}" if self.prefixed else str(self)


class UsageError(CliError):
    """Bad arguments or a bad combination of them (exit 2)."""


class Unreachable(CliError):
    """No HTTP answer from the server: refused, timed out, unknown host (exit 2)."""


class OperationFailed(CliError):
    """The command ran and the outcome is a failure (exit 1)."""

    exit_code = EXIT_FAILED


class ServerError(OperationFailed):
    """The server answered with an error: printed as ``error: <status> <type>: <message>``."""

    prefixed = False

    def __init__(self, status: int | str, kind: str, message: str) -> None:
        super().__init__(f"error: {status} {kind}: {message}")
        self.status = status
        self.kind = kind
        self.message = message


class CliFormatter(argparse.RawDescriptionHelpFormatter):
    """Help layout: descriptions and epilogs keep their line breaks (examples stay readable)."""


class CliParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit 2) instead of usage + error.

    Subparsers inherit the class, so every command reports usage errors the same way.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", CliFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message> (see <prog> --help)`` and exit 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_format_flag(
    parser: argparse.ArgumentParser,
    *,
    choices: Sequence[str] = FORMATS,
    default: str = "text",
    help_text: str | None = None,
) -> None:
    """Add ``--format`` with ``choices`` (text and json unless told otherwise)."""
    parser.add_argument(
        "--format",
        choices=list(choices),
        default=default,
        help=help_text or f"output format (default {default})",
    )


def json_text(data: Any) -> str:
    """``data`` as indented JSON (keys in insertion order, so output is stable)."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json_text(data) + "\n")


def print_json_line(data: Any) -> None:
    """Print ``data`` as one compact JSON line (JSON Lines: watch and stream output)."""
    sys.stdout.write(orjson.dumps(data).decode() + "\n")
    sys.stdout.flush()
