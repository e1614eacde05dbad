"""Malformed HTTP at the socket: whatever arrives, the server stays up and keeps answering.

Each case writes raw bytes on a fresh connection (truncated requests, broken chunked
encoding, invalid UTF-8 in the target and headers, huge headers, garbage), reads whatever
comes back within a short time, closes, and then a normal request must still succeed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.live import LiveServer, live_server

BODY = b'{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}],"max_tokens":3}'
CHUNKED = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
CASES: dict[str, bytes] = {
    "garbage": b"\x00\xff\xfe GARBAGE\r\n\r\n",
    "truncated request line": b"POST /v1/chat/comp",
    "truncated headers": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le",
    "truncated body": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + BODY,
    "bad chunk size": CHUNKED + b"ZZ\r\n" + BODY + b"\r\n0\r\n\r\n",
    "chunk longer than said": CHUNKED + b"4\r\n" + BODY + b"\r\n0\r\n\r\n",
    "invalid utf-8 target": b"GET /v1/models/\xc3\x28\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid utf-8 header": b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Name: \xc3\x28\xff\xfe\r\n\r\n",
    "invalid utf-8 body": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 6\r\n\r\n\xc3\x28\xff\xfe{}",
    "huge header": b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    "many headers": b"GET /v1/models HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
    + b"\r\n",
    "negative content length": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "http/0.9 style": b"GET /health\r\n\r\n",
}


@pytest.fixture(scope="module")
def raw_server() -> Iterator[LiveServer]:
    with live_server("--no-latency") as live:
        yield live


@pytest.mark.parametrize("name", list(CASES))
def test_the_server_survives_malformed_http(name: str, raw_server: LiveServer) -> None:
    port = int(raw_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        try:
            sock.sendall(CASES[name])
            sock.shutdown(socket.SHUT_WR)
            reply = sock.recv(65536)
        except OSError:
            reply = b""  # the server may close on us: that is fine
    # Whatever it answered, it is an HTTP status line or nothing (never a hang: the timeout above).
    assert reply == b"" or reply.startswith(b"HTTP/1."), reply[:80]
    if reply.startswith(b"HTTP/1."):
        assert int(reply.split(b" ", 2)[1]) < 500 or name == "http/0.9 style", reply[:80]
    health = httpx.get(raw_server.url + "/health", timeout=5)
    assert health.status_code == 200
    chat = httpx.post(raw_server.openai_base + "/chat/completions", content=BODY, timeout=10)
    assert chat.status_code == 200
