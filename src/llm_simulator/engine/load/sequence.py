"""One request inside a simulated engine: its prompt, its progress and the KV blocks it holds."""

from __future__ import annotations

import enum
from typing import Any


class SeqState(enum.IntEnum):
    """Where a sequence is in its life."""

    WAITING = 0
    RUNNING = 1
    FINISHED = 2
    ABORTED = 3  # the client left, or its wait timed out
    REJECTED = 4  # never admitted: the queue was full or it can never fit


class Sequence:
    """A request as the engine sees it.

    Token bookkeeping follows a real engine: ``computed`` counts tokens whose KV exists
    (prompt, then generated ones); a token can be sampled once every known token (prompt
    plus those generated so far) is computed. So a fresh sequence first prefills its prompt
    (in chunks), samples its first token at the end of the step that computes the last
    prompt token, then decodes one token per step. A preempted sequence loses its KV and
    recomputes prompt and output before it samples again (vLLM's recompute preemption).
    """

    __slots__ = (
        "arrival_ms",
        "cached_tokens",
        "computed",
        "finish_ms",
        "first_token_ms",
        "generated",
        "hashes",
        "listener",
        "preemptions",
        "private",
        "prompt_tokens",
        "ready_step",
        "registered",
        "replica",
        "seq_id",
        "shared",
        "state",
        "target",
        "width",
    )

    def __init__(
        self,
        seq_id: int,
        prompt_tokens: int,
        target: int,
        arrival_ms: float,
        *,
        width: int = 1,
        hashes: tuple[int, ...] = (),
    ) -> None:
        self.seq_id = seq_id
        self.prompt_tokens = max(1, prompt_tokens)  # an engine always runs at least one token
        self.target = max(0, target)  # decode steps to run (tokens sampled)
        self.width = max(1, width)  # parallel choices (n): decoded side by side
        self.hashes = hashes  # prefix hash of each full prompt block, in order
        self.arrival_ms = arrival_ms
        self.state = SeqState.WAITING
        self.computed = 0
        self.generated = 0
        self.private = 0  # blocks owned by this sequence alone
        self.shared: list[int] = []  # prefix hashes of cached blocks it holds a reference on
        self.registered = 0  # leading prompt blocks already shared (acquired or registered)
        self.cached_tokens = -1  # prompt tokens found cached at its first admission (-1: not yet)
        self.first_token_ms = -1.0
        self.finish_ms = -1.0
        self.preemptions = 0
        self.replica = -1
        # The first step (the replica's count of formed steps) it may join; see EngineSettings.schedule_ahead.
        self.ready_step = 0
        # Whoever waits on this sequence (the live timeline); the engine only passes it along.
        self.listener: Any = None

    @property
    def known(self) -> int:
        """Tokens whose KV must exist before the next token can be sampled."""
        return self.prompt_tokens + self.generated

    @property
    def done(self) -> bool:
        """Whether the sequence will produce nothing more."""
        return self.state >= SeqState.FINISHED

    @property
    def held_blocks(self) -> int:
        """Blocks this sequence holds (private and shared)."""
        return self.private + len(self.shared)
