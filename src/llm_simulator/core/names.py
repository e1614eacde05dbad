"""Names shared across the layers: the providers, and the event types of telemetry's schema.

Kept here, below ``config``, so the configuration schema, telemetry, the engine's fixtures
and chaos filters all spell them from one place.
"""

from __future__ import annotations

from typing import Literal

# The vendor APIs the simulator speaks.
Provider = Literal["openai", "anthropic", "gemini"]
PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "gemini")

# The event types of schema ``llm_simulator.event/v1`` (telemetry/events.py emits them).
RECEIVED = "request.received"
FIRST_TOKEN = "request.first_token"
COMPLETED = "request.completed"
FAILED = "request.failed"
CHAOS_INJECTED = "chaos.injected"
RATE_LIMITED = "rate_limit.rejected"
EVENT_TYPES = (RECEIVED, FIRST_TOKEN, COMPLETED, FAILED, CHAOS_INJECTED, RATE_LIMITED)
