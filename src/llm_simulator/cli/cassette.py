"""``llm-simulator cassette``: list, inspect and prune recorded cassettes; turn them into fixtures or a profile.

``list PATH`` sums each file up; ``inspect PATH`` shows one line per entry (``--entry
FILE:LINE`` the whole entry); ``prune PATH`` drops old, failed or duplicate entries;
``to-fixtures PATH`` writes a fixture file (rules answering each recorded generation request
with what the upstream said) that ``--fixtures`` loads; ``to-profile PATH`` fits a latency
profile (TTFT, ITL, prefill cost) to the recorded streams' chunk offsets with the latency
lens of ``profile fit`` and writes it as a config document. PATH is a ``.jsonl`` file or a
directory of them. Exit codes: 0 done, 2 an unreadable cassette or bad arguments.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from llm_simulator.adapters.latency.fit import FitOptions, fit_profile
from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError, Metric, mean_or_none
from llm_simulator.cli.output import EXIT_OK, UsageError, add_format_flag, print_json
from llm_simulator.cli.profile import NAME_PATTERN, write_fitted
from llm_simulator.engine.script.loader import parse_fixtures
from llm_simulator.proxy.replay import CassetteError
from llm_simulator.proxy.tools import Loaded, fixture_rule, prune, read_entries, stream_timing, summary


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cassette list|inspect|prune|to-fixtures|to-profile``."""
    cassette = subparsers.add_parser(
        "cassette",
        help="list, inspect, prune cassettes; turn them into fixtures or a latency profile",
        description="Work with the cassettes `serve --record DIR` writes (docs/proxy.md).",
    )
    sub = cassette.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="one line per cassette file: entries, streams, errors, providers")
    listing.set_defaults(handler=run_list)
    inspect = sub.add_parser("inspect", help="one line per entry, or one whole entry (--entry FILE:LINE)")
    inspect.set_defaults(handler=run_inspect)
    inspect.add_argument("--entry", metavar="FILE:LINE", help="print this entry whole (as JSON)")
    pruning = sub.add_parser("prune", help="drop old, failed or duplicate entries (files rewritten in place)")
    pruning.set_defaults(handler=run_prune)
    pruning.add_argument("--older-than", type=float, metavar="DAYS", help="entries recorded more than DAYS ago")
    pruning.add_argument("--errors", action="store_true", help="entries answered with a status of 400 or more")
    pruning.add_argument("--duplicates", action="store_true", help="all but the latest entry of each exact request")
    pruning.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
    fixtures = sub.add_parser(
        "to-fixtures",
        help="write a fixture file answering each recorded generation request as recorded",
        epilog="example:\n  llm-simulator cassette to-fixtures cassettes/ -o recorded.yaml\n"
        "  llm-simulator serve --fixtures recorded.yaml",
    )
    fixtures.set_defaults(handler=run_to_fixtures)
    fixtures.add_argument("--output", "-o", type=Path, help="write here (default: stdout)")
    profile = sub.add_parser(
        "to-profile",
        help="fit a latency profile to the recorded streams' chunk timings",
        epilog="example:\n  llm-simulator cassette to-profile cassettes/ --name rec --model gpt-4o -o profile.yaml\n"
        "  llm-simulator serve --config profile.yaml",
    )
    profile.set_defaults(handler=run_to_profile)
    profile.add_argument("--name", default="recorded", help="the profile's name (default recorded)")
    profile.add_argument("--output", "-o", type=Path, help="write the config document here (default: stdout)")
    profile.add_argument("--model", action="append", default=[], metavar="ID", help="make model ID use the profile")
    profile.add_argument("--default", action="store_true", help="make it latency.default_profile")
    add_format_flag(profile, choices=("yaml", "json"), default="yaml", help_text="document format (default yaml)")
    for command in (listing, inspect, pruning, fixtures, profile):
        command.add_argument("path", type=Path, metavar="PATH", help="a cassette file or a directory of them")
    for command in (listing, inspect):
        add_format_flag(command)


def _entries(path: Path) -> list[Loaded]:
    try:
        return list(read_entries(path))
    except CassetteError as exc:
        raise UsageError(str(exc)) from None


