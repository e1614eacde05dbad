"""``llm-simulator generate``: sample request bodies, the example config, load-test request files.

Bodies come from ``cli.wire``, the same builders ``client`` sends with, so every sample is a
request the simulator (and the vendor's API) accepts. ``generate requests`` draws its
variety from ordered lists with a seeded ``random.Random``: the same seed gives the same file.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import IO

import orjson
import yaml

from llm_simulator.cli.config_cmd import example_config
from llm_simulator.cli.output import EXIT_OK, UsageError, add_format_flag, json_text, print_json
from llm_simulator.cli.remote import DUMMY_API_KEY, auth_headers
from llm_simulator.cli.wire import Turn, WireRequest, chat_request, embedding_request
from llm_simulator.wire.defaults import PROVIDERS, Provider

DEFAULT_PROMPT = "Say hello in one short sentence."
DEFAULT_EMBEDDING_TEXT = "The quick brown fox jumps over the lazy dog."

TOPICS = (
    "binary search",
    "HTTP caching",
    "photosynthesis",
    "the French Revolution",
    "TCP congestion control",
    "sourdough baking",
    "black holes",
    "database indexes",
    "the water cycle",
    "garbage collection",
    "plate tectonics",
    "public-key cryptography",
    "jazz harmony",
    "vaccines",
    "rate limiting",
    "the Roman aqueducts",
)
TASKS = (
    "Explain {topic} to a new engineer.",
    "Write a haiku about {topic}.",
    "List three common misconceptions about {topic}.",
    "Give a one-paragraph summary of {topic}.",
    "Compare {topic} with a related idea and say when each matters.",
    "Write a short quiz with answers about {topic}.",
    "What would a beginner get wrong about {topic}? Be concise.",
    "Summarize the notes below about {topic} in three bullet points.",
)
CONTEXT = (
    "The first draft was written quickly and revised twice.",
    "Several readers asked for more concrete examples.",
    "The measurements were taken on a quiet machine at noon.",
    "Nobody agreed on the definition at the start of the meeting.",
    "A later review found two mistakes in the second section.",
    "The appendix lists every source that was consulted.",
    "Most of the open questions concern edge cases.",
    "The team plans to publish a follow-up next quarter.",
)
SYSTEMS = (
    "You are a concise assistant.",
    "You are a patient teacher who uses simple words.",
    "Answer as a senior engineer reviewing a design.",
)
MAX_TOKENS = (16, 32, 64, 128, 256, 512)
# Context paragraphs added by prompt length: none, a few, many.
LENGTHS = (("short", 0, 0), ("medium", 1, 3), ("long", 6, 12))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``generate`` with ``chat``, ``embedding``, ``config`` and ``requests``."""
    generate = subparsers.add_parser(
        "generate",
        help="print sample request bodies, the example config, or a load-test request file",
        description="Generate sample data: request bodies the simulator accepts, the example configuration,\n"
        "or a JSON Lines file of varied chat requests for load tests.",
    )
    generate.set_defaults(handler=run)
    sub = generate.add_subparsers(
        dest="generate_command", required=True, metavar="{chat,embedding,config,requests}", title="subcommands"
    )

    chat = sub.add_parser(
        "chat",
        help="a sample chat request body",
        description="Print a chat request body (Chat Completions, Messages or generateContent).",
        epilog="example:\n"
        "  llm-simulator generate chat --provider openai | \\\n"
        "    curl -s http://127.0.0.1:8080/v1/chat/completions -H 'content-type: application/json' -d @-",
    )
    _add_provider_flags(chat, PROVIDERS)
    chat.add_argument("--prompt", default=DEFAULT_PROMPT, help=f"the user message (default {DEFAULT_PROMPT!r})")
    chat.add_argument("--system", metavar="TEXT", help="a system prompt")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="output token limit (anthropic default 1024)")
    chat.add_argument("--stream", action="store_true", help="a streaming request")
    _add_sample_format(chat)

    embedding = sub.add_parser(
        "embedding",
        help="a sample embedding request body",
        description="Print an embedding request body (OpenAI /v1/embeddings or Gemini :embedContent).",
    )
    _add_provider_flags(embedding, ("openai", "gemini"))
    embedding.add_argument(
        "--prompt", "--input", default=DEFAULT_EMBEDDING_TEXT, help="the text to embed (default: a pangram)"
    )
    _add_sample_format(embedding)

    config = sub.add_parser(
        "config",
        help="the commented example config, on stdout",
        description="Print the commented example configuration (what config init writes to a file).",
    )
    add_format_flag(
        config,
        choices=("yaml", "json", "text"),
        default="yaml",
        help_text="output format (default yaml, with comments; text is the same as yaml; json drops comments)",
    )

    requests = sub.add_parser(
        "requests",
        help="a JSON Lines file of varied chat requests for load tests",
        description="Write COUNT chat request bodies, one per line: varied prompts (short, medium, long),\n"
        "system prompts, multi-turn conversations and output limits. The same --seed gives the same file.\n"
        "Every line is a body for the one endpoint printed on stderr.",
        epilog="example:\n  llm-simulator generate requests --count 500 --provider anthropic --output requests.jsonl",
    )
    _add_provider_flags(requests, PROVIDERS)
    requests.add_argument("--count", "-n", type=int, default=100, metavar="N", help="number of requests (default 100)")
    requests.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="file to write (default: stdout; '-' is stdout too)"
    )
    requests.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the variety (default 0)")
    requests.add_argument("--stream", action="store_true", help="streaming requests")


