"""A simulator config with slow models, for tests that time batch and background work.

``slow-gpt`` (OpenAI) and ``slow-claude`` (Anthropic) wait a fixed ``TTFT_S`` before their
first token and nothing between tokens, so a request takes ``TTFT_S`` uncompressed.
"""

from __future__ import annotations

from typing import Any

CHAT = "slow-gpt"
CLAUDE = "slow-claude"
TTFT_S = 1.5
SLOW: dict[str, Any] = {
    "latency.enabled": True,
    "latency.profiles": {
        "slow": {"ttft": {"type": "fixed", "value_ms": TTFT_S * 1000}, "itl": {"type": "fixed", "value_ms": 0}}
    },
    "models.add": [
        {"id": CHAT, "provider": "openai", "latency_profile": "slow"},
        {"id": CLAUDE, "provider": "anthropic", "latency_profile": "slow"},
    ],
}
