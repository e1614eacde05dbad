"""``llm-simulator profile``: the latency lens — fit a profile to measured latency, or compare one with it.

``profile fit FILE…`` reads benchmark exports (llmperf, inference-perf, aiperf/genai-perf,
guidellm, this project's ``benchmark`` JSON/CSV, the seed's latency-profile document) and
writes a config document holding the fitted profile, ready for ``serve --config``.
``profile compare FILE --profile NAME`` reports per-quantile log-errors and the KS distance
between a profile (built-in, or from ``--config``) and the measurement. Exit codes: 0 done,
2 unreadable input or bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from llm_simulator.adapters.latency.compare import Comparison, compare
from llm_simulator.adapters.latency.engine_fit import EngineFitOptions, fit_engine
from llm_simulator.adapters.latency.fit import FitOptions, FitResult, fit_profile, merge
from llm_simulator.adapters.latency.formats import FORMATS, read_file
from llm_simulator.adapters.latency.measurement import Measurement, MeasurementError
from llm_simulator.cli.output import EXIT_OK, UsageError, add_format_flag, print_json
from llm_simulator.config.distributions import LatencyProfileSpec
from llm_simulator.config.loader import ConfigError, load_config
from llm_simulator.engine.latency.profiles import BUILTIN_PROFILES

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``profile fit`` and ``profile compare``."""
    profile = subparsers.add_parser(
        "profile",
        help="fit a latency profile to measurements, or compare one with them",
        description="The latency lens: turn measured latency (benchmark exports) into a sampled latency\n"
        "profile, or measure how far a profile is from a measurement. Formats:\n"
        + textwrap.fill(", ".join(FORMATS), 90)
        + ".",
    )
    sub = profile.add_subparsers(dest="action", required=True, metavar="ACTION")
    fit = sub.add_parser(
        "fit",
        help="fit a profile to measurement files and write it as a config document",
        description="Fit TTFT and ITL log-normals (quantile matching), a cold-start mixture when the data shows\n"
        "one, and the prefill cost per prompt token when prompt lengths vary. Several per-request files\n"
        "of one endpoint are pooled. The output is a config file: serve --config FILE uses it.",
        epilog="examples:\n"
        "  llm-simulator profile fit llmperf_individual_responses.json --name my-endpoint -o profile.yaml\n"
        "  llm-simulator profile fit profile_export_aiperf.json --model gpt-4o --output profile.yaml\n"
        "  llm-simulator serve --config profile.yaml",
    )
    fit.set_defaults(handler=run_fit)
    fit.add_argument("files", nargs="+", type=Path, metavar="FILE", help="measurement files")
    fit.add_argument("--name", default="measured", help="the profile's name (default measured)")
    fit.add_argument("--output", "-o", type=Path, help="write the config document here (default: stdout)")
    fit.add_argument(
        "--point",
        type=int,
        help="load point of a multi-point report, from 0 (default 0; with --engine every point is fitted)",
    )
    fit.add_argument(
        "--prefill-ms-per-token", type=float, metavar="MS", help="fix the prefill cost instead of fitting it"
    )
    fit.add_argument("--no-cold-start", dest="cold_start", action="store_false", help="never fit a cold-start mixture")
    fit.add_argument(
        "--model", action="append", default=[], metavar="ID", help="make model ID use the profile (repeatable)"
    )
    fit.add_argument("--default", action="store_true", help="make it latency.default_profile")
    fit.add_argument(
        "--engine",
        action="store_true",
        help="fit a load-aware engine deployment (step-time anchors of --preset) instead of a profile",
    )
    fit.add_argument("--preset", default="vllm-h100-7b-tp1", help="--engine: the preset to start from")
    fit.add_argument(
        "--concurrency",
        type=float,
        action="append",
        default=[],
        metavar="N",
        help="--engine: the load of files that do not state it (once for all points, or once per point in order)",
    )
    fit.add_argument(
        "--rate", type=float, action="append", default=[], metavar="R", help="like --concurrency, in req/s"
    )
    fit.add_argument("--max-evals", type=int, default=120, help="--engine: replays the search may run (default 120)")
    add_format_flag(fit, choices=("yaml", "json"), default="yaml", help_text="document format (default yaml)")
    cmp = sub.add_parser(
        "compare",
        help="compare a profile with a measurement: quantile log-errors and KS distance",
        description="Sample the profile as the simulator serves it (seeded) and compare it with the\n"
        "measurement: ln(sim/real) at each measured quantile, and the KS distance (two-sample with\n"
        "per-request data, at the published quantiles otherwise).",
        epilog="examples:\n"
        "  llm-simulator profile compare llmperf_individual_responses.json --profile hosted-fast\n"
        "  llm-simulator profile compare stage_0_lifecycle_metrics.json --profile measured -c profile.yaml",
    )
    cmp.set_defaults(handler=run_compare)
    cmp.add_argument("file", type=Path, metavar="FILE", help="measurement file")
    cmp.add_argument("--profile", required=True, help="profile name: built-in or from --config")
    cmp.add_argument("--config", "-c", type=Path, metavar="FILE", help="config file defining more profiles")
    cmp.add_argument("--point", type=int, default=0, help="load point of a multi-point report, from 0 (default 0)")
    cmp.add_argument("--prompt-tokens", type=float, help="prompt length for the prefill (default: the measured mean)")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the profile's samples (default 0)")
    cmp.add_argument("--plot", type=Path, metavar="FILE.png", help="draw the CDFs (needs matplotlib)")
    add_format_flag(cmp)


