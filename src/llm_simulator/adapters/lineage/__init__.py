"""Conversation lineage: a bounded graph of sessions, turns, response chains and tool calls."""
