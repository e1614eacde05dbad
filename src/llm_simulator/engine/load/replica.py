"""One engine replica: a waiting queue, a running batch, a KV cache, and its step rule.

The replica is a pure state machine with no clock: ``schedule`` forms the next step's batch
(vLLM-v1 semantics), ``duration_ms`` says how long it takes, and ``complete`` applies the
step's end. The live engine (engine/load/live.py) and the virtual-time simulation
(engine/load/virtual.py) drive the same object, so both see exactly the same schedule.

Step formation, in order:

1. Every running sequence gets its share of the token budget (``max_num_batched_tokens``):
   one token per decoding choice, or the next chunk of a prefill (chunked prefill). A
   sequence that needs a new KV block when none is left preempts the newest running
   sequence (recompute: its blocks are freed and it goes back to the head of the queue).
2. Waiting sequences are admitted first-come first-served while the batch has room
   (``max_num_seqs``), the budget lasts, and the KV cache keeps a small free watermark; the
   head of the queue blocks the rest (no overtaking, as in vLLM's FCFS policy). A step that
   had to preempt admits nothing (vLLM v1 does the same: the cache is too tight this step).
   With ``schedule_ahead`` (vLLM's async scheduling) a request that arrived while a step
   was running may join only the step after next, unless nothing else would run.

``check_invariants`` verifies the block accounting (tests call it after every step).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from llm_simulator.engine.load.kvcache import KvCache
from llm_simulator.engine.load.sequence import SeqState, Sequence
from llm_simulator.engine.load.stepmodel import StepTimeModel, cold_bucket


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """A replica's scheduler limits (vLLM's names where it has them)."""

    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    kv_blocks: int = 100_000
    block_size: int = 16
    prefix_caching: bool = False
    # Requests allowed to wait; one more is refused with the provider's overload error.
    max_waiting: int = 10_000
    # Most a request may wait for admission (ms) before it is refused; 0: no limit.
    queue_timeout_ms: float = 0.0
    # Fraction of blocks kept free when admitting (so running sequences can grow).
    watermark: float = 0.01
    # Split a prompt across steps (vLLM's chunked prefill). Off (TensorRT-LLM's default,
    # ``enable_chunked_context=False``): a prompt is admitted only in a step whose remaining
    # budget holds all of it, so a second long prompt waits for the next step instead of
    # lengthening this one; a prompt longer than the whole budget still runs, chunked, alone.
    chunked_prefill: bool = True
    # Steps the scheduler works ahead of the GPU (0 or 1). vLLM ≥ 0.14 schedules asynchronously
    # by default: step n+1's batch is formed as soon as step n is launched, so a request that
    # arrives while step n runs misses n+1 and joins n+2 — its TTFT holds the rest of step n
    # plus one whole step more than with 0. An idle replica admits at once either way.
    schedule_ahead: int = 0


class Batch:
    """One step's work: which sequences run and how many tokens each computes."""

    __slots__ = (
        "attention_pairs",
        "decode_context",
        "decode_tokens",
        "duration_ms",
        "prefill_tokens",
        "progress",
        "sequences",
    )

    def __init__(self) -> None:
        self.sequences: list[Sequence] = []
        self.progress: list[int] = []  # tokens of KV each sequence computes in this step
        self.prefill_tokens = 0
        self.decode_tokens = 0
        self.decode_context = 0
        self.attention_pairs = 0
        self.duration_ms = 0.0

    def __len__(self) -> int:
        return len(self.sequences)


class ReplicaCounters:
    """Cumulative counts for metrics (read by telemetry and the virtual-time report)."""

    __slots__ = (
        "aborted",
        "batch_size_sum",
        "finished",
        "generated_tokens",
        "preemptions",
        "prefill_tokens",
        "rejected",
        "step_ms_sum",
        "steps",
        "timed_out",
    )

    def __init__(self) -> None:
        self.steps = 0
        self.step_ms_sum = 0.0
        self.batch_size_sum = 0
        self.preemptions = 0
        self.prefill_tokens = 0
        self.generated_tokens = 0
        self.finished = 0
        self.aborted = 0
        self.rejected = 0
        self.timed_out = 0


