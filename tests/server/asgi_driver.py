"""Drive the ASGI app in process (no socket) for server-behaviour tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from llm_simulator.server.app import SimulatorApp


@dataclass
class Captured:
    """What the app sent."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    complete: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


async def call(
    app: SimulatorApp,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    disconnect: asyncio.Event | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    client: tuple[str, int] | None = None,
) -> Captured:
    """Send one request through the app and capture the response."""
    captured = Captured()
    sent_body = False
    gone = disconnect or asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            captured.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                captured.complete = True

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"content-type", b"application/json")]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "query_string": query.encode(),
    }
    if client is not None:
        scope["client"] = client
    await app(scope, receive, send)  # type: ignore[arg-type]
    return captured
