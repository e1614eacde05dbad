"""``llm-simulator models``: the local model catalogue, or a running server's ``GET /v1/models``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx

from llm_simulator.cli.flags import CONFIG_ENV, resolve_config
from llm_simulator.cli.output import EXIT_OK, OperationFailed, add_format_flag, print_json
from llm_simulator.cli.remote import api_key as resolve_api_key
from llm_simulator.cli.remote import auth_headers, parse_json, raise_for_error, server_root, transport_errors
from llm_simulator.engine.catalogue import ModelSpec

# The catalogue calls Gemini's vendor "google"; the other commands say "gemini": both work.
PROVIDER_CHOICES = ("openai", "anthropic", "google", "gemini")
DEFAULT_TIMEOUT_S = 10.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``models`` command."""
    models = subparsers.add_parser(
        "models",
        help="list the model catalogue (local, or a running server's)",
        description="List the models the simulator serves: the local catalogue (built-in models plus those of\n"
        "the config file), or with --url a running server's GET /v1/models (OpenAI shape).",
        epilog="examples:\n"
        "  llm-simulator models --provider anthropic\n"
        "  llm-simulator models --url http://127.0.0.1:8080 --format json",
    )
    models.set_defaults(handler=run)
    models.add_argument(
        "--config",
        "-c",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help=f"config file adding models and aliases (env {CONFIG_ENV}; ignored with --url)",
    )
    models.add_argument("--url", help="list a running server's models instead (e.g. http://127.0.0.1:8080)")
    models.add_argument(
        "--api-key", metavar="KEY", help="API key for --url (default $OPENAI_API_KEY, else a dummy key)"
    )
    models.add_argument("--provider", choices=PROVIDER_CHOICES, help="only this provider's models (gemini = google)")
    add_format_flag(models)
    models.add_argument(
        "--json", dest="format", action="store_const", const="json", help="deprecated: same as --format json"
    )


def run(args: argparse.Namespace) -> int:
    """Run the parsed ``models`` command; returns the exit code."""
    provider = "google" if args.provider == "gemini" else args.provider
    if args.url:
        return _remote(args, provider)
    return _local(args, provider)


def _local(args: argparse.Namespace, provider: str | None) -> int:
    from llm_simulator.engine.simulator import Simulator

    # Only --config (and the environment) shape the catalogue; the other flags of this
    # command are not configuration keys and must not reach the loader.
    given = {"config": args.config} if "config" in vars(args) else {}
    catalogue = Simulator(resolve_config(argparse.Namespace(**given))).catalogue
    rows = catalogue.list_models(provider)
    if args.format == "json":
        print_json([model_row(m) for m in rows])
        return EXIT_OK
    print(f"{'id':<34} {'provider':<10} {'kind':<10} {'context':>10} {'max out':>8}  profile")
    for m in rows:
        row = f"{m.id:<34} {m.provider:<10} {m.kind:<10} {m.context_window:>10} {m.max_output_tokens:>8}"
        print(f"{row}  {m.latency_profile}")
    for alias, target in catalogue.aliases().items():
        spec = catalogue.lookup(target)
        if provider is None or (spec is not None and spec.provider == provider):
            print(f"{alias:<34} alias of {target}")
    return EXIT_OK


def model_row(m: ModelSpec) -> dict[str, Any]:
    """One catalogue entry as plain data (the ``--format json`` row)."""
    return {
        "id": m.id,
        "provider": m.provider,
        "kind": m.kind,
        "context_window": m.context_window,
        "max_output_tokens": m.max_output_tokens,
        "embedding_dimensions": m.embedding_dimensions,
        "capabilities": list(m.capabilities),
        "latency_profile": m.latency_profile,
    }


def _remote(args: argparse.Namespace, provider: str | None) -> int:
    url = server_root(args.url) + "/v1/models"
    headers = auth_headers("openai", resolve_api_key("openai", args.api_key))
    with transport_errors(url), httpx.Client(timeout=DEFAULT_TIMEOUT_S) as http:
        response = http.get(url, headers=headers)
    raise_for_error(response)
    body = parse_json(response.content)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise OperationFailed(f"{url}: expected an OpenAI model list ({{'object': 'list', 'data': [...]}})")
    models = [m for m in data if isinstance(m, dict) and (provider is None or m.get("owned_by") == provider)]
    if args.format == "json":
        print_json(models)
        return EXIT_OK
    print(f"{'id':<34} owned_by")
    for m in models:
        print(f"{m.get('id', '')!s:<34} {m.get('owned_by', '')}")
    return EXIT_OK
