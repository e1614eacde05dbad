"""Chaos engineering: rules, scenarios, presets, circuit breaker, and the controller that applies them."""