def _load(files: Sequence[Path], point: int) -> Measurement:
    """The measurement to fit or compare: one load point per file, pooled across files."""
    chosen: list[Measurement] = []
    for path in files:
        try:
            points = read_file(path)
        except MeasurementError as exc:
            raise UsageError(str(exc)) from None
        if not 0 <= point < len(points):
            raise UsageError(f"{path}: --point {point} is out of range (the file has {len(points)} load points)")
        if len(points) > 1:
            print(f"{path}: {len(points)} load points; using {point}: {points[point].describe()}", file=sys.stderr)
        chosen.append(points[point])
    try:
        return merge(chosen)
    except MeasurementError as exc:
        raise UsageError(str(exc)) from None


def run_fit(args: argparse.Namespace) -> int:
    """``profile fit``: write the fitted profile as a config document."""
    if not re.match(NAME_PATTERN, args.name):
        raise UsageError(f"--name {args.name!r}: use letters, digits, '.', '_' and '-'")
    if args.engine:
        return run_engine_fit(args)
    measurement = _load(args.files, args.point or 0)
    try:
        result = fit_profile(measurement, FitOptions(args.prefill_ms_per_token, args.cold_start))
    except MeasurementError as exc:
        raise UsageError(str(exc)) from None
    write_fitted(args, result, measurement)
    return EXIT_OK


def write_fitted(args: argparse.Namespace, result: FitResult, measurement: Measurement) -> None:
    """Write the fitted profile's document (``--output`` or stdout) and the fit's notes on stderr.

    ``args`` carries ``name``, ``model``, ``default``, ``format`` and ``output`` (``profile fit``,
    ``cassette to-profile``).
    """
    document = fitted_document(args.name, result, args.model, args.default)
    text = render_document(document, result, measurement, args.format)
    _emit(args, text, f"profile {args.name!r}", result.notes)


