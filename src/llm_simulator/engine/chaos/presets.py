"""Named chaos presets: ready-made rule sets for the common resilience tests.

Each preset is plain ``ChaosRule`` data, the same as rules from a config file, so
``chaos status`` shows exactly what a preset does.
"""

from __future__ import annotations

from llm_simulator.config.chaos import ChaosRule, StreamFaultSpec

PRESETS: dict[str, tuple[ChaosRule, ...]] = {
    # 5 % of requests time out: a 504 after 5 s, as a gateway in front of a stuck model answers.
    "intermittent_timeouts": (
        ChaosRule(name="intermittent_timeouts", error_type="timeout", probability=0.05, delay_ms=5000),
    ),
    # A third of requests hit a rate limit with a one-second retry hint.
    "rate_limit_stress": (
        ChaosRule(name="rate_limit_stress", error_type="rate_limit", probability=0.3, retry_after_s=1.0),
    ),
    # Every response three times slower (TTFT and ITL), with a slow first byte on one in ten.
    "high_latency": (
        ChaosRule(
            name="high_latency_first_byte",
            probability=0.1,
            latency_multiplier=3.0,
            stream_fault=StreamFaultSpec(type="slow_first_byte", duration_ms=2000),
        ),
        ChaosRule(name="high_latency", latency_multiplier=3.0),
    ),
    # 25 % server errors and 10 % unavailable: one weighted draw, so both rates are exact.
    "partial_outage": (
        ChaosRule(name="partial_outage", probability=0.35, error_mix={"server_error": 25.0, "unavailable": 10.0}),
    ),
    "full_outage": (ChaosRule(name="full_outage", error_type="unavailable"),),
}

# What ``serve --chaos`` does without rules: realistic failures in the proportions seen from
# busy hosted APIs (mostly rate limits, then overloads and server errors); the global
# probability sets how often one strikes.
# Its global probability unless one is set: one request in ten fails.
DEFAULT_MIX_PROBABILITY = 0.1
DEFAULT_MIX = ChaosRule(name="default_mix", error_mix={"rate_limit": 0.5, "server_error": 0.25, "overloaded": 0.25})


def preset_rules(name: str) -> tuple[ChaosRule, ...]:
    """The rules of preset ``name`` (KeyError if unknown; config validation names them)."""
    return PRESETS[name]