class Replica:
    """The state and step rule of one engine replica."""

    def __init__(self, index: int, settings: EngineSettings, step_model: StepTimeModel, rng: random.Random) -> None:
        self.index = index
        self.settings = settings
        self.step_model = step_model
        self.rng = rng
        self.kv = KvCache(settings.kv_blocks, settings.block_size, settings.prefix_caching)
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.counters = ReplicaCounters()
        self._watermark_blocks = int(settings.watermark * settings.kv_blocks)
        # Warm-up buckets already run (stepmodel.cold_bucket); None when warm-up is off or done.
        self._cold_seen: set[int] | None = set() if step_model.cold_shape_ms > 0 else None
        # Steps formed so far, and whether one is running (between schedule and complete):
        # what EngineSettings.schedule_ahead needs to date an arrival.
        self._formed = 0
        self._in_flight = False
        self.first_tokens: list[Sequence] = []  # those whose first token the last step applied sampled

    def warm_up(self) -> None:
        """Treat every step shape as already run: no warm-up cost from now on (a server that has served before)."""
        self._cold_seen = None

    # -- arrivals and departures ---------------------------------------------------------

    def fits(self, seq: Sequence) -> bool:
        """Whether ``seq`` could ever run here (its prompt and output fit in the whole cache)."""
        kv = self.kv
        need = kv.blocks_for(seq.prompt_tokens) + seq.width * kv.blocks_for(seq.target)
        # A decode step costs one token per choice: wider than the budget, it could never run.
        return need <= kv.total_blocks - self._watermark_blocks and seq.width <= self.settings.max_num_batched_tokens

    def enqueue(self, seq: Sequence) -> bool:
        """Queue ``seq``; False (and the sequence is marked rejected) if the queue is full or it never fits."""
        if len(self.waiting) >= self.settings.max_waiting or not self.fits(seq):
            seq.state = SeqState.REJECTED
            self.counters.rejected += 1
            return False
        seq.replica = self.index
        # Arriving while a step runs, it misses the batch the scheduler has already formed.
        seq.ready_step = self._formed + (self.settings.schedule_ahead if self._in_flight else 0)
        self.waiting.append(seq)
        return True

    def peek_cached_tokens(self, seq: Sequence) -> int:
        """Prompt tokens of ``seq`` the prefix cache holds right now (no side effect)."""
        kv = self.kv
        # Whole blocks only, and never the last prompt token (admission's rule, see _admit).
        return min(kv.cached_prefix(seq.hashes), (seq.prompt_tokens - 1) // kv.block_size) * kv.block_size

    def abort(self, seq: Sequence) -> None:
        """Remove ``seq`` wherever it is and free its blocks (a client that left)."""
        if seq.state is SeqState.WAITING:
            self.waiting.remove(seq)
            self._free(seq)
        elif seq.state is SeqState.RUNNING:
            self.running.remove(seq)
            self._free(seq)
        else:
            return
        seq.state = SeqState.ABORTED
        self.counters.aborted += 1

    def expire(self, now_ms: float) -> list[Sequence]:
        """Refuse the waiting sequences that waited longer than ``queue_timeout_ms`` (never started ones)."""
        timeout = self.settings.queue_timeout_ms
        if timeout <= 0 or not self.waiting:
            return []
        # Only sequences never admitted: one preempted back into the queue has started.
        expired = [s for s in self.waiting if s.cached_tokens < 0 and now_ms - s.arrival_ms > timeout]
        for seq in expired:
            self.waiting.remove(seq)
            self._free(seq)
            seq.state = SeqState.ABORTED
            self.counters.timed_out += 1
        return expired

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing running."""
        return not self.running and not self.waiting

    @property
    def load(self) -> int:
        """Requests in the replica (running plus waiting), for the least-loaded router."""
        return len(self.running) + len(self.waiting)

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` naming every broken invariant (tests and debugging; O(blocks)).

        Only running sequences hold blocks; private, shared, evictable and free blocks add up
        to the cache; reference counts match holders; nothing is both waiting and running; no
        sequence holds fewer blocks than its computed tokens need; the seat limit holds.
        """
        errors: list[str] = []
        private = 0
        holders: dict[int, int] = {}
        for seq in self.running:
            if seq.state is not SeqState.RUNNING:
                errors.append(f"sequence {seq.seq_id} is in the running list but {seq.state.name}")
            if seq.private < 0:
                errors.append(f"sequence {seq.seq_id} holds {seq.private} private blocks")
            if seq.held_blocks < self._blocks_needed(seq, seq.computed):
                errors.append(f"sequence {seq.seq_id} holds {seq.held_blocks} blocks for {seq.computed} tokens")
            if not 0 <= seq.generated <= seq.target:
                errors.append(f"sequence {seq.seq_id} generated {seq.generated} of {seq.target}")
            private += seq.private
            for h in seq.shared:
                holders[h] = holders.get(h, 0) + 1
        for seq in self.waiting:
            if seq.state is not SeqState.WAITING:
                errors.append(f"sequence {seq.seq_id} is in the queue but {seq.state.name}")
            if seq.private or seq.shared or seq.computed:
                errors.append(
                    f"waiting sequence {seq.seq_id} holds KV ({seq.private} private, "
                    f"{len(seq.shared)} shared, {seq.computed} computed)"
                )
        ids = [s.seq_id for s in self.running] + [s.seq_id for s in self.waiting]
        if len(ids) != len(set(ids)):
            errors.append("a sequence is queued or running twice")
        if len(self.running) > self.settings.max_num_seqs:
            errors.append(f"{len(self.running)} running > max_num_seqs {self.settings.max_num_seqs}")
        errors += self.kv.invariant_errors(private, holders)
        if errors:
            raise AssertionError("; ".join(errors))

    # -- one step ------------------------------------------------------------------------

    def _free(self, seq: Sequence) -> None:
        if seq.private or seq.shared:
            self.kv.release(seq.private, seq.shared)
        seq.private = 0
        seq.shared = []
        seq.registered = 0

    def _blocks_needed(self, seq: Sequence, computed: int) -> int:
        """Blocks ``seq`` holds once ``computed`` tokens have KV: prompt blocks plus each choice's output."""
        kv = self.kv
        prompt = seq.prompt_tokens
        if computed <= prompt:
            return kv.blocks_for(computed)
        return kv.blocks_for(prompt) + seq.width * kv.blocks_for(computed - prompt)

    def _preempt(self, seq: Sequence) -> None:
        """Recompute preemption: drop ``seq``'s KV and put it back at the head of the queue."""
        self.running.remove(seq)
        self._free(seq)
        seq.computed = 0
        seq.state = SeqState.WAITING
        seq.preemptions += 1
        self.counters.preemptions += 1
        self.waiting.appendleft(seq)

    def schedule(self) -> Batch | None:
        """Form the next step's batch (see the module docstring); None when there is nothing to run."""
        batch = Batch()
        budget = self.settings.max_num_batched_tokens
        kv = self.kv
        block_size = kv.block_size
        running = self.running
        preempted = self.counters.preemptions
        # The decode-only steady state is the hot path of a long virtual run: its sequences
        # are gathered into locals and written to the batch once, not through _add.
        sequences = batch.sequences
        progresses = batch.progress
        decode_tokens = 0
        decode_context = 0
        i = 0
        while i < len(running):
            seq = running[i]
            computed = seq.computed
            generated = seq.generated
            remaining = seq.prompt_tokens + generated - computed
            if remaining == 1 and generated > 0:  # decoding: one token per choice
                width = seq.width
                if width > budget:
                    i += 1
                    continue
                # Blocks cover the computed tokens (an invariant), so only a token that starts
                # a new output block can need room: skip the block arithmetic otherwise.
                if (computed - seq.prompt_tokens) % block_size == 0:
                    need = self._blocks_needed(seq, computed + 1) - seq.private - len(seq.shared)
                    if need > 0 and not self._make_room(seq, need):
                        continue  # seq preempted itself; running[i] is the next one
                budget -= width
                sequences.append(seq)
                progresses.append(1)
                decode_tokens += width
                decode_context += width * computed
                i += 1
                continue
            cost = min(remaining, budget)
            if cost <= 0:
                i += 1
                continue
            need = self._blocks_needed(seq, computed + cost) - seq.held_blocks
            if need > 0 and not self._make_room(seq, need):
                continue
            budget -= cost
            self._add(batch, seq, cost, False)
            i += 1
        batch.decode_tokens += decode_tokens
        batch.decode_context += decode_context
        # As vLLM v1: a step that had to preempt admits nothing (the room is too tight).
        if self.counters.preemptions == preempted:
            self._admit(batch, budget)
        if not batch.sequences:
            return None
        self._formed += 1
        self._in_flight = True
        return batch

    def _make_room(self, seq: Sequence, need: int) -> bool:
        """Give ``seq`` ``need`` more blocks, preempting the newest running ones first.

        False when even that is not enough: ``seq`` itself is then preempted (and waits).
        """
        kv = self.kv
        running = self.running
        while need > kv.available and running[-1] is not seq:
            self._preempt(running[-1])
        if need > kv.available:  # alone and still too big for what is left: wait for room
            self._preempt(seq)
            return False
        kv.allocate(need)
        seq.private += need
        return True

    def _admit(self, batch: Batch, budget: int) -> None:
        """Admit waiting sequences FCFS while seats, budget and blocks last."""
        kv = self.kv
        waiting = self.waiting
        running = self.running
        max_seqs = self.settings.max_num_seqs
        formed = self._formed
        while waiting and len(running) < max_seqs and budget > 0:
            seq = waiting[0]
            if seq.ready_step > formed and batch.sequences:
                break  # scheduled ahead without it (FCFS: later arrivals are no earlier)
            known = seq.known
            blocks = 0
            if seq.hashes and kv.prefix_caching:
                # At least one token must be computed to sample from, so never the whole prompt.
                blocks = min(kv.cached_prefix(seq.hashes), (known - 1) // kv.block_size)
            cached = blocks * kv.block_size
            if not self.settings.chunked_prefill and known - cached > budget and batch.prefill_tokens:
                break  # whole prompts only: this one waits for a step with room for all of it
            progress = min(known - cached, budget)
            need = self._blocks_needed(seq, cached + progress) - blocks
            # Reviving parked cached blocks takes room too; check before touching anything,
            # so a request that cannot start leaves the LRU order as it found it.
            parked = kv.parked_among(seq.hashes, blocks) if blocks else 0
            if need + parked > kv.available - self._watermark_blocks:
                break
            waiting.popleft()
            if blocks:
                kv.acquire_prefix(seq.hashes, blocks)
                seq.shared = list(seq.hashes[:blocks])
                seq.registered = blocks
            kv.allocate(need)
            seq.private = need
            seq.computed = cached
            if seq.cached_tokens < 0:
                seq.cached_tokens = cached
                kv.note_lookup(seq.prompt_tokens, cached)
            seq.state = SeqState.RUNNING
            running.append(seq)
            budget -= progress
            self._add(batch, seq, progress, False)

    @staticmethod
    def _add(batch: Batch, seq: Sequence, progress: int, decoding: bool) -> None:
        batch.sequences.append(seq)
        batch.progress.append(progress)
        if decoding:
            batch.decode_tokens += seq.width
            batch.decode_context += seq.width * seq.computed
        else:
            batch.prefill_tokens += progress
            batch.attention_pairs += progress * (seq.computed + progress // 2)

    def duration_ms(self, batch: Batch) -> float:
        """The step's duration (ms): the step-time model with this replica's seeded noise."""
        model = self.step_model
        base = model.duration_ms(
            batch.prefill_tokens, batch.decode_tokens, len(batch.sequences), batch.decode_context, batch.attention_pairs
        )
        factor, stall = model.noise(self.rng)
        duration = base * factor + stall
        seen = self._cold_seen
        if seen is not None:
            bucket = cold_bucket(batch.prefill_tokens + batch.decode_tokens)
            if bucket not in seen:
                seen.add(bucket)
                duration += model.cold_shape_ms
        batch.duration_ms = duration
        return duration

    def complete(self, batch: Batch, end_ms: float) -> tuple[list[Sequence], list[Sequence]]:
        """Apply the end of ``batch`` at ``end_ms``: (sequences that sampled a token, sequences that finished).

        A sequence aborted or preempted while the step ran gets nothing from it.
        """
        emitted: list[Sequence] = []
        finished: list[Sequence] = []
        self._in_flight = False
        self.first_tokens = []
        counters = self.counters
        counters.steps += 1
        counters.step_ms_sum += batch.duration_ms
        counters.batch_size_sum += len(batch.sequences)
        counters.prefill_tokens += batch.prefill_tokens
        block_size = self.kv.block_size
        prefix_caching = self.kv.prefix_caching
        running_state = SeqState.RUNNING
        tokens = 0
        for seq, progress in zip(batch.sequences, batch.progress, strict=True):
            if seq.state is not running_state:
                continue
            before = seq.computed
            computed = before + progress
            seq.computed = computed
            # Only a step that computed prompt tokens can complete a prompt block to share.
            if prefix_caching and before < seq.prompt_tokens and seq.registered < len(seq.hashes):
                self._register(seq, min(computed, seq.prompt_tokens) // block_size)
            generated = seq.generated
            if computed < seq.prompt_tokens + generated:
                continue  # a prefill chunk with more to come
            target = seq.target
            if generated < target:
                generated += 1
                seq.generated = generated
                tokens += seq.width
                if seq.first_token_ms < 0:
                    seq.first_token_ms = end_ms
                    self.first_tokens.append(seq)
                emitted.append(seq)
            if generated >= target:
                seq.state = SeqState.FINISHED
                seq.finish_ms = end_ms
                self._free(seq)
                finished.append(seq)
        counters.generated_tokens += tokens
        if finished:
            counters.finished += len(finished)
            self.running = [s for s in self.running if s.state is SeqState.RUNNING]
        return emitted, finished

    def _register(self, seq: Sequence, full_blocks: int) -> None:
        """Share the newly completed full prompt blocks of ``seq`` under their prefix hashes."""
        kv = self.kv
        upto = min(full_blocks, len(seq.hashes))
        for j in range(seq.registered, upto):
            h = seq.hashes[j]
            if kv.register(h):
                seq.private -= 1
                seq.shared.append(h)
        seq.registered = upto
