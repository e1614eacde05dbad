"""``health``: healthy (0), unhealthy (1) and unreachable (2), once and with --watch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llm_simulator.cli.main import main
from tests.live import LiveServer, free_port


class _Draining(BaseHTTPRequestHandler):
    """Answers like a draining simulator: /health 200, /ready 503."""

    def do_GET(self) -> None:
        ready = self.path != "/ready"
        body = b'{"status": "ok"}' if ready else b'{"ready": false, "reason": "draining"}'
        self.send_response(200 if ready else 503)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def draining() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Draining)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_healthy_text_and_json(cli_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", "--url", cli_server.url]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{cli_server.url}/health: 200 healthy in ") and out.endswith(" ms\n")
    assert main(["health", "--url", cli_server.url + "/v1", "--ready", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["url"] == cli_server.url + "/ready"
    assert (data["ok"], data["status"], data["body"], data["error"]) == (True, 200, {"ready": True}, None)
    assert data["latency_ms"] > 0


def test_unhealthy_exits_1(draining: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health", "--url", draining]) == 0
    capsys.readouterr()
    assert main(["health", "--url", draining, "--ready"]) == 1
    assert "503 unhealthy, draining in" in capsys.readouterr().out


def test_unreachable_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["health", "--url", url, "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"llm-simulator: cannot reach {url}/health")


def test_watch_count(cli_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["health", "--url", cli_server.url, "--watch", "--count", "2", "--interval", "0.01", "--format", "json"]
    assert main(argv) == 0
    probes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["status"] for p in probes] == [200, 200]
    # --count alone implies --watch; text mode prints a line per probe.
    assert main(["health", "--url", cli_server.url, "--count", "3", "--interval", "0"]) == 0
    assert capsys.readouterr().out.count("200 healthy") == 3


def test_watch_reports_every_probe_and_exits_with_the_last(draining: str, capsys: pytest.CaptureFixture[str]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    assert main(["health", "--url", closed, "--count", "2", "--interval", "0"]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("unreachable" in line for line in lines)
    assert main(["health", "--url", draining, "--ready", "--count", "2", "--interval", "0", "--format", "json"]) == 1
    assert [json.loads(line)["ok"] for line in capsys.readouterr().out.splitlines()] == [False, False]
