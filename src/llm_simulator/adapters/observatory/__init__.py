"""The observatory: trace spans of real LLM calls turned into the simulator's behaviour."""
