"""Which replica of a deployment takes a new request."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from collections.abc import Sequence as Seq

from llm_simulator.engine.load.replica import Replica
from llm_simulator.engine.load.sequence import Sequence

Router = Callable[[Seq[Replica], Sequence], Replica]
ROUTERS = ("round_robin", "least_loaded", "prefix_aware")


def round_robin() -> Router:
    """Each replica in turn, whatever its load."""
    counter = itertools.count()

    def pick(replicas: Seq[Replica], seq: Sequence) -> Replica:
        return replicas[next(counter) % len(replicas)]

    return pick


def least_loaded() -> Router:
    """The replica with the fewest requests (running plus waiting); the lowest index on ties."""

    def pick(replicas: Seq[Replica], seq: Sequence) -> Replica:
        return min(replicas, key=_load_key)

    return pick


def prefix_aware() -> Router:
    """The replica caching the longest prefix of the prompt; the least loaded among equals.

    A cached prefix is only worth so much queueing: a replica is preferred for its cache
    only while its load is within twice the least loaded one's plus one.
    """

    def pick(replicas: Seq[Replica], seq: Sequence) -> Replica:
        lightest = min(replicas, key=_load_key)
        if not seq.hashes:
            return lightest
        bound = 2 * lightest.load + 1
        best, best_blocks = lightest, lightest.kv.cached_prefix(seq.hashes)
        for replica in replicas:
            if replica.load > bound:
                continue
            blocks = replica.kv.cached_prefix(seq.hashes)
            if blocks > best_blocks or (blocks == best_blocks and _load_key(replica) < _load_key(best)):
                best, best_blocks = replica, blocks
        return best

    return pick


def _load_key(replica: Replica) -> tuple[int, int]:
    return replica.load, replica.index


def build_router(name: str) -> Router:
    """The router called ``name`` (one of ``ROUTERS``)."""
    if name == "round_robin":
        return round_robin()
    if name == "least_loaded":
        return least_loaded()
    if name == "prefix_aware":
        return prefix_aware()
    raise ValueError(f"unknown router {name!r} (known: {', '.join(ROUTERS)})")
