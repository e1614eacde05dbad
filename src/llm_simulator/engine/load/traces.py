"""Load points of the project's real trace set (``../shared/traces``), with their split.

The traces are never copied into the repository: calibration (``bench/calibrate.py``) and
the fidelity report (``llm-simulator fidelity``) read them from the directory given. Each
point says which split of the traces' README it belongs to, so the fit can refuse held-out
data by construction:

- ``calibration``: inference-sim-training stage_0 of every experiment, stage_1 of
  Llama-2-7B and CodeLlama-34B; the NIM sweep's concurrency-1 row (the H2 anchor);
- ``H1``: inference-sim-training stage_1 of Llama-2-70B and Mixtral-8x7B;
- ``H2``: the NIM Llama-3.3-70B sweep beyond concurrency 1.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

CALIBRATION, H1, H2 = "calibration", "H1", "H2"

_INFERENCE_SIM = "inference-sim-training"
_NIM_FILE = "nvidia-nim-concurrency-sweeps/llama33_70b_2xh100_fp8_5000in_500out.csv"
# inference-sim model ids → physics.MODELS keys and the deployment preset fitted on them.
_MODELS = {
    "meta-llama/Llama-2-7b-hf": ("llama-2-7b", "vllm-h100-7b-tp1"),
    "meta-llama/Llama-2-70b-hf": ("llama-2-70b", "vllm-h100-70b-tp4"),
    "codellama/CodeLlama-34b-Instruct-hf": ("codellama-34b", "vllm-h100-codellama-34b-tp2"),
    "mistralai/Mixtral-8x7B-v0.1": ("mixtral-8x7b", "vllm-h100-mixtral-8x7b-tp2"),
}
_HELD_OUT_STAGE_1 = ("llama-2-70b", "mixtral-8x7b")
_QUANTILE_KEYS = (
    ("p0.1", 0.001),
    ("p1", 0.01),
    ("p5", 0.05),
    ("p10", 0.10),
    ("p25", 0.25),
    ("median", 0.5),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p99.9", 0.999),
)


@dataclass(frozen=True, slots=True)
class LengthDist:
    """A token-length distribution given by quantile points: (probability, tokens), increasing."""

    points: tuple[tuple[float, float], ...]

    @classmethod
    def fixed(cls, tokens: int) -> LengthDist:
        """Every request has ``tokens`` tokens."""
        return cls(((0.0, float(tokens)), (1.0, float(tokens))))

    def sample(self, rng: random.Random) -> int:
        """One length by inverse-CDF interpolation between the quantile points (at least 1)."""
        u = rng.random()
        pts = self.points
        for (p0, v0), (p1, v1) in itertools.pairwise(pts):
            if u <= p1:
                frac = (u - p0) / (p1 - p0) if p1 > p0 else 0.0
                return max(1, round(v0 + frac * (v1 - v0)))
        return max(1, round(pts[-1][1]))

    @property
    def mean(self) -> float:
        """The mean of the piecewise-linear distribution."""
        pts = self.points
        return sum((p1 - p0) * (v0 + v1) / 2 for (p0, v0), (p1, v1) in itertools.pairwise(pts))


@dataclass(frozen=True, slots=True)
class TracePoint:
    """One measured load point: the workload that produced it and what was measured (ms, tok/s).

    ``real`` keys: ``ttft_p50/p90/p99``, ``e2e_p50/p90/p99``, ``ttft_mean``, ``tpot_mean``
    (decode ms per token, (E2E − TTFT)/(output − 1) from the means) and ``throughput`` (output
    tokens/s), whichever the source has.
    """

    key: str
    group: str  # points of one curve (an experiment, a sweep) share a group
    model: str  # physics.MODELS key
    preset: str  # the preset fitted on (or tested against) this point
    split: str
    kind: str  # "rate" (open loop, req/s) or "concurrency" (closed loop)
    load: float
    duration_s: float
    prompt: LengthDist
    output: LengthDist
    real: dict[str, float]
    shared_prefix_tokens: int = 0
    prefix_groups: int = 1
    # Distinct prompts per prefix group, each re-sent verbatim for the whole run (0: every
    # request has a fresh question). inference-perf's shared_prefix generator builds
    # groups × users prompts once and cycles through them, so after its first use a prompt
    # is a full prefix-cache hit on a server with prefix caching (vLLM's default).
    prompts_per_group: int = 0
    overloaded: bool = False
    # The server had served before this point (a later stage of the same run): past warm-up.
    warm: bool = False
    source: str = ""
    notes: dict[str, str] = field(default_factory=dict)


def default_traces_dir(repo: Path) -> Path:
    """Where the trace set lives relative to a checkout: ``<repo>/../shared/traces``."""
    return repo.resolve().parent / "shared" / "traces"


def _dist(block: dict[str, float | None] | None, fallback: float) -> LengthDist:
    if not block or block.get("median") is None:
        return LengthDist.fixed(round(fallback))
    pts = [(0.0, float(block.get("min") or 0.0))]
    pts += [(p, float(v)) for key, p in _QUANTILE_KEYS if (v := block.get(key)) is not None]
    pts.append((1.0, float(block.get("max") or pts[-1][1])))
    monotone: list[tuple[float, float]] = []
    for p, v in pts:
        monotone.append((p, max(v, monotone[-1][1]) if monotone else v))
    return LengthDist(tuple(monotone))


def _f(row: dict[str, str], key: str) -> float:
    return float(row[key])


def inference_sim_points(traces: Path) -> list[TracePoint]:
    """Every (experiment, stage) row of inference-sim-training, labelled with its split."""
    root = traces / _INFERENCE_SIM
    points: list[TracePoint] = []
    with (root / "stages_tidy.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["stage"] != "summary"]
    for row in rows:
        model, preset = _MODELS[row["model"]]
        stage = row["stage"]
        split = H1 if stage == "stage_1" and model in _HELD_OUT_STAGE_1 else CALIBRATION
        metrics_file = root / row["experiment"] / "results" / f"{stage}_lifecycle_metrics.json"
        successes = json.loads(metrics_file.read_text(encoding="utf-8")).get("successes", {})
        profile = json.loads((root / row["experiment"] / "profile.yaml").read_text(encoding="utf-8"))
        shared = profile["data"]["shared_prefix"]
        real = {
            "ttft_p50": _f(row, "ttft_median_ms"),
            "ttft_p90": _f(row, "ttft_p90_ms"),
            "ttft_p99": _f(row, "ttft_p99_ms"),
            "ttft_mean": _f(row, "ttft_mean_ms"),
            "e2e_p50": _f(row, "e2e_median_ms"),
            "e2e_p90": _f(row, "e2e_p90_ms"),
            "e2e_p99": _f(row, "e2e_p99_ms"),
            "tpot_mean": _f(row, "decode_ms_per_token_derived"),
            "throughput": _f(row, "output_tokens_per_s"),
        }
        output = _dist(successes.get("output_len"), _f(row, "output_len_mean"))
        notes = {"n_fail": row["n_fail"], "n_success": row["n_success"]}
        target, median = _f(row, "output_len_target"), _f(row, "output_len_median")
        if _f(row, "output_len_mean") < 0.95 * target and _f(row, "e2e_p1_ms") > 0.5 * _f(row, "e2e_median_ms"):
            # ignore_eos: every request decoded to the target, yet the recorded output_len has a
            # long low tail (Llama-2-7B). Its E2E p1 shows that no request was short, so the
            # counts are under-measured: use the median as everyone's length, and the derived
            # decode speed with it ((E2E − TTFT) means over output − 1, the column's formula).
            output = LengthDist.fixed(round(median))
            real["tpot_mean"] = (_f(row, "e2e_mean_ms") - _f(row, "ttft_mean_ms")) / (median - 1)
            notes["output_len"] = f"recorded mean {_f(row, 'output_len_mean'):.0f} < target {target:.0f}; median used"
        workload = row["workload"]
        points.append(
            TracePoint(
                key=f"{model}/{workload}/{stage}",
                group=f"{model}/{workload}",
                model=model,
                preset=preset,
                split=split,
                kind="rate",
                load=_f(row, "requested_rate"),
                duration_s=_f(row, "stage_duration_s"),
                prompt=_dist(successes.get("prompt_len"), _f(row, "prompt_len_mean")),
                output=output,
                real=real,
                shared_prefix_tokens=int(shared["system_prompt_len"]),
                prefix_groups=int(shared["num_unique_system_prompts"]),
                prompts_per_group=int(shared.get("num_users_per_system_prompt", 0)),
                overloaded=row["overloaded"] == "yes",
                warm=stage != "stage_0",
                source=f"{_INFERENCE_SIM}/stages_tidy.csv {row['experiment']} {stage}",
                notes=notes,
            )
        )
    return points


def nim_points(traces: Path) -> list[TracePoint]:
    """The NIM Llama-3.3-70B 2×H100 fp8 sweep (5000 in / 500 out); c=1 is calibration, the rest H2."""
    points: list[TracePoint] = []
    with (traces / _NIM_FILE).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            c = int(row["concurrency"])
            points.append(
                TracePoint(
                    key=f"nim-llama-3.3-70b/c{c}",
                    group="nim-llama-3.3-70b",
                    model="llama-3.3-70b",
                    preset="nim-llama33-70b-2xh100-fp8",
                    split=CALIBRATION if c == 1 else H2,
                    kind="concurrency",
                    load=float(c),
                    duration_s=0.0,
                    prompt=LengthDist.fixed(int(row["input_tokens"])),
                    output=LengthDist.fixed(int(row["output_tokens"])),
                    real={
                        "ttft_mean": _f(row, "ttft_ms"),
                        "tpot_mean": _f(row, "itl_ms"),
                        "throughput": _f(row, "output_throughput_tokens_per_s"),
                    },
                    source=f"{_NIM_FILE} concurrency={c}",
                )
            )
    return points


def splitwise_prefill_slope(
    traces: Path, model: str = "llama2-70b", hardware: str = "h100-80gb", tp: int = 4
) -> tuple[float, float]:
    """(prefill ms per prompt token between 128 and 2048 tokens, decode step ms at batch 1) from Splitwise."""
    by_prompt: dict[int, list[float]] = {}
    decode: list[float] = []
    with (traces / "splitwise-perf-model" / "perf_model.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["model"] != model or row["hardware"] != hardware or int(row["tensor_parallel"]) != tp:
                continue
            if int(row["batch_size"]) != 1:
                continue
            by_prompt.setdefault(int(row["prompt_size"]), []).append(float(row["prompt_time"]))
            decode.append(float(row["token_time"]))
    if 128 not in by_prompt or 2048 not in by_prompt:
        raise ValueError(f"no Splitwise batch-1 rows for {model} on {tp}× {hardware}")

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    slope = (mean(by_prompt[2048]) - mean(by_prompt[128])) / (2048 - 128)
    return slope, sorted(decode)[len(decode) // 2]
