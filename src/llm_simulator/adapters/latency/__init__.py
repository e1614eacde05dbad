"""The latency lens: measured latency (benchmark exports) → sampled profiles, and back (comparison)."""
