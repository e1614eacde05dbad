"""The lineage graph: sessions, turns and tool calls, with typed edges, bounded in memory.

Nodes (``id``, ``kind`` and attributes):

- ``session`` — one conversation (``session:<id>``);
- ``turn`` — one request and its response (``turn:<request id>``: endpoint, model, status,
  response id, wall time, sequence in the session);
- ``tool_call`` — a tool call a response asked for (``tool:<session>:<call id>``: name);
- ``scenario_step`` — a step of a scripted scenario that answered a turn
  (``step:<session>:<scenario>:<index>``: scenario, index from 0, name).

Edges (``source``, ``target``, ``type``):

- ``has_turn`` session → turn; ``next`` turn → the session's following turn;
- ``continues`` turn → the turn whose response its ``previous_response_id`` names;
- ``requested`` turn → tool_call (its response asked for the call);
- ``result_in`` tool_call → turn (the call's result was passed back in that request);
- ``took_step`` turn → scenario_step (the step's scripted reply answered the turn; a step a
  scenario repeats has one node and an edge from each turn it answered).

At most ``max_sessions`` sessions are kept (the least recently active is dropped whole) and
``max_turns`` turns per session (the oldest turns drop; the session's counters keep counting).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from llm_simulator.adapters.lineage.extract import Exchange


@dataclass
class Session:
    """One conversation's part of the graph."""

    id: str
    how: str  # header, chain, opening, imported
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    turns: list[str] = field(default_factory=list)
    total_turns: int = 0


