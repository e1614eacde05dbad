"""The WebSocket APIs: OpenAI Realtime, the Responses API's WebSocket mode, Gemini Live.

``WebSocketRoutes.serve`` takes an ASGI ``websocket`` scope: it picks the protocol by path,
checks the handshake (the gate's key check, a model where the protocol needs one) and runs
the session. Every model turn is a streamed request through the app itself (``turns.py``),
so admission, chaos, rate limits, the engine's timing and telemetry are the HTTP path's.
"""

from __future__ import annotations

from llm_simulator.server.websocket.routes import WebSocketRoutes

__all__ = ["WebSocketRoutes"]
