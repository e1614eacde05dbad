"""Build the telemetry hub a server needs from the configuration (sinks and tracer on demand)."""

from __future__ import annotations

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.telemetry.events import EventSink
from llm_simulator.telemetry.hub import Telemetry, Tracer
from llm_simulator.telemetry.stats import Stats


def build_telemetry(config: SimulatorConfig, stats: Stats) -> Telemetry:
    """The hub with the configured event sinks and, with an OTLP endpoint, the tracer.

    The sink and tracer modules are imported only when configured: the OpenTelemetry ones
    need the ``otel`` extra and raise an error naming it when it is missing.
    """
    telemetry = config.telemetry
    sinks: list[EventSink] = []
    if telemetry.events.sinks:
        from llm_simulator.telemetry.sinks import build_sink

        sinks = [build_sink(spec, config) for spec in telemetry.events.sinks]
    tracer: Tracer | None = None
    if telemetry.tracing.otlp_endpoint:
        from llm_simulator.telemetry.tracing import build_tracer

        tracer = build_tracer(config)
    return Telemetry(config, stats, sinks, tracer)
