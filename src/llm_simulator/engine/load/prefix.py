"""Prefix hashes of a prompt's KV blocks, for the prefix cache.

A real engine hashes each full block of prompt token ids, chained to the block before, so
two prompts share cached blocks exactly as far as their token ids agree. The simulator
does not keep token ids, so it chains at message granularity: block ``j`` gets a hash of
(everything up to the first message that completes it, ``j``). Two prompts then share
the blocks that lie entirely within their common leading messages — a shared system
prompt, the earlier turns of a chat — and none past the first message that differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llm_simulator.core.types import Message

# Tokens of framing a chat template adds around each message (role markers, separators).
MESSAGE_OVERHEAD_TOKENS = 4


def prefix_hashes(
    messages: Sequence[Message],
    count: Callable[[str], int],
    block_size: int,
    *,
    prompt_tokens: int,
    salt: object = None,
    cacheable_tokens: int | None = None,
) -> tuple[int, ...]:
    """The hash of every full block of the prompt's cacheable prefix.

    ``salt`` separates caches that must not share (another model, another tools list).
    ``cacheable_tokens`` stops the hashes there (Anthropic caches only up to a
    ``cache_control`` breakpoint); by default every full block of ``prompt_tokens`` counts.
    Blocks that end past the last message (the tools and framing the prompt count includes
    beyond the messages) take the last message's chain.
    """
    limit = prompt_tokens if cacheable_tokens is None else min(cacheable_tokens, prompt_tokens)
    full_blocks = limit // block_size
    if full_blocks == 0:
        return ()
    hashes: list[int] = []
    chain = hash(("prefix", salt))
    end = 0  # tokens covered by the messages chained so far
    for message in messages:
        chain = hash((chain, message.role, message.name, message.text))
        end += count(message.text) + MESSAGE_OVERHEAD_TOKENS
        while len(hashes) < full_blocks and (len(hashes) + 1) * block_size <= end:
            hashes.append(hash((chain, len(hashes))))
        if len(hashes) >= full_blocks:
            break
    while len(hashes) < full_blocks:
        hashes.append(hash((chain, len(hashes))))
    return tuple(hashes)
