"""The deploy/ files (Grafana dashboard, Prometheus rules) against what the server really exports.

Every metric name a PromQL expression in ``deploy/`` names must be declared in
``METRIC_NAMES`` *and* carry samples in a real ``/metrics`` scrape of the in-process app
after traffic that touches every counter (a stream, errors, chaos, a rate-limit refusal, an
auth failure): a dashboard panel or alert on a name the server never emits stays silent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp
from llm_simulator.telemetry.histogram import DURATION_EDGES, ITL_EDGES, PRECISION_EDGES, TTFT_EDGES
from llm_simulator.telemetry.hub import SYSTEM_ENDPOINTS, Telemetry
from llm_simulator.telemetry.prometheus import CONTENT_TYPE, METRIC_NAMES
from llm_simulator.telemetry.stats import Stats
from tests.server.asgi_driver import call

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "llm-simulator-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"

# ../shared/reference/reference-values.md, "Metric names" (cache hits/misses come with the cache).
REFERENCE_NAMES = (
    "llm_simulator_requests_total",
    "llm_simulator_request_duration_seconds",
    "llm_simulator_ttft_seconds",
    "llm_simulator_itl_seconds",
    "llm_simulator_active_requests",
    "llm_simulator_tokens_input_total",
    "llm_simulator_tokens_output_total",
    "llm_simulator_errors_total",
    "llm_simulator_stream_chunks_total",
    "llm_simulator_queue_depth",
    "llm_simulator_queue_capacity",
    "llm_simulator_cost_dollars_total",
    "llm_simulator_auth_failures_total",
    "llm_simulator_rate_limit_hits_total",
    "llm_simulator_chaos_injections_total",
)
# The labels the reference gives (the server may add more, e.g. provider on errors_total).
REFERENCE_LABELS = {
    "llm_simulator_requests_total": {"provider", "model", "endpoint", "status"},
    "llm_simulator_errors_total": {"error_type"},
    "llm_simulator_auth_failures_total": {"reason"},
    "llm_simulator_rate_limit_hits_total": {"tier"},
    "llm_simulator_chaos_injections_total": {"type"},
}
# What the dashboard must show (exposed sample names), one or more panels each.
DASHBOARD_MUST_SHOW = (
    "llm_simulator_requests_total",
    "llm_simulator_errors_total",
    "llm_simulator_ttft_seconds_bucket",
    "llm_simulator_itl_seconds_bucket",
    "llm_simulator_e2e_request_latency_seconds_bucket",
    "llm_simulator_tokens_input_total",
    "llm_simulator_tokens_output_total",
    "llm_simulator_cost_dollars_total",
    "llm_simulator_active_requests",
    "llm_simulator_active_streams",
    "llm_simulator_queue_depth",
    "llm_simulator_chaos_injections_total",
    "llm_simulator_rate_limit_hits_total",
    "llm_simulator_auth_failures_total",
    "llm_simulator_emit_error_seconds_bucket",
    "llm_simulator_event_loop_lag_seconds_bucket",
    "llm_simulator_events_dropped_total",
)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Series every Prometheus has without the simulator exporting them.
BUILTIN_SERIES = {"up"}

# -- scraping the in-process app -----------------------------------------------------------------

KEY = "sk-deploy-metrics-key"
LIMITED_KEY = "sk-deploy-limited-key"
CONFIG: dict[str, Any] = {
    "latency": {"enabled": False},
    "auth": {"require_auth": True, "api_keys": [KEY, LIMITED_KEY]},
    "rate_limits": {
        "enabled": True,
        "tiers": [{"name": "tiny", "api_keys": [LIMITED_KEY], "requests_per_minute": 1}],
    },
}
OPENAI = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
ANTHROPIC = {"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 8}}


class CountingSink:
    """An event sink that delivers nothing, so the events_sent/dropped counters have a sink label."""

    name = "test"

    def __init__(self) -> None:
        self.sent = 0
        self.dropped = 0

    def wants(self, event: str) -> bool:
        return True

    def emit(self, event: dict[str, Any]) -> None:
        self.sent += 1

    def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class Scrape:
    """One parsed ``/metrics`` body: families by exposed name, and every sample name present."""

    def __init__(self, text: str, content_type: str) -> None:
        self.text = text
        self.content_type = content_type
        # The parser drops a counter's _total from the family name; key families as exposed.
        self.families = {_exposed(f.name, f.type): f for f in text_string_to_metric_families(text)}
        self.sample_names = {s.name for f in self.families.values() for s in f.samples}

    def family_of(self, series: str) -> str | None:
        """The exposed family a series name belongs to (``x_bucket`` → ``x`` for histograms)."""
        if series in self.families:
            return series
        for suffix in HISTOGRAM_SUFFIXES:
            base = series.removesuffix(suffix)
            if base != series and base in self.families and self.families[base].type == "histogram":
                return base
        return None


def _exposed(name: str, kind: str) -> str:
    return f"{name}_total" if kind == "counter" else name


async def _drive() -> Scrape:
    config = SimulatorConfig.model_validate(CONFIG)
    telemetry = Telemetry(config, Stats(), sinks=[CountingSink()])
    app = SimulatorApp(config, telemetry=telemetry)
    key = {"authorization": f"Bearer {KEY}"}
    anthropic = {**key, "anthropic-version": "2023-06-01"}
    chat = "/v1/chat/completions"
    try:
        expected = [
            (200, await call(app, "POST", chat, orjson.dumps(OPENAI), headers=key)),
            (200, await call(app, "POST", chat, orjson.dumps({**OPENAI, "stream": True}), headers=key)),
            (
                200,
                await call(app, "POST", "/v1/messages", orjson.dumps({**ANTHROPIC, "stream": True}), headers=anthropic),
            ),
            (
                200,
                await call(
                    app,
                    "POST",
                    "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                    orjson.dumps(GEMINI),
                    headers=key,
                    query="alt=sse",
                ),
            ),
            # An invalid request, a chaos-injected 429, a missing key, and a rate-limit tier refusal.
            (400, await call(app, "POST", chat, orjson.dumps({"model": "gpt-4.1"}), headers=key)),
            (
                429,
                await call(
                    app, "POST", chat, orjson.dumps(OPENAI), headers={**key, "x-simulator-chaos": "error=rate_limit"}
                ),
            ),
            (401, await call(app, "POST", chat, orjson.dumps(OPENAI))),
            (
                200,
                await call(app, "POST", chat, orjson.dumps(OPENAI), headers={"authorization": f"Bearer {LIMITED_KEY}"}),
            ),
            (
                429,
                await call(app, "POST", chat, orjson.dumps(OPENAI), headers={"authorization": f"Bearer {LIMITED_KEY}"}),
            ),
        ]
        assert [got.status for _, got in expected] == [status for status, _ in expected]
        scraped = await call(app, "GET", "/metrics")
        assert scraped.status == 200
        return Scrape(scraped.body.decode(), scraped.headers["content-type"])
    finally:
        await app.telemetry.close()


@pytest.fixture(scope="module")
def scrape() -> Scrape:
    """A scrape of an app that served streams, errors, chaos, a rate-limit refusal and an auth failure."""
    return asyncio.run(_drive())


# -- PromQL: which metric names an expression reads ----------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_NUMBER = re.compile(r"(?<![\w:.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?(?![\w:])")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
# Binary operators and modifiers spelt as words, and the special float values.
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS |= {"inf", "nan"}
_RATE_ARGUMENT = re.compile(r"\b(?:rate|irate|increase)\(\s*([A-Za-z_:][A-Za-z0-9_:]*)")


def metric_names(expr: str) -> set[str]:
    """The metric (or recording-rule) names a PromQL expression selects.

    Label values and names (inside ``{...}``, ``by (...)``, ``without (...)``, ``on (...)``),
    ranges, numbers, Grafana variables, functions and aggregations (a name before ``(``) and
    keywords are left out.
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _VARIABLE.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group()
        if name.lower() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(name)
    return names


def _label_values_selector(query: str) -> str:
    """The series selector of a Grafana ``label_values(selector, label)`` variable query."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", query, re.DOTALL)
    assert match is not None, f"not a label_values(selector, label) query: {query!r}"
    return match.group(1)


def _load_rules() -> dict[str, Any]:
    loaded = yaml.safe_load(RULES.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _load_dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _rules() -> Iterator[dict[str, Any]]:
    for group in _load_rules()["groups"]:
        yield from group["rules"]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' nested (collapsed) panels included."""
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _variable_query(variable: dict[str, Any]) -> str:
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


def _expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every expression in the rules and the dashboard."""
    out = [(rule.get("record") or f"alert {rule['alert']}", str(rule["expr"])) for rule in _rules()]
    dashboard = _load_dashboard()
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            out.append((f"panel {panel['id']} {panel['title']!r} {target['refId']}", str(target["expr"])))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            out.append((f"variable {variable['name']}", _label_values_selector(_variable_query(variable))))
    return out


def _recorded() -> set[str]:
    return {str(rule["record"]) for rule in _rules() if "record" in rule}


def _referenced() -> dict[str, list[str]]:
    """Every name the deploy files read (recording rules and built-in series left out) → where."""
    recorded = _recorded()
    out: dict[str, list[str]] = {}
    for where, expr in _expressions():
        for name in metric_names(expr) - recorded - BUILTIN_SERIES:
            out.setdefault(name, []).append(where)
    return out


def _labels_without_le(sample: Sample) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))


# -- the extractor itself --------------------------------------------------------------------------


def test_the_extractor_finds_metric_names_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, provider) (rate(llm_simulator_ttft_seconds_bucket{provider=~"$provider",'
        ' model!="x{y}"}[$__rate_interval]))) / ignoring (status) group_left (tier) vllm:num_requests_running offset 5m'
        " > 1e-3 and on (job, instance) llm_simulator:error_ratio:5m"
        " unless sum without (sink) (process_open_fds) * 3600"
    )
    assert metric_names(expr) == {
        "llm_simulator_ttft_seconds_bucket",
        "vllm:num_requests_running",
        "llm_simulator:error_ratio:5m",
        "process_open_fds",
    }
    assert metric_names('up{job="llm-simulator"} == 0') == {"up"}
    assert _label_values_selector('label_values(llm_simulator_requests_total{provider=~"$provider"}, model)') == (
        'llm_simulator_requests_total{provider=~"$provider"}'
    )


def test_the_deploy_files_reference_metrics_at_all() -> None:
    # Guard against an extractor (or a file) that silently finds nothing.
    referenced = _referenced()
    assert len(referenced) >= 15
    assert set(DASHBOARD_MUST_SHOW) <= {
        name for where, expr in _expressions() if where.startswith("panel") for name in metric_names(expr)
    }


# -- the scrape ------------------------------------------------------------------------------------


def test_the_scrape_parses_and_every_declared_family_has_samples(scrape: Scrape) -> None:
    assert scrape.content_type == CONTENT_TYPE
    assert len(METRIC_NAMES) == len(set(METRIC_NAMES))
    missing = [name for name in METRIC_NAMES if name not in scrape.families]
    assert not missing, f"declared in METRIC_NAMES but not exported: {missing}"
    empty = [name for name in METRIC_NAMES if not scrape.families[name].samples]
    assert not empty, f"exported without a single sample after traffic touching every counter: {empty}"
    # And the other way round: nothing exported that METRIC_NAMES does not declare (process_* aside).
    undeclared = [n for n in scrape.families if n not in METRIC_NAMES and not n.startswith("process_")]
    assert not undeclared, f"exported but missing from METRIC_NAMES: {undeclared}"
    for name, family in scrape.families.items():
        for sample in family.samples:
            assert math.isfinite(sample.value), (name, sample)
            if family.type in ("counter", "histogram"):
                assert sample.value >= 0, (name, sample)


def test_histogram_buckets_are_cumulative_and_end_at_the_count(scrape: Scrape) -> None:
    histograms = [f for f in scrape.families.values() if f.type == "histogram"]
    assert len(histograms) >= 8
    for family in histograms:
        buckets: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        totals: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
        for sample in family.samples:
            key = _labels_without_le(sample)
            if sample.name.endswith("_bucket"):
                buckets.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
            else:
                totals.setdefault(key, {})[sample.name.removeprefix(family.name)] = sample.value
        assert buckets, family.name
        for key, series in buckets.items():
            edges = [edge for edge, _ in series]
            counts = [count for _, count in series]
            assert edges == sorted(edges) and len(set(edges)) == len(edges), (family.name, key, edges)
            assert edges[-1] == math.inf, (family.name, key)
            assert all(a <= b for a, b in itertools.pairwise(counts)), (family.name, key, counts)
            assert totals[key]["_count"] == counts[-1], (family.name, key)
            assert totals[key]["_sum"] >= 0, (family.name, key)


@pytest.mark.parametrize(
    ("family", "edges"),
    [
        ("llm_simulator_ttft_seconds", TTFT_EDGES),
        ("vllm:time_to_first_token_seconds", TTFT_EDGES),
        ("llm_simulator_itl_seconds", ITL_EDGES),
        ("vllm:inter_token_latency_seconds", ITL_EDGES),
        ("llm_simulator_request_duration_seconds", DURATION_EDGES),
        ("llm_simulator_e2e_request_latency_seconds", DURATION_EDGES),
        ("llm_simulator_event_loop_lag_seconds", PRECISION_EDGES),
    ],
)
def test_histogram_edges_are_the_documented_ones(scrape: Scrape, family: str, edges: tuple[float, ...]) -> None:
    exposed = {float(s.labels["le"]) for s in scrape.families[family].samples if s.name.endswith("_bucket")}
    assert exposed == {*edges, math.inf}


def test_the_reference_names_and_labels_are_exported(scrape: Scrape) -> None:
    for name in REFERENCE_NAMES:
        assert name in METRIC_NAMES, name
        assert name in scrape.families and scrape.families[name].samples, name
    for name, labels in REFERENCE_LABELS.items():
        for sample in scrape.families[name].samples:
            assert labels <= set(sample.labels), (name, sample.labels)


# -- every name in deploy/ is exported -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_referenced()))
def test_each_metric_in_the_deploy_files_is_exported(scrape: Scrape, name: str) -> None:
    where = _referenced()[name]
    if name.startswith("process_"):
        # prometheus_client's ProcessCollector: exported with every scrape, not in METRIC_NAMES.
        assert name in scrape.sample_names, f"{name} (used by {where}) is not in the scrape"
        return
    family = scrape.family_of(name)
    assert family is not None, f"{name} (used by {where}) is not a family the server exports"
    assert family in METRIC_NAMES, f"{name} (used by {where}) is exported but not declared in METRIC_NAMES"
    assert name in scrape.sample_names, (
        f"{name} (used by {where}) has no samples: a histogram needs _bucket/_sum/_count"
    )


def test_rates_are_taken_of_counters_and_histograms_only(scrape: Scrape) -> None:
    for where, expr in _expressions():
        for name in _RATE_ARGUMENT.findall(expr):
            family = scrape.family_of(name)
            assert family is not None, (where, name)
            assert scrape.families[family].type in ("counter", "histogram"), f"{where}: rate() of a gauge {name}"


def test_quantiles_read_buckets_grouped_by_le() -> None:
    for where, expr in _expressions():
        if "histogram_quantile(" not in expr:
            continue
        assert "_bucket" in expr, where
        groupings = re.findall(r"\bby\s*\(([^()]*)\)", expr)
        assert groupings and all("le" in {g.strip() for g in grouping.split(",")} for grouping in groupings), where


def test_recording_rules_used_are_defined_and_follow_the_naming_convention() -> None:
    recorded = _recorded()
    assert len(recorded) >= 5
    for name in recorded:
        assert re.fullmatch(r"llm_simulator:[a-z0-9_]+:[a-z0-9_]+", name), name
    used = {name for _, expr in _expressions() for name in metric_names(expr) if name.startswith("llm_simulator:")}
    assert used <= recorded, used - recorded


def test_error_ratio_leaves_out_exactly_the_system_endpoints() -> None:
    excluded = [
        set(match.split("|")) for _, expr in _expressions() for match in re.findall(r'endpoint!~"([^"]*)"', expr)
    ]
    assert excluded
    for alternatives in excluded:
        # SYSTEM_ENDPOINTS, and the dashboard's static files (their own endpoint).
        assert alternatives >= SYSTEM_ENDPOINTS, SYSTEM_ENDPOINTS - alternatives
        assert alternatives - SYSTEM_ENDPOINTS <= {"dashboard"}, alternatives


# -- file structure --------------------------------------------------------------------------------


def test_rules_file_is_a_prometheus_rule_file() -> None:
    loaded = _load_rules()
    assert set(loaded) == {"groups"}
    groups = loaded["groups"]
    assert isinstance(groups, list) and groups
    names = [group["name"] for group in groups]
    assert len(names) == len(set(names))
    kinds = set()
    for group in groups:
        assert set(group) <= {"name", "interval", "rules", "limit"}, group["name"]
        assert isinstance(group["rules"], list) and group["rules"], group["name"]
        for rule in group["rules"]:
            kind = {"record", "alert"} & set(rule)
            assert len(kind) == 1, rule
            kinds |= kind
            assert isinstance(rule["expr"], str) and rule["expr"].strip(), rule
            if "record" in rule:
                assert set(rule) <= {"record", "expr", "labels"}, rule
            else:
                assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
                assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", rule["alert"]), rule["alert"]
                assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule
                assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule
                if "for" in rule:
                    assert re.fullmatch(r"\d+[smhd]", rule["for"]), rule
    assert kinds == {"record", "alert"}
    alerts = {rule["alert"]: str(rule["expr"]) for rule in _rules() if "alert" in rule}
    # The alerts the runbook (docs/observability.md) describes.
    assert "up{" in alerts["LLMSimulatorDown"] and "== 0" in alerts["LLMSimulatorDown"]
    assert "emit_error" in alerts["LLMSimulatorEmitErrorHigh"] and "0.010" in alerts["LLMSimulatorEmitErrorHigh"]
    assert "event_loop_lag" in alerts["LLMSimulatorEventLoopLag"]
    assert "events_dropped" in alerts["LLMSimulatorEventsDropped"]
    assert "error_ratio" in alerts["LLMSimulatorHighErrorRatio"]
    assert "ttft" in alerts["LLMSimulatorHighTTFT"]
    assert "worker_restarts" in alerts["LLMSimulatorWorkerRestarted"]


def test_prometheus_config_scrapes_the_simulator_and_loads_the_rules() -> None:
    loaded = yaml.safe_load(PROMETHEUS.read_text())
    assert [(PROMETHEUS.parent / f).resolve() for f in loaded["rule_files"]] == [RULES.resolve()]
    (job,) = loaded["scrape_configs"]
    assert job["job_name"] == "llm-simulator"
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["localhost:8080"]
    # The "down" alert watches this job.
    assert any(f'job="{job["job_name"]}"' in str(rule["expr"]) for rule in _rules() if "alert" in rule)


def test_dashboard_is_a_grafana_dashboard_on_a_templated_prometheus_source() -> None:
    dashboard = _load_dashboard()
    assert dashboard["schemaVersion"] >= 38
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    source = variables["DS_PROMETHEUS"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    for name in ("provider", "model"):
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert _variable_query(variable).startswith("label_values(")
        assert _variable_query(variable).rstrip().endswith(f", {name})")
    panels = list(_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    graphs = [panel for panel in panels if panel["type"] != "row"]
    assert len(graphs) >= 15
    for panel in graphs:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        targets = panel["targets"]
        assert targets, f"panel {panel['title']!r} has no query"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    # The bottleneck row (the simulator checking itself) is there.
    rows = [panel["title"] for panel in panels if panel["type"] == "row"]
    assert any("bottleneck" in title for title in rows)
