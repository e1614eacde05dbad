"""WebSocket paths, the handshake checks, and the session each path runs."""

from __future__ import annotations

import re

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.engine.catalogue import Catalogue
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.providers.openai.errors import error_payload
from llm_simulator.security.gate import Gate
from llm_simulator.server.asgi import Receive, Scope, Send
from llm_simulator.server.websocket import live, realtime, responses_socket
from llm_simulator.server.websocket.socket import CLOSE_POLICY, WebSocket
from llm_simulator.server.websocket.turns import turn_headers

REALTIME_PATHS = frozenset({"/v1/realtime", "/realtime"})
RESPONSES_PATHS = frozenset({"/v1/responses", "/responses"})
# google-genai's Live paths: the Gemini API's (API key or ephemeral token) and Vertex AI's.
LIVE_PATH = re.compile(
    r"/ws/google\.ai\.generativelanguage\.v1[a-z0-9]*\.GenerativeService\.BidiGenerateContent(Constrained)?"
)
VERTEX_LIVE_PATH = re.compile(r"/ws/google\.cloud\.aiplatform\.v1[a-z0-9]*\.LlmBidiService/BidiGenerateContent")


class WebSocketRoutes:
    """Serves the ASGI ``websocket`` scope."""

    def __init__(self, dispatch: InternalDispatch, gate: Gate, catalogue: Catalogue, max_message_bytes: int) -> None:
        self.dispatch = dispatch
        self.gate = gate
        self.catalogue = catalogue
        self.max_message_bytes = max_message_bytes

    def endpoint(self, path: str) -> str | None:
        """The endpoint a WebSocket path serves, or None for a path without one."""
        if path in REALTIME_PATHS:
            return realtime.ENDPOINT
        if path in RESPONSES_PATHS:
            return responses_socket.ENDPOINT
        if LIVE_PATH.fullmatch(path) or VERTEX_LIVE_PATH.fullmatch(path):
            return live.ENDPOINT
        return None

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One WebSocket connection, from handshake to close."""
        ws = WebSocket(scope, receive, send, self.max_message_bytes)
        endpoint = self.endpoint(ws.path)
        if endpoint is None:
            await ws.close(CLOSE_POLICY)  # before the accept: the server answers 403
            return
        if not await ws.accept():
            return
        refusal = await self._refusal(ws, endpoint)
        if refusal is not None:
            if endpoint == live.ENDPOINT:
                await ws.close(CLOSE_POLICY, refusal.message)
            else:
                payload = error_payload(refusal)
                await ws.send_json({"event_id": "event_" + IDS.hex(12), "type": "error", "error": payload})
                await ws.close(CLOSE_POLICY, refusal.message)
            return
        headers = turn_headers(ws.headers)
        if "key" in ws.query and "x-goog-api-key" not in headers:
            headers["x-goog-api-key"] = ws.query["key"]  # Live's key as a query parameter
        if endpoint == realtime.ENDPOINT:
            await realtime.RealtimeSession(ws, self.dispatch, ws.query["model"], headers).run()
        elif endpoint == responses_socket.ENDPOINT:
            await responses_socket.ResponsesSocket(ws, self.dispatch, headers).run()
        else:
            await live.LiveSession(ws, self.dispatch, headers, bool(VERTEX_LIVE_PATH.fullmatch(ws.path))).run()

    async def _refusal(self, ws: WebSocket, endpoint: str) -> SimulatorError | None:
        """Why the handshake is refused (the key, a missing or unknown model), or None."""
        try:
            await self.gate.check("POST", ws.path, endpoint, ws.headers, ws.query, ws.client_host)
        except SimulatorError as exc:
            return exc
        if endpoint != realtime.ENDPOINT:
            return None
        model = ws.query.get("model", "")
        if not model:
            return _invalid(
                "You must provide a model parameter, e.g. /v1/realtime?model=gpt-realtime.", "missing_model", "model"
            )
        if self.catalogue.resolve(model) is None:
            return _invalid(
                f"The model '{model}' does not exist or you do not have access to it.", "model_not_found", "model"
            )
        return None


def _invalid(message: str, code: str, param: str) -> SimulatorError:
    """A handshake's invalid-request refusal."""
    return SimulatorError(ErrorKind.INVALID_REQUEST, message, code=code, param=param)
