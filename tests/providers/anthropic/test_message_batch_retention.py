"""Ended message batches are kept 29 days after their creation, as the API keeps their results."""

from __future__ import annotations

import pytest

from llm_simulator.config.schema import BatchesConfig
from llm_simulator.core.errors import SimulatorError
from llm_simulator.infra.clock import FakeClock
from llm_simulator.providers.anthropic.batches import RETENTION_S, MessageBatch, MessageBatchService
from llm_simulator.providers.batch_runner import BatchRunner
from llm_simulator.providers.internal import InternalDispatch


def _batch(batch_id: str, created_at: float, status: str) -> MessageBatch:
    return MessageBatch(batch_id, ["a"], created_at, {}, "http://x/results", created_at + 86400, status=status)


def test_an_ended_batch_is_forgotten_after_29_days_a_running_one_is_not() -> None:
    clock = FakeClock()
    config = BatchesConfig()
    service = MessageBatchService(clock, BatchRunner(InternalDispatch(), config), config)
    start = clock.wall()
    for batch in (
        _batch("old_ended", start, "ended"),
        _batch("old_running", start, "in_progress"),
        _batch("new_ended", start + 10, "ended"),
    ):
        service.batches[batch.id] = batch
    clock.advance_to(clock.now() + RETENTION_S)
    assert [b.id for b in service.listed()] == ["new_ended", "old_running", "old_ended"]  # not yet past
    clock.advance_to(clock.now() + 1)
    assert [b.id for b in service.listed()] == ["new_ended", "old_running"]
    with pytest.raises(SimulatorError) as gone:
        service.require("old_ended")
    assert gone.value.status == 404
    clock.advance_to(clock.now() + 10)
    assert service.require("old_running").status == "in_progress"
    assert [b.id for b in service.listed()] == ["old_running"]
