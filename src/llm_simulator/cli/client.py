"""``llm-simulator client``: chat, embed and a chat REPL against a running server.

The HTTP calls are plain httpx in each provider's wire format (``cli.wire``), so the client
works against the simulator or any compatible server. An error response, in whichever
provider's shape, prints ``error: <status> <type>: <message>`` and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import orjson

from llm_simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    OperationFailed,
    UsageError,
    add_format_flag,
    print_json,
    print_json_line,
)
from llm_simulator.cli.remote import (
    add_api_key_flag,
    add_url_flag,
    api_key,
    auth_headers,
    parse_json,
    raise_for_error,
    server_root,
    transport_errors,
)
from llm_simulator.cli.wire import (
    Turn,
    WireRequest,
    chat_request,
    embedding_request,
    embedding_values,
    reply_text,
    stream_piece,
)
from llm_simulator.infra.sse import SseDecoder
from llm_simulator.loadgen.client import parse_headers
from llm_simulator.wire.defaults import DEFAULT_EMBEDDING_MODELS, DEFAULT_MODELS, PROVIDERS, Provider
from llm_simulator.wire.streams import StreamEnd

DEFAULT_TIMEOUT_S = 60.0
# How many leading vector values the text output of ``embed`` shows.
SHOWN_VALUES = 8
REPL_HELP = "/reset clears the history, /exit (or end of input) ends the session"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``client`` with ``chat``, ``embed`` and ``interactive``."""
    client = subparsers.add_parser(
        "client",
        help="talk to a running server: chat, embed, or an interactive chat",
        description="Send requests to a running simulator (or any compatible server) in a provider's wire format.\n"
        "An error response prints 'error: <status> <type>: <message>' on stderr and exits 1 (an error\n"
        "inside a stream: 'error: stream <type>: <message>', or its code when the provider names one).",
    )
    client.set_defaults(handler=run)
    sub = client.add_subparsers(
        dest="client_command", required=True, metavar="{chat,embed,interactive}", title="subcommands"
    )

    chat = sub.add_parser(
        "chat",
        help="send one message and print the reply",
        description="Send one user message and print the assistant's reply.",
        epilog="example:\n  llm-simulator client chat 'Hello!' --provider anthropic --stream",
    )
    chat.add_argument("message", help="the user message")
    _add_common(chat)
    _add_chat_flags(chat)
    chat.add_argument("--stream", action="store_true", help="stream the reply, printing tokens as they arrive")
    add_format_flag(
        chat,
        help_text="text prints the reply; json prints the response body (with --stream: one JSON line per event)",
    )

    embed = sub.add_parser(
        "embed",
        help="embed a text and print the vector's size and first values",
        description="Embed one text (OpenAI /v1/embeddings or Gemini :embedContent).",
    )
    embed.add_argument("text", help="the text to embed")
    _add_common(embed, providers=("openai", "gemini"), model_help="embedding model")
    add_format_flag(embed, help_text="text prints dimensions and the first values; json prints the response body")

    repl = sub.add_parser(
        "interactive",
        help="chat in a loop, keeping the conversation history",
        description="A chat REPL: each line read from stdin is a user message; the conversation history is sent\n"
        f"with every request; {REPL_HELP}.\n"
        "Works with piped input (no prompt is shown then). Exit 0, or 1 when some turn failed.",
    )
    _add_common(repl)
    _add_chat_flags(repl)
    repl.add_argument(
        "--stream", action=argparse.BooleanOptionalAction, default=True, help="stream each answer (default on)"
    )


def _add_common(
    parser: argparse.ArgumentParser,
    *,
    providers: tuple[Provider, ...] = PROVIDERS,
    model_help: str = "model id",
) -> None:
    add_url_flag(parser)
    parser.add_argument("--provider", choices=providers, default="openai", help="wire format to speak (default openai)")
    parser.add_argument("--model", help=f"{model_help} (default: one of the provider's)")
    add_api_key_flag(parser)
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="extra request header (repeatable)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S", help="per-request limit (default 60)"
    )


def _add_chat_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--system", metavar="TEXT", help="a system prompt")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="output token limit")


