"""The replica's step rule against hand-computed vLLM-v1 expectations (no clock, no noise)."""

from __future__ import annotations

from llm_simulator.engine.load.sequence import SeqState
from tests.engine.load.helpers import Driver, replica, seq


def test_admission_is_fcfs_up_to_max_num_seqs() -> None:
    rep = replica(max_num_seqs=2)
    a, b, c = seq(1, 10, 3), seq(2, 10, 3), seq(3, 10, 3)
    for s in (a, b, c):
        assert rep.enqueue(s)
    batch = rep.schedule()
    assert batch is not None
    assert batch.sequences == [a, b]
    assert batch.progress == [10, 10]
    assert list(rep.waiting) == [c]
    assert c.state is SeqState.WAITING and a.state is SeqState.RUNNING


def test_chunked_prefill_first_token_at_end_of_the_step_that_completes_the_prompt() -> None:
    rep = replica(max_num_batched_tokens=2048)
    drv = Driver(rep)
    s = seq(1, 5000, 3)
    rep.enqueue(s)
    chunks = []
    for _ in range(3):
        batch = drv.step()
        assert batch is not None
        chunks.append(batch.prefill_tokens)
    assert chunks == [2048, 2048, 904]
    assert drv.emits[1] == [3.0]  # nothing after steps 1 and 2; the first token ends step 3
    assert s.first_token_ms == 3.0
    drv.run()
    assert drv.emits[1] == [3.0, 4.0, 5.0]
    assert s.finish_ms == 5.0 and s.state is SeqState.FINISHED


def test_decode_is_one_token_per_step_and_the_budget_is_shared() -> None:
    rep = replica(max_num_batched_tokens=2048)
    drv = Driver(rep)
    long, short = seq(1, 1500, 4), seq(2, 1500, 4)
    rep.enqueue(long)
    rep.enqueue(short)
    first = drv.step()
    assert first is not None and first.progress == [1500, 548]  # the second gets what the budget has left
    second = drv.step()
    assert second is not None
    # the first decodes (1 token), the second finishes its prompt (952 tokens)
    assert second.progress == [1, 952]
    assert second.decode_tokens == 1 and second.prefill_tokens == 952
    assert second.decode_context == 1500
    drv.run()
    assert drv.emits[1] == [1.0, 2.0, 3.0, 4.0]
    assert drv.emits[2] == [2.0, 3.0, 4.0, 5.0]
    assert rep.counters.generated_tokens == 8
    assert rep.counters.prefill_tokens == 3000


def test_width_n_decodes_choices_side_by_side() -> None:
    rep = replica(block_size=16)
    drv = Driver(rep)
    s = seq(1, 16, 3, width=4)
    rep.enqueue(s)
    drv.step()
    assert s.held_blocks == 1  # the prompt, once
    batch = drv.step()
    assert batch is not None and batch.decode_tokens == 4  # four choices, one token each
    assert s.held_blocks == 1 + 4  # each choice starts its own output block
    drv.run()
    assert len(drv.emits[1]) == 3
    assert rep.counters.generated_tokens == 12


def test_target_zero_prefills_then_finishes_without_a_token() -> None:
    rep = replica()
    drv = Driver(rep)
    s = seq(1, 100, 0)
    rep.enqueue(s)
    assert drv.run() == 1
    assert s.state is SeqState.FINISHED and 1 not in drv.emits
    assert s.first_token_ms == -1.0 and s.finish_ms == 1.0
    assert rep.kv.used == 0


def test_head_of_line_blocking() -> None:
    rep = replica(kv_blocks=20, block_size=16, watermark=0.0)
    drv = Driver(rep)
    big = seq(1, 16 * 12, 10)  # 12 prompt blocks
    rep.enqueue(big)
    drv.step()
    huge = seq(2, 16 * 10, 1)  # 10 blocks: does not fit next to the first
    small = seq(3, 16, 1)  # 1 block: would fit, but may not overtake
    rep.enqueue(huge)
    rep.enqueue(small)
    batch = drv.step()
    assert batch is not None and batch.sequences == [big]
    assert list(rep.waiting) == [huge, small]


