"""Latency distributions, named profiles and the per-request sampled timing model."""
