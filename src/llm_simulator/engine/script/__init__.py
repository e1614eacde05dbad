"""Scripted fixtures: rules and multi-step scenarios that answer matching requests.

A rule answers every request meeting its ``match`` with fixed text, tool calls, JSON, an
error and/or a delay; a scenario plays its steps, one per request, to each conversation
(session) it applies to. The planner turns a scripted reply into an ordinary plan, so every
provider streams and renders it like generated output. See ``docs/fixtures.md``.
"""

from llm_simulator.engine.script.conversation import Conversation
from llm_simulator.engine.script.loader import FixtureError, fixtures_from_data, load_fixture_file, parse_fixtures
from llm_simulator.engine.script.model import FixtureSet, Match, Respond, Rule, Scenario, Step
from llm_simulator.engine.script.registry import DEFAULT_SESSION_HEADER, Script

__all__ = [
    "DEFAULT_SESSION_HEADER",
    "Conversation",
    "FixtureError",
    "FixtureSet",
    "Match",
    "Respond",
    "Rule",
    "Scenario",
    "Script",
    "Step",
    "fixtures_from_data",
    "load_fixture_file",
    "parse_fixtures",
]
