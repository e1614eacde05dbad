"""Talking to a running server: URL checks, auth headers, transport and error-body handling.

Shared by ``health``, ``models --url`` and ``client``. Transport failures become CLI errors
here (unreachable → exit 2; a connection lost after the request went out → exit 1), and an
error response in any provider's shape becomes ``error: <status> <type>: <message>``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from llm_simulator.cli.output import OperationFailed, ServerError, Unreachable, UsageError
from llm_simulator.wire import http as wire_http
from llm_simulator.wire.defaults import API_KEY_ENV, Provider

DEFAULT_URL = "http://127.0.0.1:8080"
# The simulator accepts any key unless auth is required.
DUMMY_API_KEY = "sk-llm-simulator"
_MESSAGE_LIMIT = 300


def add_url_flag(parser: argparse.ArgumentParser, *, required_help: str = "") -> None:
    """Add ``--url`` (the server root; default ``http://127.0.0.1:8080``)."""
    parser.add_argument(
        "--url",
        default=DEFAULT_URL,
        help=f"server root (default {DEFAULT_URL}){required_help}",
    )


def add_api_key_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--api-key`` (default: the provider SDK's environment variable, else a dummy key)."""
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="API key (default: $OPENAI_API_KEY, $ANTHROPIC_API_KEY or $GEMINI_API_KEY by provider, else a dummy key)",
    )


def server_root(url: str) -> str:
    """The server root of ``url``; an SDK-style base URL (``…/v1``, ``…/v1beta``) is accepted too."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it validates the port)
    except ValueError as exc:
        raise UsageError(f"--url {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url {url!r}: expected http(s)://host[:port]")
    root = url.rstrip("/")
    for suffix in ("/v1beta", "/v1"):
        if root.endswith(suffix):
            return root[: -len(suffix)]
    return root


def api_key(provider: Provider, given: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The key to send: ``--api-key``, else the provider's usual variable, else a dummy key."""
    if given:
        return given
    env = os.environ if environ is None else environ
    return env.get(API_KEY_ENV[provider]) or DUMMY_API_KEY


def auth_headers(provider: Provider, key: str) -> dict[str, str]:
    """The provider's authentication (and version) headers."""
    return wire_http.auth_headers(provider, key)


@contextlib.contextmanager
def transport_errors(url: str) -> Iterator[None]:
    """Turn httpx transport failures into CLI errors naming ``url``.

    No connection (refused, unknown host, connect timeout) means the server is unreachable
    (exit 2); a failure after the request was sent (read timeout, connection dropped
    mid-stream) is a failed operation (exit 1).
    """
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise Unreachable(f"cannot reach {url}: {_reason(exc)}") from None
    except httpx.UnsupportedProtocol as exc:
        raise UsageError(f"{url}: {exc}") from None
    except httpx.TimeoutException:
        raise OperationFailed(f"{url}: timed out waiting for the response") from None
    except httpx.TransportError as exc:
        raise OperationFailed(f"{url}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    # httpx wraps the OS error as "[Errno 111] Connection refused": keep the words.
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text


def parse_json(body: bytes) -> Any:
    """``body`` parsed as JSON, or None when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def error_from_payload(status: int | str, payload: Any) -> ServerError:
    """A ``ServerError`` from an error body in OpenAI's, Anthropic's or Gemini's shape.

    OpenAI: ``{"error": {"type", "message", "code"}}``; Anthropic: ``{"type": "error",
    "error": {"type", "message"}}``; Gemini: ``{"error": {"code", "status", "message"}}``.
    """
    inner = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(inner, dict):
        kind = inner.get("type") or inner.get("status") or inner.get("code") or "error"
        message = inner.get("message") or ""
        # In-stream errors carry no HTTP status of their own; Gemini's name it in ``code``.
        if isinstance(status, str) and isinstance(inner.get("code"), int):
            status = inner["code"]
        return ServerError(status, str(kind), _one_line(str(message)))
    return ServerError(status, "error", _one_line(str(payload)))


def raise_for_error(response: httpx.Response) -> None:
    """Raise a ``ServerError`` for any non-2xx response (the body must have been read)."""
    if response.is_success:
        return
    payload = parse_json(response.content)
    if payload is None:
        text = response.text.strip() or response.reason_phrase
        raise ServerError(response.status_code, "http_error", _one_line(text))
    raise error_from_payload(response.status_code, payload)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MESSAGE_LIMIT else flat[: _MESSAGE_LIMIT - 1] + "…"
