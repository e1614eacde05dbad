"""``cli.startup.collection_paused``: no collections while a command's modules load."""

from __future__ import annotations

import gc

import pytest

from llm_simulator.cli.startup import collection_paused


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_still_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_freeze_moves_what_the_block_allocated_out_of_reach() -> None:
    before = gc.get_freeze_count()
    try:
        with collection_paused(freeze=True):
            kept = [[i] for i in range(1000)]  # tracked containers that stay alive
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()  # give this test process's objects back to the collector