def test_watermark_keeps_blocks_free_at_admission() -> None:
    rep = replica(kv_blocks=100, block_size=16, watermark=0.1)
    a = seq(1, 16 * 85, 1)
    b = seq(2, 16 * 6, 1)  # 85 + 6 = 91 > 100 − 10
    rep.enqueue(a)
    rep.enqueue(b)
    batch = rep.schedule()
    assert batch is not None and batch.sequences == [a]


def test_recompute_preemption_under_a_tiny_kv_cache() -> None:
    # 10 blocks of 16; two 64-token prompts (4 blocks each), 40 tokens out each.
    rep = replica(kv_blocks=10, block_size=16, watermark=0.0)
    drv = Driver(rep)
    a, b = seq(1, 64, 40), seq(2, 64, 40)
    rep.enqueue(a)
    rep.enqueue(b)
    for _ in range(17):
        drv.step()
    # Step 2 took one output block each (10/10 used); after step 17 both have computed 80 tokens.
    assert a.computed == b.computed == 80 and rep.kv.available == 0
    batch = drv.step()  # step 18: a needs its 2nd output block: b, the newest, is preempted
    assert batch is not None and batch.sequences == [a]
    assert b.state is SeqState.WAITING and list(rep.waiting) == [b]
    assert b.preemptions == 1 and rep.counters.preemptions == 1
    assert b.computed == 0 and b.held_blocks == 0 and b.generated == 17
    drv.run()
    # a finishes at step 40; b waits (it needs 6 blocks, at most 4 are free), then recomputes
    # its 64 + 17 known tokens in step 41 and samples its 18th token at the end of it.
    assert a.finish_ms == 40.0
    assert drv.emits[2][16:18] == [17.0, 41.0]
    assert len(drv.emits[1]) == 40 and len(drv.emits[2]) == 40  # nothing lost, nothing re-emitted
    assert b.finish_ms == 41.0 + 22
    assert rep.counters.generated_tokens == 80


def test_a_step_that_preempts_admits_nothing() -> None:
    # As vLLM v1: a preempted sequence is not readmitted in the step that preempted it.
    rep = replica(kv_blocks=10, block_size=16, watermark=0.0, max_num_batched_tokens=16)
    drv = Driver(rep)
    a, b = seq(1, 16, 100), seq(2, 16, 100)
    rep.enqueue(a)
    rep.enqueue(b)
    batch = None
    while b.preemptions == 0:
        batch = drv.step()
        assert batch is not None
    assert batch is not None and b not in batch.sequences and list(rep.waiting) == [b]
    assert drv.step() is not None and b.state is SeqState.RUNNING  # back in the next step


def test_preempted_sequences_keep_their_order_at_the_head() -> None:
    rep = replica(kv_blocks=9, block_size=16, watermark=0.0)
    drv = Driver(rep)
    seqs = [seq(i, 48, 40, width=2) for i in range(3)]  # 3 blocks each: the cache is full after admission
    for s in seqs:
        rep.enqueue(s)
    late = seq(9, 16, 1)
    drv.step()
    rep.enqueue(late)
    # Each needs 2 output blocks: 0 preempts 2 and takes 2 of its 3; 1 finds 1 and preempts itself.
    drv.step()
    assert [s.seq_id for s in rep.waiting] == [1, 2, 9]


