"""The non-streamed floor: granian answering every POST with fixed JSON bytes from a bare ASGI app.

``throughput.py --floor`` starts granian with the simulator's flags (uvloop, one worker,
HTTP/1.1) on this app, which reads the request body until its declared length has arrived
(one ``receive`` for a small body, as the simulator's ``read_body``) and answers with the simulator's own
sample answer (the bytes in ``FLOOR_BODY_FILE``) and a content type: granian's and CPython's
share of a non-streamed request, what no change to the simulator's own Python can remove.
``GET`` answers ``ok`` (the readiness probe).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from _common import serve_lifespan

ANSWER = Path(os.environ["FLOOR_BODY_FILE"]).read_bytes() if "FLOOR_BODY_FILE" in os.environ else b"{}"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())],
}
BODY = {"type": "http.response.body", "body": ANSWER}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST: read the body, answer ``ANSWER``; anything else: ``ok``."""
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok\n"})
        return
    length = next((int(value) for name, value in scope["headers"] if name == b"content-length"), None)
    received = 0
    while True:  # until the declared length has arrived, or the last message (as the simulator's read_body)
        message = await receive()
        received += len(message.get("body", b""))
        if not message.get("more_body") or (length is not None and received >= length):
            break
    await send(START)
    await send(BODY)
