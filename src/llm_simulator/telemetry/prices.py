"""Per-model list prices for the simulated cost (``llm_simulator_cost_dollars_total``).

Approximate public list prices in US dollars per million tokens (standard tier, no caching
or batch discounts) as the vendors published them; the newest and fictional catalogue
entries take their family's price. Override or extend with ``telemetry.metrics.prices``.
Patterns are tried in order: exact ids first, then globs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from llm_simulator.config.telemetry import Price

# (pattern, input $/Mtok, output $/Mtok); the first match wins, so specific before general.
BUILTIN_PRICES: tuple[tuple[str, float, float], ...] = (
    ("gpt-3.5-turbo-instruct*", 1.50, 2.00),
    ("davinci-002", 2.00, 2.00),
    ("babbage-002", 0.40, 0.40),
    ("gpt-3.5-turbo*", 0.50, 1.50),
    ("gpt-4o-mini*", 0.15, 0.60),
    # Realtime models: their text-token prices (audio tokens cost more, not modelled here).
    ("gpt-realtime-mini*", 0.60, 2.40),
    ("gpt-realtime*", 4.00, 16.00),
    ("gpt-4o*", 2.50, 10.00),
    ("gpt-4-turbo*", 10.00, 30.00),
    ("gpt-4.1-nano*", 0.10, 0.40),
    ("gpt-4.1-mini*", 0.40, 1.60),
    ("gpt-4.1*", 2.00, 8.00),
    ("gpt-4", 30.00, 60.00),
    ("gpt-5*-nano*", 0.05, 0.40),
    ("gpt-5*-mini*", 0.25, 2.00),
    ("gpt-5*-pro*", 15.00, 120.00),
    ("gpt-5*", 1.25, 10.00),
    ("o1*", 15.00, 60.00),
    ("o3-mini*", 1.10, 4.40),
    ("o4-mini*", 1.10, 4.40),
    ("o3*", 2.00, 8.00),
    ("text-embedding-3-small", 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.0),
    ("text-embedding-ada-002", 0.10, 0.0),
    ("claude-3-haiku*", 0.25, 1.25),
    ("claude-3-5-haiku*", 0.80, 4.00),
    ("claude-haiku*", 1.00, 5.00),
    ("claude-3-opus*", 15.00, 75.00),
    ("claude-opus-4-2*", 15.00, 75.00),
    ("claude-opus-4-1*", 15.00, 75.00),
    ("claude-opus-4-0*", 15.00, 75.00),
    ("claude-opus*", 5.00, 25.00),
    ("claude-*sonnet*", 3.00, 15.00),
    ("claude*", 3.00, 15.00),
    ("gemini-1.5-flash*", 0.075, 0.30),
    ("gemini-1.5-pro*", 1.25, 5.00),
    ("gemini-2.0-flash-lite*", 0.075, 0.30),
    ("gemini-2.0-flash*", 0.10, 0.40),
    ("gemini-*flash-lite*", 0.10, 0.40),
    ("gemini-2.5-flash*", 0.30, 2.50),
    ("gemini-2.5-pro*", 1.25, 10.00),
    ("gemini-*-pro*", 2.00, 12.00),
    ("gemini-*flash*", 0.50, 3.00),
    ("gemini-embedding*", 0.15, 0.0),
    ("text-embedding-004", 0.0, 0.0),
)


class PriceTable:
    """Looks up a model's price: configured prices first (exact ids), then the built-in globs."""

    def __init__(self, configured: Mapping[str, Price]) -> None:
        self._configured = {model: (p.input_per_mtok, p.output_per_mtok) for model, p in configured.items()}
        self._memo: dict[str, tuple[float, float]] = {}

    def per_mtok(self, model: str) -> tuple[float, float]:
        """(input, output) dollars per million tokens; (0, 0) for an unknown model."""
        found = self._memo.get(model)
        if found is None:
            found = self._configured.get(model) or _builtin(model)
            if len(self._memo) < 10_000:  # ids come from requests: bound the memo
                self._memo[model] = found
        return found

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """Dollars for one request: (input × input price + output × output price) / 10⁶."""
        price_in, price_out = self.per_mtok(model)
        return (input_tokens * price_in + output_tokens * price_out) / 1_000_000


def _builtin(model: str) -> tuple[float, float]:
    for pattern, price_in, price_out in BUILTIN_PRICES:
        if pattern == model or fnmatch.fnmatchcase(model, pattern):
            return price_in, price_out
    return 0.0, 0.0
