"""The engine: tokenizer, text generation, latency, scheduling and simulation. No HTTP."""
