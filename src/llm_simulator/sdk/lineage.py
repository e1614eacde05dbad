"""``Lineage``: the conversation graph of ``GET /admin/lineage``, with the questions tests ask of it.

A plain view over the JSON (nodes and typed edges; see docs/adapters.md), so it works on a
graph fetched from any running simulator, or loaded from an export.
"""

from __future__ import annotations

from typing import Any

from llm_simulator.sdk._admin import Json


class Lineage:
    """Sessions, turns, tool calls and scenario steps, and the edges between them."""

    def __init__(self, graph: Json) -> None:
        self.raw = graph
        self.nodes: dict[str, dict[str, Any]] = {n["id"]: n for n in graph.get("nodes", []) if isinstance(n, dict)}
        self.edges: list[tuple[str, str, str]] = [
            (e["source"], e["target"], e["type"]) for e in graph.get("edges", []) if isinstance(e, dict)
        ]

    @property
    def sessions(self) -> list[str]:
        """Every session id."""
        return [s["id"] for s in self.raw.get("sessions", [])]

    def turns(self, session: str | None = None) -> list[dict[str, Any]]:
        """The turns (of one session), in order, each with ``id``, ``model``, ``endpoint``, ``status`` and ``seq``."""
        found = [n for n in self.nodes.values() if n.get("kind") == "turn" and session in (None, n.get("session"))]
        return sorted(found, key=lambda n: (str(n.get("session")), n.get("seq", 0)))

    def tool_calls(self, name: str | None = None) -> list[dict[str, Any]]:
        """The tool calls responses asked for (``name``: only those of that function)."""
        return [n for n in self.nodes.values() if n.get("kind") == "tool_call" and name in (None, n.get("name"))]

    def steps(self, session: str | None = None) -> list[tuple[str, int, str | None]]:
        """The scenario steps that answered the turns (of one session), in turn order: ``(scenario, index, name)``.

        Turns no scenario step answered are left out; a step a scenario repeats appears once per turn.
        """
        taken = {a: b for a, b, t in self.edges if t == "took_step"}
        found = []
        for turn in self.turns(session):
            step = self.nodes.get(taken.get(str(turn["id"]), ""))
            if step is not None:
                found.append((str(step["scenario"]), int(step["index"]), step.get("name")))
        return found

    def _turn_seq(self, node: str) -> int:
        return int(self.nodes.get(node, {}).get("seq", 0))

    def result_passed_back(self, name: str | None = None, call_id: str | None = None) -> bool:
        """Whether a tool call (by function ``name`` or ``call_id``) had its result sent in a *later* turn.

        "The agent passed the tool result back before its next call": the call was requested
        by turn N's response, and a request of turn M > N carried its result.
        """
        for node_id, node in self.nodes.items():
            if node.get("kind") != "tool_call" or (name is not None and node.get("name") != name):
                continue
            if call_id is not None and node.get("call_id") != call_id:
                continue
            asked = [self._turn_seq(a) for a, b, t in self.edges if t == "requested" and b == node_id]
            passed = [self._turn_seq(b) for a, b, t in self.edges if t == "result_in" and a == node_id]
            if asked and any(p > min(asked) for p in passed):
                return True
        return False

    def edges_of(self, kind: str) -> list[tuple[str, str]]:
        """(source, target) of every edge of type ``kind`` (has_turn, next, continues, requested, …)."""
        return [(a, b) for a, b, t in self.edges if t == kind]