@dataclass(frozen=True)
class _Target:
    """Where and how to send: server root, provider, headers and timeout."""

    root: str
    provider: Provider
    headers: dict[str, str]
    timeout: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> _Target:
        provider: Provider = args.provider
        headers = {"content-type": "application/json", **auth_headers(provider, api_key(provider, args.api_key))}
        try:
            extra = parse_headers(args.header)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        headers.update((k.lower(), v) for k, v in extra)
        if not (math.isfinite(args.timeout) and args.timeout > 0):
            raise UsageError("--timeout must be positive")
        return cls(server_root(args.url), provider, headers, args.timeout)


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``client`` command; returns the exit code."""
    if getattr(args, "max_tokens", None) is not None and args.max_tokens < 1:
        raise UsageError("--max-tokens must be at least 1")
    target = _Target.from_args(args)
    with httpx.Client(timeout=target.timeout) as http:
        if args.client_command == "chat":
            return _chat(http, target, args)
        if args.client_command == "embed":
            return _embed(http, target, args)
        return _interactive(http, target, args)


def _chat(http: httpx.Client, target: _Target, args: argparse.Namespace) -> int:
    request = chat_request(
        target.provider,
        args.model,
        [Turn("user", args.message)],
        system=args.system,
        max_tokens=args.max_tokens,
        stream=args.stream,
    )
    as_json = args.format == "json"
    if not args.stream:
        body = _post(http, target, request)
        if as_json:
            print_json(body)
        else:
            with unexpected_shape(target.root):
                print(reply_text(target.provider, body))
        return EXIT_OK
    if as_json:
        _stream(http, target, request, _print_event)
    else:
        _stream_text(http, target, request)
    return EXIT_OK


class _Echo:
    """Prints streamed text as it arrives; remembers whether a line is left open."""

    def __init__(self) -> None:
        self.open = False

    def __call__(self, piece: str, event: str, data: str) -> None:
        if piece:
            sys.stdout.write(piece)
            sys.stdout.flush()
            self.open = True


def _stream_text(http: httpx.Client, target: _Target, request: WireRequest) -> str:
    """Stream a reply onto stdout, ending with a newline; the whole text."""
    echo = _Echo()
    try:
        text = _stream(http, target, request, echo)
    except OperationFailed:
        # End the partial line so the error on stderr starts on a line of its own.
        if echo.open:
            print()
        raise
    print()
    return text


def _print_event(piece: str, event: str, data: str) -> None:
    payload = parse_json(data.encode())
    if payload is not None:
        print_json_line({"event": event, "data": payload} if event else payload)


def _embed(http: httpx.Client, target: _Target, args: argparse.Namespace) -> int:
    request = embedding_request(target.provider, args.model, args.text)
    body = _post(http, target, request)
    if args.format == "json":
        print_json(body)
        return EXIT_OK
    with unexpected_shape(target.root):
        values = embedding_values(target.provider, body)
    shown = ", ".join(f"{v:.6f}" for v in values[:SHOWN_VALUES])
    more = ", …" if len(values) > SHOWN_VALUES else ""
    print(f"model: {args.model or DEFAULT_EMBEDDING_MODELS[target.provider]}")
    print(f"dimensions: {len(values)}")
    # The simulator's vectors are sparse (hashed features), so the first values are often 0.
    print(f"non-zero: {sum(1 for v in values if v)}")
    print(f"values: [{shown}{more}]")
    return EXIT_OK


def _post(http: httpx.Client, target: _Target, request: WireRequest) -> object:
    url = target.root + request.path
    with transport_errors(url):
        response = http.post(url, content=orjson.dumps(request.body), headers=target.headers)
    raise_for_error(response)
    body = parse_json(response.content)
    if body is None:
        raise OperationFailed(f"{url}: the response is not JSON")
    return body


def _stream(
    http: httpx.Client, target: _Target, request: WireRequest, on_event: Callable[[str, str, str], None]
) -> str:
    """Send a streaming request; call ``on_event(piece, event, data)`` per SSE event; the whole text."""
    url = target.root + request.path
    headers = {**target.headers, "accept": "text/event-stream"}
    pieces: list[str] = []
    decoder = SseDecoder()
    end = StreamEnd(target.provider)

    def handle(event: tuple[str, str] | None) -> bool:
        if event is None:
            return True
        name, data = event
        with unexpected_shape(url):
            piece = stream_piece(end, name, data)
        # The closing event is shown too (JSON output lists every event); it adds no text.
        on_event(piece or "", name, data)
        if piece is None:
            return False
        pieces.append(piece)
        return True

    with (
        transport_errors(url),
        http.stream("POST", url, content=orjson.dumps(request.body), headers=headers) as response,
    ):
        if not response.is_success:
            response.read()
            raise_for_error(response)
        for line in response.iter_lines():
            if not handle(decoder.feed(line)):
                break
        else:
            handle(decoder.flush())
    if not end.complete:
        # A stream cut without its final event (a proxy's timeout, a crashed server), or a
        # response that was no event stream at all, is not a complete answer. (Gemini's
        # stream has no closing event: its last frame carries the finish reason.)
        raise OperationFailed(f"{url}: the stream ended before its final event")
    return "".join(pieces)


@contextlib.contextmanager
def unexpected_shape(url: str) -> Iterator[None]:
    """Turn a response of a shape no provider sends into one line and exit 1, not a traceback."""
    try:
        yield
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise OperationFailed(f"{url}: unexpected response shape ({type(exc).__name__}: {exc})") from None


def _interactive(http: httpx.Client, target: _Target, args: argparse.Namespace) -> int:
    """The REPL; exit 0, or 1 when some turn failed (the failed message is not kept)."""
    tty = sys.stdin.isatty()
    if tty:
        model = args.model or DEFAULT_MODELS[target.provider]
        print(f"chatting with {model} at {target.root} ({REPL_HELP})", file=sys.stderr)
    history: list[Turn] = []
    failed = False
    while True:
        line = _read_line(tty)
        if line is None:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            history.clear()
            print("(history cleared)", file=sys.stderr)
            continue
        if text == "/help":
            print(REPL_HELP, file=sys.stderr)
            continue
        turns = [*history, Turn("user", text)]
        request = chat_request(
            target.provider, args.model, turns, system=args.system, max_tokens=args.max_tokens, stream=args.stream
        )
        try:
            if args.stream:
                reply = _stream_text(http, target, request)
            else:
                body = _post(http, target, request)
                with unexpected_shape(target.root):
                    reply = reply_text(target.provider, body)
                print(reply)
        except OperationFailed as exc:
            # A failed turn ends that turn only; the conversation goes on without it.
            print(exc.line(), file=sys.stderr)
            failed = True
            continue
        history = [*turns, Turn("assistant", reply)]
    return EXIT_FAILED if failed else EXIT_OK


def _read_line(tty: bool) -> str | None:
    """The next input line, or None at end of input."""
    if tty:
        try:
            return input("> ")
        except EOFError:
            print(file=sys.stderr)
            return None
    line = sys.stdin.readline()
    return line if line else None