def test_rejection_when_the_queue_is_full_or_it_never_fits() -> None:
    rep = replica(max_waiting=1, kv_blocks=10, block_size=16, watermark=0.0)
    assert rep.enqueue(seq(1, 10, 1))
    full = seq(2, 10, 1)
    assert not rep.enqueue(full) and full.state is SeqState.REJECTED
    rep2 = replica(kv_blocks=10, block_size=16, watermark=0.0)
    assert rep2.enqueue(seq(1, 16 * 8, 32))  # 8 + 2 blocks: just fits
    too_big = seq(2, 16 * 8, 33)  # 8 + 3 blocks
    assert not rep2.enqueue(too_big) and too_big.state is SeqState.REJECTED
    assert rep.counters.rejected == 1 and rep2.counters.rejected == 1


def test_a_width_beyond_the_token_budget_is_rejected() -> None:
    # Its decode step could never be scheduled: it would sit in the running batch forever.
    rep = replica(max_num_batched_tokens=4)
    wide = seq(1, 4, 3, width=8)
    assert not rep.enqueue(wide)
    assert wide.state is SeqState.REJECTED


def test_queue_timeout_expires_only_never_admitted_sequences() -> None:
    rep = replica(max_num_seqs=1, queue_timeout_ms=100.0)
    head, behind = seq(1, 10, 500, arrival_ms=0.0), seq(2, 10, 1, arrival_ms=20.0)
    rep.enqueue(head)
    rep.enqueue(behind)
    rep.schedule()
    assert rep.expire(100.0) == []  # waited exactly the limit: not yet
    assert rep.expire(130.0) == [behind]
    assert behind.state is SeqState.ABORTED and rep.counters.timed_out == 1
    assert list(rep.waiting) == []
    rep.check_invariants()


def test_a_sequence_preempted_in_its_prefill_does_not_time_out() -> None:
    rep = replica(kv_blocks=6, block_size=16, watermark=0.0, max_num_batched_tokens=32, queue_timeout_ms=5.0)
    drv = Driver(rep)
    a, b = seq(1, 32, 48), seq(2, 64, 1)
    rep.enqueue(a)
    rep.enqueue(b)
    drv.step()  # a's prompt takes the whole budget
    drv.step()  # a decodes (3 blocks), b's first 31 tokens (2 blocks)
    drv.step()  # b's next chunk needs 2 blocks, 1 is left: b, the newest, preempts itself
    assert b.state is SeqState.WAITING and b.preemptions == 1 and b.generated == 0
    # it was admitted once: it is no longer queueing for admission, whatever the clock says
    assert rep.expire(drv.now + 1000.0) == []


def test_abort_waiting_and_running_frees_kv_at_once() -> None:
    rep = replica(max_num_seqs=1, block_size=16)
    drv = Driver(rep)
    run, wait = seq(1, 64, 10), seq(2, 64, 10)
    rep.enqueue(run)
    rep.enqueue(wait)
    drv.step()
    assert rep.kv.used == 4
    rep.abort(wait)
    assert wait.state is SeqState.ABORTED and not rep.waiting
    rep.abort(run)
    assert run.state is SeqState.ABORTED and not rep.running and rep.kv.used == 0
    assert rep.counters.aborted == 2
    rep.abort(run)  # twice is harmless
    assert rep.counters.aborted == 2
    assert drv.step() is None


def test_abort_mid_batch_never_emits() -> None:
    rep = replica()
    a, b = seq(1, 10, 5), seq(2, 10, 5)
    rep.enqueue(a)
    rep.enqueue(b)
    batch = rep.schedule()
    assert batch is not None
    rep.abort(a)  # the client leaves while the step runs
    rep.check_invariants()
    emitted, finished = rep.complete(batch, 1.0)
    assert emitted == [b] and finished == []
    assert a.generated == 0 and a.first_token_ms == -1.0
    rep.check_invariants()
    assert rep.kv.used == rep.kv.blocks_for(10)


def test_abort_finished_on_its_last_step_is_a_no_op() -> None:
    rep = replica()
    s = seq(1, 10, 1)
    rep.enqueue(s)
    batch = rep.schedule()
    assert batch is not None
    _, finished = rep.complete(batch, 1.0)
    assert finished == [s]
    rep.abort(s)
    assert s.state is SeqState.FINISHED and rep.counters.aborted == 0


