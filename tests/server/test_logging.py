"""Log configuration of server workers."""

from __future__ import annotations

import logging

import orjson
import pytest

from llm_simulator.server.factory import JsonLineFormatter, configure_logging


def test_json_logs_are_one_object_per_line() -> None:
    record = logging.LogRecord("llm_simulator.server", logging.WARNING, __file__, 1, "hello %s", ("x",), None)
    entry = orjson.loads(JsonLineFormatter().format(record))
    assert entry["level"] == "warning" and entry["message"] == "hello x"


def test_configure_logging_sets_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", json_logs=True)
    logger = logging.getLogger("llm_simulator.server")
    logger.info("hidden")
    logger.warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert orjson.loads(err.strip().splitlines()[-1])["message"] == "shown"
