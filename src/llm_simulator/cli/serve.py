"""``llm-simulator serve``: validate the effective configuration, then run the server."""

from __future__ import annotations

import argparse
import errno
import sys

from llm_simulator._version import __version__
from llm_simulator.cli.flags import add_config_flags, resolve_config
from llm_simulator.cli.output import EXIT_OK, OperationFailed
from llm_simulator.cli.startup import collection_paused
from llm_simulator.config.schema import SimulatorConfig


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command with every configuration flag."""
    serve = subparsers.add_parser(
        "serve",
        help="run the simulator",
        description="Run the simulator. Every flag sets one configuration key and has an LLM_SIMULATOR_*\n"
        "variable that sets the same key. Precedence: flags > environment > config file > defaults;\n"
        "a flag left out never overrides the file.",
        epilog="examples:\n"
        "  llm-simulator serve --port 8080 --seed 1\n"
        "  llm-simulator serve -c simulator.yaml --chaos-preset intermittent_timeouts\n"
        "  LLM_SIMULATOR_MAX_CONCURRENT=64 llm-simulator serve --timeout 30",
    )
    serve.set_defaults(handler=run)
    add_config_flags(serve)


def run(args: argparse.Namespace) -> int:
    """Build and check everything up front (so a bad profile or alias fails here), then serve."""
    # Frozen at the end: keep what the workers inherit from this process shared with them.
    #
    # A granian worker is forked from this process after the validation above: it inherits the
    # loaded modules, the tokenizer and the sentence pools instead of building them again, and
    # those pages stay shared for as long as neither process writes to them. The collector's
    # passes write to every object they visit; frozen objects are never visited, so the
    # worker's collections leave the inherited heap shared (half the idle memory of a
    # one-worker server, measured in docs/performance.md).
    #
    # No collection first: it would walk the whole heap (≈ 25 ms of every start-up) to find a
    # few hundred cyclic leftovers of the imports (measured: 244 objects), which frozen cost
    # a few kilobytes.
    with collection_paused(freeze=True):
        from llm_simulator.engine.simulator import Simulator
        from llm_simulator.server.run import serve
        from llm_simulator.telemetry.sinks import check_sinks

        config = resolve_config(args)
        check_state_backend(config)
        # One Simulator is built only to validate: a bad profile or alias fails here, not in a worker.
        simulator = Simulator(config)
        # After the configuration's own errors (exit 2), before the tokenizer loads.
        check_port_free(config.server.host, config.server.port)
        if not spawns_workers(config):
            # Loaded here, the tokenizer's ≈ 45 MB and the text pools are shared by every worker
            # forked from this process (or serve in it: uvicorn's single worker).
            simulator.warm_up()
        if config.proxy.replay_dir:
            # A bad cassette fails here, before any worker starts (the proxy package loads only then).
            from llm_simulator.proxy.replay import check_cassettes

            check_cassettes(config)
        check_sinks(config)
    print(
        f"llm-simulator {__version__} listening on http://{config.server.host}:{config.server.port} "
        f"({config.server.implementation}, {config.server.workers} worker(s), state: {config.state.backend})",
        file=sys.stderr,
    )
    serve(config)
    return EXIT_OK


def spawns_workers(config: SimulatorConfig) -> bool:
    """Whether the server's workers start as fresh interpreters (uvicorn's, several) rather than forks.

    Those inherit nothing from this process and load the tokenizer themselves.
    """
    return config.server.implementation == "uvicorn" and config.server.workers > 1


def check_port_free(host: str, port: int) -> None:
    """Refuse to start (exit 1, one clear line) when ``host:port`` cannot be listened on.

    granian reports a taken port as a Rust panic with a 25-frame backtrace; this tries the
    same bind first (with ``SO_REUSEADDR``, as the servers bind: a port that only has
    connections in TIME_WAIT is free) and names the address and the reason instead. Port 0
    (any free port) is always free; a host that resolves to several addresses is checked on the
    first it resolves to.
    """
    if port == 0:
        return
    import socket

    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OperationFailed(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = addresses[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            hint = (
                " (another server is listening there: stop it or choose another --port)"
                if exc.errno == errno.EADDRINUSE
                else ""
            )
            raise OperationFailed(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None


def check_state_backend(config: SimulatorConfig) -> None:
    """Refuse to start (exit 1, one clear line) when the Redis state backend cannot be used.

    Checked once here, before any worker starts: a missing extra or an unreachable Redis is
    an operator's mistake to fix now, not a fleet that silently runs on per-process state.
    """
    state = config.state
    if state.backend != "redis" or state.url is None:
        return
    from llm_simulator.infra.state.redis_store import StateBackendMissing, StateBackendUnreachable, check_reachable

    try:
        check_reachable(state.url, state.timeout_s)
    except (StateBackendMissing, StateBackendUnreachable) as exc:
        raise OperationFailed(str(exc)) from None
