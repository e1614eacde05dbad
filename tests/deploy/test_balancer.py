"""The compose load balancer's nginx.conf, run by a real nginx in front of two live simulators.

The shipped file is used as it is, but for what only compose provides: the replicas'
hostnames become 127.0.0.1 ports of two in-process servers and nginx listens on a free
loopback port. Requests through it reach both replicas, a stream arrives whole, and an error
keeps its provider's status and body. Skipped where Debian's nginx is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llm_simulator.testing import InProcessServer
from llm_simulator.testing.server import free_port
from tests.deploy.known import ROOT

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx (Debian package) is not installed")
CONF = ROOT / "deploy" / "compose" / "nginx.conf"
CHAT = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def _local_conf(ports: list[int], listen: int, prefix: Path) -> str:
    """The shipped config with each upstream server on a loopback port and a loopback listener."""
    text = CONF.read_text()
    servers = re.findall(r"^(\s*server\s+)([\w.-]+):(\d+)", text, re.MULTILINE)
    assert len(servers) == len(ports)
    for (lead, host, port), local in zip(servers, ports, strict=True):
        text = text.replace(f"{lead}{host}:{port}", f"{lead}127.0.0.1:{local}", 1)
    text, count = re.subn(r"^(\s*)listen\s+\d+;", rf"\1listen 127.0.0.1:{listen};", text, flags=re.MULTILINE)
    assert count == 1
    # Run unprivileged-friendly: pid and logs in the test's directory.
    return f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n" + text


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[InProcessServer]]]:
    """Two simulators behind nginx: (the balancer's URL, the replicas)."""
    assert NGINX is not None
    prefix = tmp_path_factory.mktemp("nginx")
    replicas = [InProcessServer({"latency": {"enabled": False}, "seed": 1}).start() for _ in range(2)]
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(_local_conf([int(r.url.rsplit(":", 1)[1]) for r in replicas], port, prefix))
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-e", "stderr", "-c", str(conf)], check=False, capture_output=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr.decode()
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-e", "stderr", "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield url, replicas
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()
        for replica in replicas:
            replica.stop()


def _chat_count(replica: InProcessServer) -> int:
    rows = httpx.get(replica.url + "/admin/stats").json()["requests"]
    return sum(row["count"] for row in rows if row["endpoint"] == "chat")


def test_requests_through_the_balancer_reach_both_replicas(fleet: tuple[str, list[InProcessServer]]) -> None:
    url, replicas = fleet
    before = [_chat_count(r) for r in replicas]
    with httpx.Client(base_url=url) as client:
        for _ in range(6):
            response = client.post("/v1/chat/completions", json=CHAT)
            assert response.status_code == 200 and response.json()["object"] == "chat.completion"
    served = [_chat_count(r) - b for r, b in zip(replicas, before, strict=True)]
    assert sum(served) == 6 and all(n > 0 for n in served), served


def test_a_stream_passes_through_whole(fleet: tuple[str, list[InProcessServer]]) -> None:
    url, _ = fleet
    with httpx.stream("POST", url + "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]" and len(events) >= 3


def test_a_provider_error_keeps_its_status_and_body(fleet: tuple[str, list[InProcessServer]]) -> None:
    url, _ = fleet
    response = httpx.post(url + "/v1/messages", json={"model": "claude-sonnet-4-6", "messages": []})
    assert response.status_code == 400
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"
