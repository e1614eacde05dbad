"""The benchmark command's parser: documented flags and the run subcommand's namespace."""

from __future__ import annotations

import argparse
from pathlib import Path

from llm_simulator.cli import benchmark

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmark.md"


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(prog="llm-simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    benchmark.add_parser(sub)
    bench = sub.choices["benchmark"]
    return parser, bench


def test_every_flag_is_documented() -> None:
    _, bench = _parser()
    doc = DOC.read_text(encoding="utf-8")
    subparsers = [a for a in bench._actions if isinstance(a, argparse._SubParsersAction)]
    parsers = [bench, *subparsers[0].choices.values()]
    flags = {opt for p in parsers for a in p._actions for opt in a.option_strings if opt.startswith("--")}
    missing = sorted(f for f in flags - {"--help"} if f"`{f}" not in doc)
    assert not missing


def test_defaults_and_the_run_subcommand() -> None:
    parser, _ = _parser()
    args = parser.parse_args(["benchmark", "--url", "http://x"])
    assert (args.provider, args.concurrency, args.stream, args.progress, args.format) == (
        "openai", 8, True, None, "text"
    )  # fmt: skip
    assert args.benchmark_command is None
    args = parser.parse_args(["benchmark", "--url", "http://x", "--provider", "gemini", "run", "--targets", "a"])
    assert (args.benchmark_command, args.url, args.provider, args.targets) == ("run", "http://x", "gemini", "a")
    args = parser.parse_args(["benchmark", "run", "--url", "http://y", "--no-progress", "--header", "a:b"])
    assert (args.url, args.progress, args.header) == ("http://y", False, ["a:b"])
