"""WebSocket paths, the handshake checks, and the session each path runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from llm_simulator.core.errors import ErrorKind, SimulatorError
from llm_simulator.engine.catalogue import Catalogue
from llm_simulator.infra.rng import IDS
from llm_simulator.providers.internal import InternalDispatch
from llm_simulator.providers.openai.errors import error_payload
from llm_simulator.providers.openai.realtime_secrets import ClientSecrets
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

    def __init__(
        self,
        dispatch: InternalDispatch,
        gate: Gate,
        catalogue: Catalogue,
        max_message_bytes: int,
        secrets: ClientSecrets | None = None,
    ) -> None:
        self.secrets = secrets  # the OpenAI provider's ephemeral Realtime keys
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
        handshake = Handshake(dict(ws.headers), ws.query.get("model", ""), {})
        refusal = self._ephemeral(handshake) if endpoint == realtime.ENDPOINT else None
        refusal = refusal or await self._refusal(ws, endpoint, handshake)
        if refusal is not None:
            if endpoint == live.ENDPOINT:
                await ws.close(CLOSE_POLICY, refusal.message)
            else:
                payload = error_payload(refusal)
                await ws.send_json({"event_id": "event_" + IDS.hex(12), "type": "error", "error": payload})
                await ws.close(CLOSE_POLICY, refusal.message)
            return
        headers = turn_headers(handshake.headers)
        if "key" in ws.query and "x-goog-api-key" not in headers:
            headers["x-goog-api-key"] = ws.query["key"]  # Live's key as a query parameter
        if endpoint == realtime.ENDPOINT:
            session = realtime.RealtimeSession(ws, self.dispatch, handshake.model, headers, handshake.session)
            await session.run()
        elif endpoint == responses_socket.ENDPOINT:
            await responses_socket.ResponsesSocket(ws, self.dispatch, headers).run()
        else:
            await live.LiveSession(ws, self.dispatch, headers, bool(VERTEX_LIVE_PATH.fullmatch(ws.path))).run()

    def _ephemeral(self, handshake: Handshake) -> SimulatorError | None:
        """An ``ek_`` key stands for its issuer's credentials and session; an unknown or expired one is refused."""
        scheme, _, key = handshake.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.startswith("ek_") or self.secrets is None:
            return None
        secret = self.secrets.lookup(key)
        if secret is None:
            return SimulatorError(
                ErrorKind.AUTHENTICATION,
                f"Incorrect API key provided: {key[:6]}***. The ephemeral key is unknown or has expired.",
                code="invalid_api_key",
            )
        headers = {k: v for k, v in handshake.headers.items() if k != "authorization"}
        handshake.headers = {**headers, **secret.issuer}
        handshake.model = handshake.model or str(secret.session.get("model") or "")
        handshake.session = {k: v for k, v in secret.session.items() if k not in ("model", "type")}
        return None

    async def _refusal(self, ws: WebSocket, endpoint: str, handshake: Handshake) -> SimulatorError | None:
        """Why the handshake is refused (the key, a missing or unknown model), or None."""
        try:
            await self.gate.check("POST", ws.path, endpoint, handshake.headers, ws.query, ws.client_host)
        except SimulatorError as exc:
            return exc
        if endpoint != realtime.ENDPOINT:
            return None
        model = handshake.model
        if not model:
            return _invalid(
                "You must provide a model parameter, e.g. /v1/realtime?model=gpt-realtime.", "missing_model", "model"
            )
        if self.catalogue.resolve(model) is None:
            return _invalid(
                f"The model '{model}' does not exist or you do not have access to it.", "model_not_found", "model"
            )
        return None


@dataclass(slots=True)
class Handshake:
    """What a session starts from: the headers that authenticate it, its model, session settings."""

    headers: dict[str, str]
    model: str
    session: dict[str, Any]


def _invalid(message: str, code: str, param: str) -> SimulatorError:
    """A handshake's invalid-request refusal."""
    return SimulatorError(ErrorKind.INVALID_REQUEST, message, code=code, param=param)
