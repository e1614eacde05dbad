"""Foundations shared by every layer: clocks and seeded randomness."""
