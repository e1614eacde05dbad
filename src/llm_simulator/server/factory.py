"""Build the app inside a server worker from the configuration the CLI resolved."""

from __future__ import annotations

import gc
import logging
import os

import orjson

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.server.app import SimulatorApp
from llm_simulator.telemetry.logs import RequestContextFilter

# The CLI serialises the effective (already validated) config here for worker processes.
CONFIG_ENV = "LLM_SIMULATOR_INTERNAL_CONFIG_JSON"

# A full collection at most once per this many second-generation passes (CPython's default
# is 10). A full pass walks every live object, and a worker holding 1000 streams holds some
# 100k of them: measured 28–107 ms with the GIL held, every few seconds under load, which
# stalls every stream's token at once. Cyclic garbage old enough to reach the oldest
# generation is still collected, ten times less often.
FULL_COLLECTION_EVERY = 100
# The young generation keeps CPython's threshold (700 net allocations). Under wrk -c64 a
# non-streamed request frees what it allocates by reference counting, but 64 requests in
# flight set off a young pass every ≈ 45 requests (≈ 50 µs each, ≈ 1.5 % of the worker's
# time; 2000 would leave three passes in 8 s), yet with live streams and sessions a larger
# young generation makes the middle passes that stall every stream at once 5× longer
# (docs/performance.md, the Realtime sessions' GC), so it stays.

# The GIL's switch interval stays at CPython's 5 ms: 1 ms gave 1.05–1.20× the requests/s and
# a lower p99 on the loaded box, but 0.95× (CPU per request 1.06×) on a quiet one
# (docs/performance.md, "The HTTP tail").


# Fields a record may carry (``extra=``) that JSON lines show as their own keys.
ACCESS_FIELDS = (
    "request_id",
    "trace_id",
    "span_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "provider",
    "endpoint",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per log record (``logging.json_logs``)."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record."""
        entry = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ACCESS_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: str, json_logs: bool) -> None:
    """Route the simulator's logs to stderr at ``level``, as text or JSON lines.

    Lines logged while serving a request carry its request id and trace id.
    """
    handler = logging.StreamHandler()
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonLineFormatter() if json_logs else logging.Formatter(TEXT_FORMAT))
    logger = logging.getLogger("llm_simulator")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def create_app() -> SimulatorApp:
    """App factory for granian/uvicorn workers."""
    raw = os.environ.get(CONFIG_ENV)
    config = SimulatorConfig.model_validate_json(raw) if raw else SimulatorConfig()
    configure_logging(config.logging.level, config.logging.json_logs)
    app = SimulatorApp(config)
    # Before the worker serves anything: the first request must not wait for the vocabulary
    # (a no-op in a worker forked from the CLI process, which loaded it for all of them).
    app.sim.warm_up()
    tune_worker_runtime()
    return app


def tune_worker_runtime() -> None:
    """The serving process's collector, set once its long-lived state is built.

    Everything built so far (tokenizer ranks, catalogue, sentence pools) lives for the whole
    process: it leaves the collector's generations so GC passes stay short. Full passes come
    every ``FULL_COLLECTION_EVERY`` second-generation passes.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
