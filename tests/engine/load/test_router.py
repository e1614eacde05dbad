"""Which replica takes a request: round robin, least loaded, prefix aware."""

from __future__ import annotations

import random

import pytest

from llm_simulator.engine.load.replica import EngineSettings, Replica
from llm_simulator.engine.load.router import build_router
from tests.engine.load.helpers import FLAT, Driver, seq


def replicas(n: int, prefix_caching: bool = True) -> list[Replica]:
    settings = EngineSettings(prefix_caching=prefix_caching, block_size=16)
    return [Replica(i, settings, FLAT, random.Random(i)) for i in range(n)]


def test_round_robin_cycles_whatever_the_load() -> None:
    reps = replicas(3)
    pick = build_router("round_robin")
    reps[0].enqueue(seq(99, 10, 1))
    assert [pick(reps, seq(i, 10, 1)).index for i in range(5)] == [0, 1, 2, 0, 1]


def test_least_loaded_counts_running_and_waiting_and_breaks_ties_by_index() -> None:
    reps = replicas(3)
    pick = build_router("least_loaded")
    assert pick(reps, seq(1, 10, 1)).index == 0
    reps[0].enqueue(seq(2, 10, 1))
    reps[1].enqueue(seq(3, 10, 1))
    reps[1].schedule()  # running counts as much as waiting
    assert pick(reps, seq(4, 10, 1)).index == 2
    reps[2].enqueue(seq(5, 10, 1))
    reps[2].enqueue(seq(6, 10, 1))
    assert pick(reps, seq(7, 10, 1)).index == 0


def test_prefix_aware_prefers_the_cache_within_a_load_bound() -> None:
    reps = replicas(3)
    pick = build_router("prefix_aware")
    hashes = (1, 2, 3, 4)
    assert reps[2].enqueue(seq(1, 65, 1, hashes=hashes))
    Driver(reps[2]).run()
    assert reps[2].kv.cached_prefix(hashes) == 4
    assert pick(reps, seq(2, 64, 1, hashes=hashes)).index == 2
    assert pick(reps, seq(3, 64, 1, hashes=(9, 8))).index == 0  # no cache anywhere: least loaded
    assert pick(reps, seq(4, 64, 1)).index == 0  # no hashes: least loaded
    for i in range(3):  # load 3 > 2 × 0 + 1: the cache is not worth that queue
        reps[2].enqueue(seq(10 + i, 10, 1))
    assert pick(reps, seq(5, 64, 1, hashes=hashes)).index == 0


def test_prefix_aware_takes_the_longest_prefix() -> None:
    reps = replicas(3)
    pick = build_router("prefix_aware")
    for rep, hashes in ((reps[1], (1, 2)), (reps[2], (1, 2, 3))):
        rep.enqueue(seq(1, 16 * len(hashes) + 1, 1, hashes=hashes))
        Driver(rep).run()
    assert pick(reps, seq(2, 64, 1, hashes=(1, 2, 3, 4))).index == 2


def test_an_unknown_router_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown router"):
        build_router("random")
