"""Names shared across the layers: the providers the simulator speaks.

Kept here, below ``config``, so the configuration schema, the engine's fixtures and chaos
filters all spell them from one place. The event type names of telemetry's schema live
beside them in ``core/event_types.py``.
"""

from __future__ import annotations

from typing import Literal

# The vendor APIs the simulator speaks.
# ``bedrock`` is AWS Bedrock's runtime API (Converse and InvokeModel for every model family).
Provider = Literal["openai", "anthropic", "gemini", "ollama", "bedrock"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "gemini", "ollama", "bedrock")
