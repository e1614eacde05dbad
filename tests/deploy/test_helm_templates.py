"""The Helm chart's files, read without Helm: values, template structure, helpers and files.

This runs everywhere (tests/deploy/test_helm_chart.py renders the chart with Helm itself when
its dev dependency is installed): every ``.Values`` path a template reads is declared and
documented in values.yaml, every value is read somewhere, actions and blocks are balanced,
and every helper and file a template names exists.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.known import ROOT

CHART = ROOT / "deploy" / "helm" / "llm-simulator"
TEMPLATES = sorted((CHART / "templates").iterdir())
# The templates a Kubernetes deployment needs (issue 18 item 6), each its own file.
REQUIRED = {
    "deployment.yaml",
    "service.yaml",
    "configmap.yaml",
    "secret.yaml",
    "hpa.yaml",
    "pdb.yaml",
    "servicemonitor.yaml",
    "redis.yaml",
}
_ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.DOTALL)
_VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_OPENS = re.compile(r"^\s*(if|range|with|define)\b")


def _values() -> dict[str, Any]:
    loaded = yaml.safe_load((CHART / "values.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _text() -> dict[str, str]:
    return {path.name: path.read_text() for path in TEMPLATES}


def _actions(text: str) -> list[str]:
    # Comments ({{/* … */}}) are actions too, but say nothing.
    return [a.strip() for a in _ACTION.findall(text) if not a.strip().startswith("/*")]


def test_the_chart_has_every_template_the_deployment_needs() -> None:
    assert set(_text()) >= REQUIRED
    assert all(p.suffix in (".yaml", ".tpl", ".txt") for p in TEMPLATES)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == CHART.name and chart["type"] == "application"


@pytest.mark.parametrize("name", [p.name for p in TEMPLATES])
def test_actions_and_blocks_are_balanced(name: str) -> None:
    text = _text()[name]
    assert text.count("{{") == text.count("}}"), name
    depth = 0
    for action in _actions(text):
        if _OPENS.match(action):
            depth += 1
        elif re.match(r"^end\b", action):
            depth -= 1
            assert depth >= 0, f"{name}: an end without a block"
        elif re.match(r"^(else)\b", action):
            assert depth > 0, f"{name}: else outside a block"
    assert depth == 0, f"{name}: {depth} block(s) left open"


def _lookup(values: dict[str, Any], path: str) -> bool:
    node: Any = values
    for part in path.strip(".").split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_value_a_template_reads_is_declared_and_every_value_is_read() -> None:
    values = _values()
    read = {match for text in _text().values() for match in _VALUES_PATH.findall(text)}
    assert len(read) >= 30
    undeclared = sorted(path for path in read if not _lookup(values, path))
    assert not undeclared, f"templates read values that values.yaml does not declare: {undeclared}"
    used_tops = {path.strip(".").split(".")[0] for path in read}
    assert set(values) == used_tops, f"declared but never read: {set(values) - used_tops}"


def test_every_top_level_value_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[A-Za-z]", line):
            above = lines[number - 1] if number else ""
            assert above.startswith("#"), f"values.yaml: {line.split(':')[0]} has no comment above it"


def test_every_helper_and_file_a_template_names_exists() -> None:
    texts = _text()
    defined = set(re.findall(r'define\s+"([^"]+)"', texts["_helpers.tpl"]))
    included = {name for text in texts.values() for name in re.findall(r'include\s+"([^"]+)"', text)}
    assert included and included <= defined, included - defined
    files = {name for text in texts.values() for name in re.findall(r'\.Files\.Get\s+"([^"]+)"', text)}
    assert files == {"files/drain.py"}
    for name in files:
        assert (CHART / name).is_file(), name
    # Toggles wrap their whole template, so a disabled one renders nothing.
    for name, toggle in [
        ("hpa.yaml", "autoscaling.enabled"),
        ("pdb.yaml", "podDisruptionBudget.enabled"),
        ("servicemonitor.yaml", "serviceMonitor.enabled"),
        ("redis.yaml", "redis.enabled"),
    ]:
        assert texts[name].startswith(f"{{{{- if .Values.{toggle} }}}}"), name
        assert texts[name].rstrip().endswith("{{- end }}"), name
