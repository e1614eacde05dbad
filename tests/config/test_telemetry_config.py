"""The ``telemetry`` section: defaults, precedence of the OTLP endpoint, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_simulator.cli.main import main
from llm_simulator.config.loader import ConfigError, load_config


def test_defaults_turn_metrics_on_and_traces_and_events_off() -> None:
    config = load_config(environ={})
    assert config.telemetry.metrics.enabled is True
    assert config.telemetry.tracing.otlp_endpoint is None
    assert config.telemetry.events.sinks == ()


def test_the_standard_otel_variable_sets_the_endpoint() -> None:
    config = load_config(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert config.telemetry.tracing.otlp_endpoint == "http://collector:4318"


def test_our_variable_beats_the_standard_one_and_the_flag_beats_both() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "LLM_SIMULATOR_OTLP_ENDPOINT": "http://b:4318"}
    assert load_config(environ=environ).telemetry.tracing.otlp_endpoint == "http://b:4318"
    flags = {"telemetry.tracing.otlp_endpoint": "http://c:4318"}
    assert load_config(environ=environ, flags=flags).telemetry.tracing.otlp_endpoint == "http://c:4318"


def test_cli_flags_reach_the_config(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert main(["config", "show", "--otlp-endpoint", "http://127.0.0.1:4318", "--access-log"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["telemetry"]["tracing"]["otlp_endpoint"] == "http://127.0.0.1:4318"
    assert data["logging"]["access_log"] is True


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("telemetry: {metrics: {prices: {gpt-4o: {input_per_mtok: -1, output_per_mtok: 1}}}}", "input_per_mtok"),
        ("telemetry: {metrics: {loop_lag_interval_s: 0}}", "loop_lag_interval_s"),
        ("telemetry: {tracing: {sample_ratio: 2}}", "sample_ratio"),
        ("telemetry: {metrics: {colour: red}}", "colour"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, body: str, named: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(file=path, environ={})
    assert named in str(caught.value)