def run_list(args: argparse.Namespace) -> int:
    """``cassette list``: per file, its entries, streams, errors, providers and time span."""
    files: dict[str, dict[str, Any]] = {}
    for loaded in _entries(args.path):
        entry = loaded.entry
        row = files.setdefault(
            loaded.path.name,
            {"file": str(loaded.path), "entries": 0, "streams": 0, "errors": 0, "providers": Counter()},
        )
        row["entries"] += 1
        row["streams"] += "chunks" in entry
        row["errors"] += int(entry["status"]) >= 400
        row["providers"][entry.get("provider", "?")] += 1
        stamp = str(entry.get("recorded_at", ""))
        row["first"] = min(row.get("first", stamp), stamp)
        row["last"] = max(row.get("last", stamp), stamp)
    rows = [{**row, "providers": dict(row["providers"])} for row in files.values()]
    if args.format == "json":
        print_json(rows)
        return EXIT_OK
    print(f"{'file':<40} {'entries':>7} {'streams':>7} {'errors':>6}  providers; recorded")
    for row in rows:
        providers = ",".join(f"{name}:{count}" for name, count in sorted(row["providers"].items()))
        print(
            f"{Path(row['file']).name:<40} {row['entries']:>7} {row['streams']:>7} {row['errors']:>6}  "
            f"{providers}; {row.get('first', '')} .. {row.get('last', '')}"
        )
    return EXIT_OK


def run_inspect(args: argparse.Namespace) -> int:
    """``cassette inspect``: a line per entry, or the entry ``--entry FILE:LINE`` whole."""
    entries = _entries(args.path)
    if args.entry is not None:
        name, _, line = args.entry.rpartition(":")
        found = [lo for lo in entries if lo.path.name == Path(name).name and str(lo.line) == line]
        if not found:
            raise UsageError(f"--entry {args.entry}: no such entry (give FILE:LINE as inspect lists them)")
        print_json(found[0].entry)
        return EXIT_OK
    rows = [summary(loaded) for loaded in entries]
    if args.format == "json":
        print_json(rows)
        return EXIT_OK
    for row in rows:
        kind = f"stream {row['chunks']} chunks" if row["stream"] else "whole"
        print(
            f"{row['file']}:{row['line']}  {row['provider']:<9} {row['method']} {row['path']}  {row['model']}  "
            f"{row['status']} {kind} {row['ms']} ms  {row['says']!r}"
        )
    return EXIT_OK


def run_prune(args: argparse.Namespace) -> int:
    """``cassette prune``: drop the entries the flags name."""
    if args.older_than is None and not args.errors and not args.duplicates:
        raise UsageError("prune: say what to drop: --older-than DAYS, --errors and/or --duplicates")
    try:
        kept, dropped = prune(
            args.path,
            older_than_days=args.older_than,
            errors=args.errors,
            duplicates=args.duplicates,
            dry_run=args.dry_run,
            now=time.time(),
        )
    except CassetteError as exc:
        raise UsageError(str(exc)) from None
    verb = "would drop" if args.dry_run else "dropped"
    print(f"{verb} {dropped} entries, kept {kept}")
    return EXIT_OK


def run_to_fixtures(args: argparse.Namespace) -> int:
    """``cassette to-fixtures``: a fixture document, checked by the fixture loader before it is written."""
    rules = [rule for loaded in _entries(args.path) if (rule := fixture_rule(loaded)) is not None]
    text = yaml.safe_dump({"rules": rules}, sort_keys=False, allow_unicode=True)
    parse_fixtures(text, "cassette to-fixtures output")  # what we write must load
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(rules)} fixture rules to {args.output}", file=sys.stderr)
    return EXIT_OK


def recorded_measurement(entries: list[Loaded], source: str) -> Measurement:
    """The latency measurement of the recorded streams: TTFT, token gaps, end to end, prompt sizes."""
    timings = [t for loaded in entries if (t := stream_timing(loaded.entry)) is not None]
    if not timings:
        raise UsageError(f"{source}: no successful recorded stream to fit (whole answers carry no token timing)")
    pairs = tuple((t.prompt_tokens, t.ttft_ms) for t in timings if t.prompt_tokens is not None)
    return Measurement(
        source=source,
        format="cassette",
        ttft=Metric.from_samples(t.ttft_ms for t in timings),
        itl=Metric.from_samples(gap for t in timings for gap in t.gaps_ms),
        e2e=Metric.from_samples(t.e2e_ms for t in timings),
        prompt_ttft=pairs,
        mean_prompt_tokens=mean_or_none(float(p) for p, _ in pairs),
        mean_output_tokens=mean_or_none(float(t.output_tokens) for t in timings),
    )


def run_to_profile(args: argparse.Namespace) -> int:
    """``cassette to-profile``: fit a sampled profile to the recorded streams, as ``profile fit`` does."""
    if not re.match(NAME_PATTERN, args.name):
        raise UsageError(f"--name {args.name!r}: use letters, digits, '.', '_' and '-'")
    measurement = recorded_measurement(_entries(args.path), str(args.path))
    try:
        result = fit_profile(measurement, FitOptions(None, True))
    except MeasurementError as exc:
        raise UsageError(str(exc)) from None
    write_fitted(args, result, measurement)
    return EXIT_OK