def _add_provider_flags(parser: argparse.ArgumentParser, providers: tuple[Provider, ...]) -> None:
    parser.add_argument("--provider", choices=providers, default="openai", help="wire format (default openai)")
    parser.add_argument("--model", help="model id (default: one of the provider's)")


def _add_sample_format(parser: argparse.ArgumentParser) -> None:
    add_format_flag(
        parser,
        default="json",
        help_text="json prints the body (default); text prints the HTTP request: method, path, headers, body",
    )


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``generate`` subcommand; returns the exit code."""
    command = args.generate_command
    if command == "chat":
        if args.max_tokens is not None and args.max_tokens < 1:
            raise UsageError("--max-tokens must be at least 1")
        request = chat_request(
            args.provider,
            args.model,
            [Turn("user", args.prompt)],
            system=args.system,
            max_tokens=args.max_tokens,
            stream=args.stream,
        )
        return _print_sample(args.provider, request, args.format)
    if command == "embedding":
        return _print_sample(args.provider, embedding_request(args.provider, args.model, args.prompt), args.format)
    if command == "config":
        text = example_config()
        if args.format == "json":
            print_json(yaml.safe_load(text))
        else:
            sys.stdout.write(text)
        return EXIT_OK
    return _requests(args)


def _print_sample(provider: Provider, request: WireRequest, fmt: str) -> int:
    if fmt == "json":
        print_json(request.body)
        return EXIT_OK
    headers = {"content-type": "application/json", **auth_headers(provider, DUMMY_API_KEY)}
    if request.stream:
        headers["accept"] = "text/event-stream"
    print(f"POST {request.path}")
    for name, value in headers.items():
        print(f"{name}: {value}")
    print()
    print(json_text(request.body))
    return EXIT_OK


def sample_requests(
    provider: Provider, model: str | None, count: int, seed: int, *, stream: bool = False
) -> list[WireRequest]:
    """``count`` varied chat requests; the same arguments always give the same list."""
    rng = random.Random(seed)
    out: list[WireRequest] = []
    for _ in range(count):
        topic = rng.choice(TOPICS)
        prompt = rng.choice(TASKS).format(topic=topic)
        _, low, high = rng.choice(LENGTHS)
        paragraphs = rng.randint(low, high)
        if paragraphs:
            notes = [" ".join(rng.choices(CONTEXT, k=rng.randint(2, 5))) for _ in range(paragraphs)]
            prompt = prompt + "\n\n" + "\n\n".join(notes)
        turns = [Turn("user", prompt)]
        # Some conversations carry an earlier exchange, as an agent or chat app would send.
        if rng.random() < 0.2:
            earlier = rng.choice(TOPICS)
            turns = [
                Turn("user", f"What is {earlier}?"),
                Turn("assistant", f"{earlier.capitalize()} is a broad subject; here is a short overview."),
                *turns,
            ]
        system = rng.choice(SYSTEMS) if rng.random() < 0.3 else None
        out.append(
            chat_request(provider, model, turns, system=system, max_tokens=rng.choice(MAX_TOKENS), stream=stream)
        )
    return out


def _requests(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise UsageError("--count must be at least 1")
    requests = sample_requests(args.provider, args.model, args.count, args.seed, stream=args.stream)
    to_stdout = args.output is None or str(args.output) == "-"
    if not to_stdout and not args.output.resolve().parent.is_dir():
        raise UsageError(f"--output {args.output}: the directory does not exist")
    if to_stdout:
        _write_lines(sys.stdout, requests)
    else:
        with args.output.open("w", encoding="utf-8") as handle:
            _write_lines(handle, requests)
    where = "stdout" if to_stdout else str(args.output)
    print(f"wrote {len(requests)} requests to {where} (POST {requests[0].path})", file=sys.stderr)
    return EXIT_OK


def _write_lines(handle: IO[str], requests: list[WireRequest]) -> None:
    for request in requests:
        handle.write(orjson.dumps(request.body).decode() + "\n")
