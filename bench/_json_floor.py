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

from _common import read_body, serve_all_but_post

ANSWER = Path(os.environ["FLOOR_BODY_FILE"]).read_bytes() if "FLOOR_BODY_FILE" in os.environ else b"{}"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())],
}
BODY = {"type": "http.response.body", "body": ANSWER}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST: read the body, answer ``ANSWER``; anything else: ``ok``."""
    if await serve_all_but_post(scope, receive, send):
        return
    await read_body(scope, receive)  # the whole declared length (one receive for a small body)
    await send(START)
    await send(BODY)
