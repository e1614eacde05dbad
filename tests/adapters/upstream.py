"""A real HTTP upstream for adapter tests: 127.0.0.1, a port the OS picks, switchable behaviour."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Mode = Literal["ok", "down", "slow", "garbage"]


class Upstream:
    """What the upstream serves: ``body`` when ``ok``, a 503 when ``down``, ``body`` after
    ``delay_s`` when ``slow``, HTML when ``garbage``; ``hits`` counts requests."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.mode: Mode = "ok"
        self.delay_s = 2.0
        self.hits = 0
        self.url = ""


@contextmanager
def serving(body: bytes) -> Iterator[Upstream]:
    """Serve ``body`` at ``<url>/profile`` until the block ends."""
    state = Upstream(body)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            if state.mode == "down":
                self.send_error(503, "upstream down")
                return
            if state.mode == "slow":
                time.sleep(state.delay_s)
            payload = b"<html><body>502 Bad Gateway</body></html>" if state.mode == "garbage" else state.body
            try:
                self.send_response(200)
                self.send_header("content-type", "application/yaml")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a slow answer past its timeout)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/profile"
    thread = threading.Thread(target=server.serve_forever, name="test-upstream", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
