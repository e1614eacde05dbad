"""A streaming-aware load generator for OpenAI-, Anthropic-, Gemini-, Ollama- and Bedrock-compatible servers.

It measures TTFT, ITL and E2E per request under closed-loop (fixed concurrency) or
open-loop (Poisson arrivals) load, reports its own client overhead, and implements the
canonical benchmark interface (``run_all_benchmarks``). It imports nothing from the
simulator's server, engine or providers, so it works against real vendors as well.
"""

from llm_simulator.infra.percentile import percentile
from llm_simulator.loadgen.client import RequestResult, RequestSpec
from llm_simulator.loadgen.report import build_summary, render
from llm_simulator.loadgen.runner import LoadConfig, UnreachableError, poisson_arrivals, run_load, run_load_sync
from llm_simulator.loadgen.stats import RunOutcome, summarize
from llm_simulator.loadgen.suite import (
    BenchmarkResult,
    Target,
    arun_all_benchmarks,
    default_targets,
    run_all_benchmarks,
)
from llm_simulator.wire.defaults import LOAD_PROVIDERS as PROVIDERS
from llm_simulator.wire.defaults import LoadProvider as Provider

__all__ = [
    "PROVIDERS",
    "BenchmarkResult",
    "LoadConfig",
    "Provider",
    "RequestResult",
    "RequestSpec",
    "RunOutcome",
    "Target",
    "UnreachableError",
    "arun_all_benchmarks",
    "build_summary",
    "default_targets",
    "percentile",
    "poisson_arrivals",
    "render",
    "run_all_benchmarks",
    "run_load",
    "run_load_sync",
    "summarize",
]
