"""SIGTERM on a real process: in-flight streams drain, then the process exits cleanly."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.live import live_server

BODY = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "x"}],
    "max_tokens": 30,
    "ignore_eos": True,
    "stream": True,
}


# How the server runs: granian's supervisor and worker, uvicorn, or one process (granian embedded).
SERVERS = {
    "granian": ("--server", "granian"),
    "uvicorn": ("--server", "uvicorn"),
    "single-process": ("--single-process",),
}


@pytest.mark.parametrize("server_impl", list(SERVERS))
def test_sigterm_drains_stream_then_exits_zero(server_impl: str) -> None:
    with live_server(*SERVERS[server_impl], "--latency-multiplier", "0.3", "--drain-timeout", "20") as live:
        lines: list[str] = []

        def consume() -> None:
            with httpx.stream("POST", live.openai_base + "/chat/completions", json=BODY, timeout=30) as resp:
                lines.extend(line for line in resp.iter_lines() if line)

        reader = threading.Thread(target=consume)
        reader.start()
        time.sleep(0.4)
        live.process.send_signal(signal.SIGTERM)
        reader.join(timeout=30)
        assert live.process.wait(timeout=30) == 0
    assert lines[-1] == "data: [DONE]"
    assert sum(1 for line in lines if '"content":' in line) == 31  # role chunk + 30 tokens


@pytest.mark.parametrize("server_impl", list(SERVERS))
def test_streams_outliving_the_drain_deadline_end_with_an_error_frame(server_impl: str) -> None:
    long_body = {**BODY, "max_tokens": 2000}  # about a minute at the standard profile's pace
    with live_server(*SERVERS[server_impl], "--drain-timeout", "1") as live:
        lines: list[str] = []
        failures: list[BaseException] = []

        def consume() -> None:
            try:
                with httpx.stream("POST", live.openai_base + "/chat/completions", json=long_body, timeout=30) as resp:
                    lines.extend(line for line in resp.iter_lines() if line)
            except httpx.HTTPError as exc:  # a cut connection instead of a closing frame
                failures.append(exc)

        reader = threading.Thread(target=consume)
        reader.start()
        time.sleep(1.0)
        signalled = time.monotonic()
        live.process.send_signal(signal.SIGTERM)
        reader.join(timeout=30)
        assert live.process.wait(timeout=30) == 0
        stopped_after = time.monotonic() - signalled
    assert not failures, failures
    assert '"code":"server_shutting_down"' in lines[-1], lines[-1]
    assert stopped_after < 15  # the deadline (1 s) cut the stream; it did not run to its end


@pytest.mark.parametrize("server_impl", ["granian", "single-process"])
def test_fifty_live_streams_all_finish_during_the_drain_and_new_requests_are_refused(server_impl: str) -> None:
    import asyncio

    body = {**BODY, "max_tokens": 40}
    with live_server(*SERVERS[server_impl], "--latency-multiplier", "0.3", "--drain-timeout", "20") as live:

        async def run() -> tuple[list[list[str]], list[BaseException | int]]:
            async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as client:
                results: list[list[str]] = []

                async def consume() -> None:
                    async with client.stream("POST", live.openai_base + "/chat/completions", json=body) as resp:
                        results.append([line async for line in resp.aiter_lines() if line])

                streams = [asyncio.ensure_future(consume()) for _ in range(50)]
                await asyncio.sleep(0.5)  # every stream is under way
                live.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                late: list[BaseException | int] = []
                try:
                    async with httpx.AsyncClient(timeout=5) as fresh:
                        late.append((await fresh.get(live.url + "/ready")).status_code)
                except httpx.HTTPError as exc:
                    late.append(exc)
                await asyncio.gather(*streams)
                return results, late

        results, late = asyncio.run(run())
        assert live.process.wait(timeout=30) == 0
    assert len(results) == 50
    assert all(lines[-1] == "data: [DONE]" for lines in results)
    assert all(sum(1 for line in lines if '"content":' in line) == 41 for lines in results)
    # After SIGTERM the server is not ready: a new connection is refused, or (if the listener
    # has not closed yet on a loaded machine) readiness answers 503.
    assert len(late) == 1 and (isinstance(late[0], httpx.HTTPError) or late[0] == 503), late


def test_a_client_that_never_reads_its_stream_is_cut_after_the_write_timeout() -> None:
    import json
    import socket

    body = json.dumps({**BODY, "model": "gpt-4.1", "max_tokens": 30000}).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request += b"Content-Length: %d\r\n\r\n" % len(body) + body
    with live_server("--no-latency", env={"LLM_SIMULATOR_SECURITY__WRITE_TIMEOUT_S": "0.5"}) as live:
        port = int(live.url.rsplit(":", 1)[1])
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(request)  # and never read
            time.sleep(0.2)
            assert httpx.get(live.url + "/admin/stats", timeout=5).json()["active_streams"] == 1
            deadline = time.monotonic() + 15
            active = 1
            while time.monotonic() < deadline:
                active = httpx.get(live.url + "/admin/stats", timeout=5).json()["active_streams"]
                if active == 0:
                    break
                time.sleep(0.2)
        assert active == 0
        assert httpx.get(live.url + "/health", timeout=5).status_code == 200


def test_a_client_that_never_finishes_its_headers_is_dropped() -> None:
    import socket

    with live_server("--no-latency", env={"LLM_SIMULATOR_SECURITY__HEADER_TIMEOUT_S": "0.5"}) as live:
        port = int(live.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and stall
            started = time.monotonic()
            try:
                data = sock.recv(4096)  # the server closes (maybe after a 408) when the timer fires
                while data:
                    data = sock.recv(4096)
            except OSError:
                pass
            waited = time.monotonic() - started
        assert waited < 8, waited
        assert httpx.get(live.url + "/health", timeout=5).status_code == 200


async def test_a_signal_after_the_prestop_drain_still_starts_the_drain() -> None:
    import asyncio

    from llm_simulator.config import load_config
    from llm_simulator.server.app import SimulatorApp
    from tests.server.asgi_driver import call

    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    assert (await call(app, "POST", "/admin/drain")).status == 200  # the preStop hook
    assert app.draining
    app._start_drain(0.1)  # what SIGTERM does
    task = app._drain_task
    assert task is not None
    await asyncio.wait_for(task, 2)


async def test_the_signal_turns_readiness_false_at_once() -> None:
    import asyncio

    from llm_simulator.config import load_config
    from llm_simulator.server.app import SimulatorApp
    from tests.server.asgi_driver import call

    app = SimulatorApp(load_config(flags={"latency.enabled": False}))
    assert (await call(app, "GET", "/ready")).status == 200
    app._start_drain(0.1)  # what SIGTERM does
    await asyncio.sleep(0)
    assert (await call(app, "GET", "/ready")).status == 503
    assert app._drain_task is not None
    await asyncio.wait_for(app._drain_task, 2)
