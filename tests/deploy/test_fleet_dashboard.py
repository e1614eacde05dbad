"""The Grafana dashboard as a fleet view: several replicas, each one Prometheus target.

Every replica answers a scrape for all of its workers (their counts are merged), so summing
across ``instance`` counts each request once. The dashboard must filter every query by the
chosen replicas, aggregate single-value panels over all of them, group only by labels the
series really carry, and show the replicas one by one in its Fleet row.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.deploy.known import metric_types
from tests.deploy.test_deploy_metrics import (
    Scrape,
    _drive,
    _label_values_selector,
    _load_dashboard,
    _panels,
    _variable_query,
    metric_names,
)

# Labels Prometheus attaches to every series of a target (the compose file and the chart's
# ServiceMonitor set them: job="llm-simulator", instance=<replica>).
TARGET_LABELS = {"job", "instance"}
INSTANCE_FILTER = 'instance=~"$instance"'
_GROUPING = re.compile(r"\b(by|without)\s*\(([^()]*)\)")
_AGGREGATION = re.compile(r"^\s*(sum|max|min|count|histogram_quantile)\s*\(")


@pytest.fixture(scope="module")
def fleet_scrape() -> Scrape:
    """A scrape of an app after traffic touching every counter (the labels series really carry)."""
    return asyncio.run(_drive())


def _targets() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(panel, target) for panel in _panels(_load_dashboard()["panels"]) for target in panel.get("targets", [])]


def _groupings(expr: str) -> list[set[str]]:
    return [{label.strip() for label in labels.split(",") if label.strip()} for _, labels in _GROUPING.findall(expr)]


def _selectors(expr: str, name: str) -> list[str]:
    """The ``{…}`` matchers of each place ``name`` is selected in ``expr`` ('' where it has none)."""
    return [m.group(1) or "" for m in re.finditer(rf"(?<![\w:]){re.escape(name)}(?![\w:])(\{{[^{{}}]*\}})?", expr)]


def _fleet_row() -> list[dict[str, Any]]:
    """The panels between the Fleet row and the next row."""
    panels: list[dict[str, Any]] = _load_dashboard()["panels"]
    start = next(i for i, p in enumerate(panels) if p["type"] == "row" and p["title"].startswith("Fleet"))
    rest = panels[start + 1 :]
    end = next((i for i, p in enumerate(rest) if p["type"] == "row"), len(rest))
    return rest[:end]


def test_a_replica_variable_lists_every_replica_even_before_traffic() -> None:
    variables = {v["name"]: v for v in _load_dashboard()["templating"]["list"]}
    instance = variables["instance"]
    assert instance["type"] == "query" and instance["multi"] and instance["includeAll"]
    assert instance["allValue"] == ".*"
    selector = _label_values_selector(_variable_query(instance))
    assert _variable_query(instance).rstrip().endswith(", instance)")
    (name,) = metric_names(selector)
    # A gauge a fresh replica exports: a replica that has served nothing is still listed.
    assert metric_types()[name] == "gauge", name


def test_every_query_is_filtered_by_the_chosen_replicas() -> None:
    checked = 0
    for panel, target in _targets():
        expr = target["expr"]
        for name in metric_names(expr) - {"up"}:
            for matchers in _selectors(expr, name):
                assert INSTANCE_FILTER in matchers, f"panel {panel['title']!r}: {name}{matchers} ignores $instance"
                checked += 1
    assert checked >= 40


def test_grouping_labels_exist_on_the_series_they_group(fleet_scrape: Scrape) -> None:
    for panel, target in _targets():
        expr = target["expr"]
        available = set(TARGET_LABELS)
        for name in metric_names(expr) - {"up"}:
            family = fleet_scrape.family_of(name)
            assert family is not None, name
            available |= {label for s in fleet_scrape.families[family].samples for label in s.labels}
        for grouping in _groupings(expr):
            assert grouping <= available, f"panel {panel['title']!r}: no series has {grouping - available}"


def test_single_value_panels_aggregate_over_every_chosen_replica() -> None:
    stats = [(p, t) for p, t in _targets() if p["type"] == "stat"]
    assert len(stats) >= 6
    for panel, target in stats:
        expr = target["expr"]
        # One number for the fleet: an aggregation on the outside, grouped by nothing but buckets.
        assert _AGGREGATION.match(expr), f"stat {panel['title']!r} shows one series per replica: {expr}"
        assert all(grouping <= {"le"} for grouping in _groupings(expr)), panel["title"]


def test_rates_are_taken_per_series_before_they_are_summed() -> None:
    # rate(sum(…)) would see a replica's restart (its counters back at 0) as a huge drop.
    for panel, target in _targets():
        assert not re.search(r"\b(?:rate|irate|increase)\(\s*(?:sum|max|min|avg|count)\b", target["expr"]), panel[
            "title"
        ]
        assert not re.search(r"\bavg\s*(?:by|\()", target["expr"]), f"{panel['title']!r}: avg hides a replica"


def test_the_fleet_row_shows_each_replica_on_its_own_line() -> None:
    panels = _fleet_row()
    assert len(panels) >= 5
    for panel in panels:
        assert panel["type"] == "timeseries", panel["title"]
        for target in panel["targets"]:
            groupings = _groupings(target["expr"])
            assert groupings and all("instance" in g for g in groupings), (panel["title"], target["expr"])
            assert "{{instance}}" in target["legendFormat"], panel["title"]
    shown = {name for panel in panels for t in panel["targets"] for name in metric_names(t["expr"])}
    # Traffic, errors, latency, streams, rate limiting and workers: what differs between replicas.
    for name in (
        "llm_simulator_requests_total",
        "llm_simulator_errors_total",
        "llm_simulator_ttft_seconds_bucket",
        "llm_simulator_active_streams",
        "llm_simulator_rate_limit_hits_total",
        "llm_simulator_workers",
    ):
        assert name in shown, name
