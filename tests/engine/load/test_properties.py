"""Random enqueue/step/abort/expire programs keep the KV invariants and lose no token."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_simulator.engine.load.replica import EngineSettings, Replica
from llm_simulator.engine.load.sequence import SeqState, Sequence
from tests.engine.load.helpers import FLAT

# Small prefix pool so that hits, sharing and eviction all happen.
PREFIXES = [(1, 2, 3, 4), (1, 2, 5, 6), (7, 8, 9, 10), ()]

op = st.one_of(
    st.tuples(st.just("enqueue"), st.integers(1, 90), st.integers(0, 40), st.integers(1, 3), st.integers(0, 3)),
    st.tuples(st.just("step"), st.booleans()),
    st.tuples(st.just("abort"), st.integers(0, 1000)),
    st.tuples(st.just("expire"), st.integers(0, 30)),
)


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(op, max_size=120),
    kv_blocks=st.integers(8, 40),
    budget=st.integers(3, 64),
    max_seqs=st.integers(1, 6),
    prefix_caching=st.booleans(),
)
def test_random_programs_keep_invariants_and_emit_exactly_target(
    ops: list[tuple[object, ...]],
    kv_blocks: int,
    budget: int,
    max_seqs: int,
    prefix_caching: bool,
) -> None:
    rep = Replica(
        0,
        EngineSettings(
            max_num_seqs=max_seqs,
            max_num_batched_tokens=budget,
            kv_blocks=kv_blocks,
            block_size=16,
            prefix_caching=prefix_caching,
            max_waiting=8,
            queue_timeout_ms=20.0,
            watermark=0.05,
        ),
        FLAT,
        random.Random(0),
    )
    seqs: list[Sequence] = []
    emitted: dict[int, int] = {}
    now = 0.0

    def step(abort_one: bool) -> bool:
        nonlocal now
        batch = rep.schedule()
        rep.check_invariants()
        if batch is None:
            return False
        if abort_one:  # a client leaves while the step runs
            rep.abort(batch.sequences[-1])
            rep.check_invariants()
        now += 1.0
        out, finished = rep.complete(batch, now)
        for s in out:
            assert s.state in (SeqState.RUNNING, SeqState.FINISHED)
            emitted[s.seq_id] = emitted.get(s.seq_id, 0) + 1
            assert emitted[s.seq_id] == s.generated <= s.target
        for s in finished:
            assert emitted.get(s.seq_id, 0) == s.target
        rep.check_invariants()
        return True

    for o in ops:
        if o[0] == "enqueue":
            _, prompt, target, width, prefix = o
            assert isinstance(prompt, int) and isinstance(target, int) and isinstance(width, int)
            assert isinstance(prefix, int)
            hashes = PREFIXES[prefix][: prompt // 16]
            s = Sequence(len(seqs), prompt, target, now, width=width, hashes=hashes)
            seqs.append(s)
            rep.enqueue(s)
        elif o[0] == "step":
            assert isinstance(o[1], bool)
            step(o[1])
        elif o[0] == "abort" and seqs:
            assert isinstance(o[1], int)
            rep.abort(seqs[o[1] % len(seqs)])
        elif o[0] == "expire":
            assert isinstance(o[1], int)
            now += o[1]
            rep.expire(now)
        rep.check_invariants()

    for _ in range(20_000):  # drain: everything admitted finishes, nothing hangs
        if not step(False):
            break
    assert rep.idle
    for s in seqs:
        assert s.state is not SeqState.WAITING and s.state is not SeqState.RUNNING
        if s.state is SeqState.FINISHED:
            assert emitted.get(s.seq_id, 0) == s.target == s.generated
        else:
            assert emitted.get(s.seq_id, 0) == s.generated <= s.target
    assert rep.counters.generated_tokens == sum(s.width * s.generated for s in seqs)
    assert rep.kv.used == 0