class LineageGraph:
    """Every recorded session of one worker (not thread-safe: the event loop's only)."""

    def __init__(self, max_sessions: int, max_turns: int) -> None:
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self._by_opening: dict[str, str] = {}
        self._by_response: dict[str, tuple[str, str]] = {}  # response id → (session, turn node)
        self.dropped_sessions = 0

    def clear(self) -> None:
        """Forget every session."""
        self.sessions.clear()
        self._by_opening.clear()
        self._by_response.clear()

    def session_for(self, header_id: str | None, found: Exchange) -> tuple[str, str]:
        """The session an exchange belongs to, and how it was known (header, chain, opening, new)."""
        if header_id:
            return header_id, "header"
        if found.previous_response_id and found.previous_response_id in self._by_response:
            return self._by_response[found.previous_response_id][0], "chain"
        if found.opening and found.opening in self._by_opening:
            return self._by_opening[found.opening], "opening"
        return (f"s-{found.opening}" if found.opening else ""), "new"

    def _session(self, sid: str, how: str) -> Session:
        session = self.sessions.get(sid)
        if session is None:
            session = self.sessions[sid] = Session(sid, how)
            session.nodes[f"session:{sid}"] = {"kind": "session", "how": how}
            while len(self.sessions) > self.max_sessions:
                _, old = self.sessions.popitem(last=False)
                self.forget(old)
                self.dropped_sessions += 1
        self.sessions.move_to_end(sid)
        return session

    def forget(self, session: Session) -> None:
        """Drop the indexes pointing into ``session`` (after removing it)."""
        self._by_opening = {k: v for k, v in self._by_opening.items() if v != session.id}
        self._by_response = {k: v for k, v in self._by_response.items() if v[0] != session.id}

    def record(self, sid: str, how: str, turn_id: str, found: Exchange, attrs: Mapping[str, Any]) -> None:
        """Add one turn (and its tool calls and results) to session ``sid``."""
        session = self._session(sid, how)
        node = f"turn:{turn_id}"
        session.total_turns += 1
        session.nodes[node] = {"kind": "turn", "seq": session.total_turns, **attrs}
        if found.response_id:
            session.nodes[node]["response_id"] = found.response_id
            self._by_response[found.response_id] = (sid, node)
        edges = session.edges
        edges.append((f"session:{sid}", node, "has_turn"))
        if session.turns:
            edges.append((session.turns[-1], node, "next"))
        if found.previous_response_id and found.previous_response_id in self._by_response:
            edges.append((node, self._by_response[found.previous_response_id][1], "continues"))
        for result in found.results:
            call = f"tool:{sid}:{result.call_id}"
            if call not in session.nodes:  # a result for a call this graph never saw (primed, or dropped)
                session.nodes[call] = {"kind": "tool_call", "name": result.name, "seen_call": False}
            edges.append((call, node, "result_in"))
        for ref in found.calls:
            call = f"tool:{sid}:{ref.call_id}"
            session.nodes[call] = {"kind": "tool_call", "name": ref.name, "call_id": ref.call_id, "seen_call": True}
            edges.append((node, call, "requested"))
        if found.step is not None:
            step = found.step
            step_node = f"step:{sid}:{step.scenario}:{step.index}"
            session.nodes[step_node] = {
                "kind": "scenario_step",
                "scenario": step.scenario,
                "index": step.index,
                "name": step.name,
            }
            edges.append((node, step_node, "took_step"))
        session.turns.append(node)
        if found.opening:
            self._by_opening.setdefault(found.opening, sid)
        while len(session.turns) > self.max_turns:
            self._drop_turn(session, session.turns.pop(0))

    def _drop_turn(self, session: Session, node: str) -> None:
        session.nodes.pop(node, None)
        session.edges = [e for e in session.edges if node not in (e[0], e[1])]

    # -- import and export --------------------------------------------------------------------------

    def prime(self, doc: Mapping[str, Any]) -> int:
        """Add an exported graph (``as_json``'s shape) as history; the sessions added. Raises ``ValueError``."""
        nodes, edges = doc.get("nodes"), doc.get("edges")
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise ValueError("expected {nodes: [...], edges: [...]}")
        by_id: dict[str, dict[str, Any]] = {}
        for i, item in enumerate(nodes):
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item.get("session"):
                raise ValueError(f"nodes[{i}]: needs a string id and a session")
            by_id[item["id"]] = dict(item)
        added: set[str] = set()
        for item in by_id.values():
            sid = str(item["session"])
            session = self._session(sid, "imported")
            added.add(sid)
            attrs = {k: v for k, v in item.items() if k not in ("id", "session")}
            session.nodes[item["id"]] = attrs
            if attrs.get("kind") == "turn":
                session.turns.append(item["id"])
                session.total_turns += 1
                if isinstance(attrs.get("response_id"), str):
                    self._by_response[attrs["response_id"]] = (sid, item["id"])
        for i, edge in enumerate(edges):
            if not isinstance(edge, Mapping) or not {"source", "target", "type"} <= set(edge):
                raise ValueError(f"edges[{i}]: needs source, target and type")
            source = by_id.get(str(edge["source"]))
            if source is None:
                raise ValueError(f"edges[{i}]: source {edge['source']!r} is not a node")
            self.sessions[str(source["session"])].edges.append(
                (str(edge["source"]), str(edge["target"]), str(edge["type"]))
            )
        return len(added)

    def select(self, session: str | None) -> list[Session]:
        """One session (none when unknown), or all of them."""
        if session is None:
            return list(self.sessions.values())
        found = self.sessions.get(session)
        return [found] if found is not None else []

    @staticmethod
    def as_json(sessions: Iterable[Session]) -> dict[str, Any]:
        """``{sessions: [{id, how, turns}], nodes: [{id, session, kind, …}], edges: [{source, target, type}]}``."""
        chosen = list(sessions)
        return {
            "sessions": [{"id": s.id, "how": s.how, "turns": s.total_turns} for s in chosen],
            "nodes": [{"id": nid, "session": s.id, **attrs} for s in chosen for nid, attrs in s.nodes.items()],
            "edges": [{"source": a, "target": b, "type": t} for s in chosen for a, b, t in s.edges],
        }

    @staticmethod
    def as_dot(sessions: Iterable[Session]) -> str:
        """Graphviz DOT: one cluster per session, nodes shaped by kind, edges labelled by type."""
        shapes = {"session": "folder", "turn": "box", "tool_call": "ellipse", "scenario_step": "note"}
        lines = ["digraph lineage {", "  rankdir=LR;"]
        for i, s in enumerate(sessions):
            lines.append(f"  subgraph cluster_{i} {{ label={_dot(s.id)};")
            for nid, attrs in s.nodes.items():
                kind = str(attrs.get("kind", ""))
                label = attrs.get("model") or attrs.get("name") or nid
                lines.append(f"    {_dot(nid)} [shape={shapes.get(kind, 'plain')}, label={_dot(str(label))}];")
            lines.append("  }")
            lines.extend(f"  {_dot(a)} -> {_dot(b)} [label={_dot(t)}];" for a, b, t in s.edges)
        lines.append("}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def as_graphml(sessions: Iterable[Session]) -> str:
        """GraphML with ``kind``, ``session``, ``label`` node keys and a ``type`` edge key."""
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
            '  <key id="kind" for="node" attr.name="kind" attr.type="string"/>',
            '  <key id="session" for="node" attr.name="session" attr.type="string"/>',
            '  <key id="label" for="node" attr.name="label" attr.type="string"/>',
            '  <key id="type" for="edge" attr.name="type" attr.type="string"/>',
            '  <graph id="lineage" edgedefault="directed">',
        ]
        for s in sessions:
            for nid, attrs in s.nodes.items():
                label = attrs.get("model") or attrs.get("name") or ""
                out.append(
                    f'    <node id={quoteattr(nid)}><data key="kind">{escape(str(attrs.get("kind", "")))}</data>'
                    f'<data key="session">{escape(s.id)}</data><data key="label">{escape(str(label))}</data></node>'
                )
            for a, b, t in s.edges:
                out.append(
                    f'    <edge source={quoteattr(a)} target={quoteattr(b)}><data key="type">{escape(t)}</data></edge>'
                )
        out += ["  </graph>", "</graphml>"]
        return "\n".join(out) + "\n"


def _dot(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