def test_without_chunked_prefill_a_second_prompt_waits_for_a_step_that_holds_all_of_it() -> None:
    # TensorRT-LLM without chunked context: two 5000-token prompts never share an 8192 budget.
    rep = replica(max_num_batched_tokens=8192, chunked_prefill=False)
    a, b = seq(1, 5000, 3), seq(2, 5000, 3)
    rep.enqueue(a)
    rep.enqueue(b)
    batch = rep.schedule()
    assert batch is not None
    assert batch.sequences == [a] and batch.prefill_tokens == 5000
    assert list(rep.waiting) == [b]
    # With chunking (vLLM's default) the rest of the budget goes to the second prompt.
    rep = replica(max_num_batched_tokens=8192)
    a, b = seq(1, 5000, 3), seq(2, 5000, 3)
    rep.enqueue(a)
    rep.enqueue(b)
    batch = rep.schedule()
    assert batch is not None and batch.progress == [5000, 3192]


def test_without_chunked_prefill_a_prompt_longer_than_the_budget_still_runs_alone() -> None:
    rep = replica(max_num_batched_tokens=2048, chunked_prefill=False)
    drv = Driver(rep)
    rep.enqueue(seq(1, 5000, 2))
    assert drv.run() > 0
    assert rep.running == [] and not rep.waiting


def _arrive_during_a_step(schedule_ahead: int) -> tuple[Driver, list[int | None]]:
    """A runs alone; B arrives while A's first decode step runs; which step does B join?"""
    rep = replica(schedule_ahead=schedule_ahead)
    drv = Driver(rep)
    a, b = seq(1, 10, 10), seq(2, 10, 3)
    rep.enqueue(a)
    drv.step()  # A's prefill
    batch = rep.schedule()  # A's first decode step is now running ...
    assert batch is not None
    rep.enqueue(b)  # ... when B arrives
    drv.now += rep.duration_ms(batch)
    rep.complete(batch, drv.now)
    joined: list[int | None] = []
    for _ in range(3):
        nxt = drv.step()
        assert nxt is not None
        joined.append(nxt.sequences.index(b) if b in nxt.sequences else None)
    return drv, joined


def test_without_scheduling_ahead_an_arrival_joins_the_next_step() -> None:
    _, joined = _arrive_during_a_step(0)
    assert joined == [1, 1, 1]


def test_scheduling_ahead_an_arrival_during_a_step_misses_the_next_one() -> None:
    # vLLM's async scheduling formed the next batch when the running step was launched.
    drv, joined = _arrive_during_a_step(1)
    assert joined == [None, 1, 1]
    assert drv.emits[2][0] == 4.0  # prefill in step 4, not 3: one step more TTFT


def test_scheduling_ahead_an_idle_replica_admits_at_once() -> None:
    rep = replica(schedule_ahead=1)
    s = seq(1, 10, 2)
    rep.enqueue(s)
    batch = rep.schedule()
    assert batch is not None and batch.sequences == [s]


def test_scheduling_ahead_never_leaves_the_replica_idle_with_work_waiting() -> None:
    # A finishes in the step during which B arrives: with nothing else to run, B is admitted
    # at once instead of an empty step (or a stall) first.
    rep = replica(schedule_ahead=1)
    drv = Driver(rep)
    a, b = seq(1, 10, 1), seq(2, 10, 2)
    rep.enqueue(a)
    batch = rep.schedule()
    assert batch is not None
    rep.enqueue(b)
    rep.complete(batch, 1.0)
    assert a.state is SeqState.FINISHED
    nxt = rep.schedule()
    assert nxt is not None and nxt.sequences == [b]
    rep.complete(nxt, 2.0)
    drv.run()
    assert b.state is SeqState.FINISHED
