"""The event type names of schema ``llm_simulator.event/v1`` (documented in docs/events.md).

Defined here, below every layer that names them: ``config`` validates a sink's ``events``
filter against them, ``telemetry`` emits them, and the request record announces the first
token with one.
"""

from __future__ import annotations

SCHEMA = "llm_simulator.event/v1"

RECEIVED = "request.received"
FIRST_TOKEN = "request.first_token"
COMPLETED = "request.completed"
FAILED = "request.failed"
CHAOS_INJECTED = "chaos.injected"
RATE_LIMITED = "rate_limit.rejected"
ROUTER_DECISION = "router.decision"
# A worker's runtime state changed (not tied to a request).
SERVER_STATE = "server.state"
EVENT_TYPES = (
    RECEIVED,
    FIRST_TOKEN,
    COMPLETED,
    FAILED,
    CHAOS_INJECTED,
    RATE_LIMITED,
    ROUTER_DECISION,
    SERVER_STATE,
)

# The states ``server.state`` reports, in the order a worker passes through them.
INITIALISING = "initialising"
READY = "ready"
DRAINING = "draining"
STOPPED = "stopped"
