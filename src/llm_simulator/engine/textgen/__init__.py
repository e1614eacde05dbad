"""Text generation strategies: each produces text as one-token units."""
