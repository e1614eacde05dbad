"""The other-language recipes of examples/ run as documented (docs/testing.md, "Other languages").

- ``examples/node/agent.test.mjs`` under ``node --test`` (built-in runner and fetch: no network),
  skipped only when node is missing;
- ``examples/node/openai-sdk.test.mjs`` with the official ``openai`` npm package, installed
  into a temporary directory once per session; skipped when npm cannot reach its registry;
- the composite action's ``start.sh`` starts a server, waits for ``/health`` and exports the
  URLs to ``$GITHUB_ENV``; the workflow and action files are valid YAML naming it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from llm_simulator.testing.server import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NODE = shutil.which("node")
NPM = shutil.which("npm")
# The simulator as the recipes start it: this interpreter's console script, this checkout's code.
BIN = Path(sys.executable).with_name("llm-simulator")
OPENAI_NPM = "openai@5"
NPM_TIMEOUT_S = 120


def recipe_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_SIMULATOR_")}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    env["SIMULATOR_BIN"] = str(BIN)
    env.update(extra)
    return env


pytestmark = pytest.mark.skipif(not BIN.exists(), reason="the llm-simulator console script is not installed")


def run_node_tests(test_file: str, cwd: Path, passed: int) -> None:
    """``node --test test_file`` in ``cwd`` passes exactly ``passed`` tests."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--test", test_file],
        cwd=cwd,
        env=recipe_env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"# pass {passed}" in done.stdout and "# fail 0" in done.stdout


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_test_runner_recipe() -> None:
    run_node_tests("agent.test.mjs", EXAMPLES / "node", passed=4)


@pytest.fixture(scope="session")
def openai_npm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the official ``openai`` npm package installed (skips without a registry)."""
    if NODE is None or NPM is None:
        pytest.skip("node/npm are not installed")
    root = tmp_path_factory.mktemp("node-openai")
    try:
        done = subprocess.run(
            [NPM, "install", "--no-audit", "--no-fund", "--silent", OPENAI_NPM],
            cwd=root,
            check=False,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {OPENAI_NPM} took over {NPM_TIMEOUT_S} s (no registry?)")
    if done.returncode != 0:
        pytest.skip(f"npm cannot install {OPENAI_NPM} (no registry?): {done.stderr[-300:]}")
    return root


def test_official_openai_npm_package_recipe(openai_npm: Path) -> None:
    for name in ("simulator.mjs", "openai-sdk.test.mjs"):
        shutil.copy(EXAMPLES / "node" / name, openai_npm / name)  # next to its node_modules
    run_node_tests("openai-sdk.test.mjs", openai_npm, passed=3)


def test_the_composite_action_start_script(tmp_path: Path) -> None:
    port = free_port()
    github_env = tmp_path / "github_env"
    pid_file = tmp_path / "pid"
    env = recipe_env(
        SIMULATOR_PORT=str(port),
        SIMULATOR_ARGS="--no-latency --seed 1",
        SIMULATOR_LOG=str(tmp_path / "log"),
        SIMULATOR_PID_FILE=str(pid_file),
        GITHUB_ENV=str(github_env),
    )
    script = EXAMPLES / "ci" / "llm-simulator-action" / "start.sh"
    done = subprocess.run(["bash", str(script)], env=env, check=False, capture_output=True, text=True, timeout=60)
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        url = f"http://127.0.0.1:{port}"
        assert f"OPENAI_BASE_URL={url}/v1" in github_env.read_text().splitlines()
        reply = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-simulator-chaos": "misbehave=empty"},
            timeout=30,
        )
        assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == ""
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGINT)


def test_the_workflow_and_action_files() -> None:
    action = yaml.safe_load((EXAMPLES / "ci" / "llm-simulator-action" / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert any("start.sh" in step.get("run", "") for step in action["runs"]["steps"])
    workflow = yaml.safe_load((EXAMPLES / "ci" / "github-workflow.yml").read_text())
    jobs = workflow["jobs"]
    assert any(step.get("uses") == "./.github/actions/llm-simulator" for step in jobs["node-tests"]["steps"])
    service = jobs["service-container"]["services"]["llm-simulator"]
    assert service["env"]["LLM_SIMULATOR_HOST"] == "0.0.0.0" and service["ports"] == ["8080:8080"]