def _emit(args: argparse.Namespace, text: str, what: str, notes: Sequence[str]) -> None:
    """Write the document to ``--output`` (or stdout) and the fit's notes to stderr."""
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {what} to {args.output}", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def run_engine_fit(args: argparse.Namespace) -> int:
    """``profile fit --engine``: an ``engine.deployments.<name>`` document (adapters/latency/engine_fit.py)."""
    points: list[Measurement] = []
    for path in args.files:
        try:
            found = read_file(path)
        except MeasurementError as exc:
            raise UsageError(str(exc)) from None
        if args.point is not None and not 0 <= args.point < len(found):
            raise UsageError(f"{path}: --point {args.point} is out of range (the file has {len(found)} load points)")
        points.extend(found if args.point is None else [found[args.point]])
    for flag, given in (("--concurrency", args.concurrency), ("--rate", args.rate)):
        if len(given) > 1 and len(given) != len(points):
            raise UsageError(f"{flag}: give one value, or one per load point ({len(points)})")
    if args.max_evals < 5:
        raise UsageError("--max-evals: at least 5")
    options = EngineFitOptions(
        preset=args.preset, concurrency=tuple(args.concurrency), rate=tuple(args.rate), max_evals=args.max_evals
    )
    try:
        result = fit_engine(points, options)
    except MeasurementError as exc:
        raise UsageError(str(exc)) from None
    deployment: dict[str, Any] = {
        "preset": args.preset,
        "description": f"fitted by profile fit --engine from {len(points)} load point(s)",
        "step": result.step,
    }
    if args.model:
        deployment["models"] = list(args.model)
    engine: dict[str, Any] = {"deployments": {args.name: deployment}}
    if args.default:
        engine["default_deployment"] = args.name
    document = {"engine": engine}
    if args.format == "json":
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        header = [f"# Fitted by llm-simulator profile fit --engine from {p.describe()}" for p in points]
        header.extend(f"# {note}" for note in result.notes)
        text = "\n".join(header) + "\n" + yaml.safe_dump(document, sort_keys=False)
    _emit(args, text, f"deployment {args.name!r}", result.notes)
    return EXIT_OK


def fitted_document(name: str, result: FitResult, models: Sequence[str], default: bool) -> dict[str, Any]:
    """The config document: ``latency.profiles.<name>``, and who uses it."""
    latency: dict[str, Any] = {"profiles": {name: result.spec.model_dump(mode="json", exclude_none=True)}}
    if default:
        latency["default_profile"] = name
    document: dict[str, Any] = {"latency": latency}
    if models:
        document["models"] = {"add": [{"id": model, "latency_profile": name} for model in models]}
    return document


def render_document(document: dict[str, Any], result: FitResult, m: Measurement, fmt: str) -> str:
    """YAML with a comment header (what it was fitted from, and the fit's notes), or JSON."""
    if fmt == "json":
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    header = [f"# Fitted by llm-simulator profile fit from {m.describe()}"]
    header.extend(f"# {note}" for note in result.notes)
    return "\n".join(header) + "\n" + yaml.safe_dump(document, sort_keys=False)


def _profile(name: str, config_path: Path | None) -> LatencyProfileSpec:
    profiles = dict(BUILTIN_PROFILES)
    if config_path is not None:
        try:
            profiles.update(load_config(config_path, {}, {}).latency.profiles)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    if name not in profiles:
        raise UsageError(f"--profile: unknown profile {name!r} (known: {', '.join(sorted(profiles))})")
    return profiles[name]


def run_compare(args: argparse.Namespace) -> int:
    """``profile compare``: the report, and the plot when asked."""
    spec = _profile(args.profile, args.config)
    measurement = _load([args.file], args.point)
    result = compare(args.profile, spec, measurement, seed=args.seed, prompt_tokens=args.prompt_tokens)
    if args.plot is not None:
        write_plot(result, measurement, args.plot)
    if args.format == "json":
        print_json(result.as_dict())
    else:
        sys.stdout.write(result.to_text())
    return EXIT_OK


def write_plot(result: Comparison, m: Measurement, path: Path) -> None:
    """The measured and simulated CDFs of each metric, side by side, as a PNG (matplotlib)."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"--plot {path}: only .png is supported")
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    pyplot = importlib.import_module("matplotlib.pyplot")
    metrics = result.metrics
    figure, axes = pyplot.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    measured = {"ttft": m.ttft, "itl": m.itl, "e2e": m.e2e}
    for axis, metric in zip(axes[0], metrics, strict=True):
        sim = metric.simulated
        axis.plot(sim, [(i + 1) / len(sim) for i in range(len(sim))], label=f"profile {result.profile}")
        real = measured[metric.name]
        if real is not None and real.samples:
            n = len(real.samples)
            axis.step(real.samples, [(i + 1) / n for i in range(n)], where="post", label="measured")
        elif real is not None:
            qs = sorted(real.quantiles.items())
            axis.plot([x for _, x in qs], [q for q, _ in qs], "o", label="measured quantiles")
        axis.set_xscale("log")
        axis.set_title(f"{metric.name.upper()} (KS {metric.ks:.3f})")
        axis.set_xlabel("ms")
        axis.set_ylabel("CDF")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
