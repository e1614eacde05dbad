"""``SimulatorHandle``: a running test simulator, its URLs and clients, and per-block chaos and fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from llm_simulator.config.schema import SimulatorConfig
from llm_simulator.sdk import NOT_GIVEN, Admin, Client, Lineage
from llm_simulator.testing.server import DEFAULT_CONFIG, InProcessServer, SubprocessServer, merge_config

__all__ = ["SimulatorHandle", "start_simulator"]

DEFAULT_API_KEY = "sk-llm-simulator-test"


@dataclass(frozen=True, slots=True)
class _ChaosState:
    """The chaos settings a block changes: rule objects in process, JSON rules over HTTP."""

    enabled: bool
    probability: float | None
    rules: tuple[Any, ...]
    preset: str | None


def _plain(secret: object) -> str | None:
    reveal = getattr(secret, "get_secret_value", None)
    value = reveal() if callable(reveal) else secret
    return value if isinstance(value, str) and value else None


def _keys(config: SimulatorConfig) -> tuple[str, str | None]:
    """An API key and an admin key the server accepts (the first configured of each)."""
    auth = config.auth
    users = [_plain(k) for k in auth.api_keys]
    admins = [_plain(k) for k in auth.admin_keys]
    for spec in auth.keys:
        key = _plain(spec.key) if spec.key is not None and spec.enabled else None
        (admins if spec.role == "admin" else users).append(key)
    user = next((k for k in users if k), None)
    admin = next((k for k in admins if k), None)
    return user or admin or DEFAULT_API_KEY, admin


class SimulatorHandle:
    """A simulator running for a test: where it is, clients for it, and what it received.

    ``url`` is the root URL; ``openai_base_url`` (``url + "/v1"``), ``anthropic_base_url``
    and ``gemini_base_url`` are what each official SDK takes as its base URL. ``api_key``
    and ``admin_key`` are keys it accepts (from its config, or a placeholder when auth is
    off). ``client`` is an ``llm_simulator.sdk.Client`` without retries and ``admin`` its
    admin namespace. ``config`` is the validated configuration it runs with.
    """

    def __init__(self, server: InProcessServer | SubprocessServer) -> None:
        self._server = server
        self.config: SimulatorConfig = server.config
        self.raw_config: dict[str, Any] = server.raw_config
        self.url: str = server.url
        self.api_key, self.admin_key = _keys(self.config)
        # Resolved now: in process, relative paths are relative to the working directory.
        self._fixture_files = [Path(f).resolve() for f in self.config.fixtures.files]
        self._client: Client | None = None

    def __repr__(self) -> str:
        mode = "in-process" if self.in_process else "subprocess"
        return f"<SimulatorHandle {self.url} ({mode})>"

    # -- where and how -----------------------------------------------------------------------

    @property
    def openai_base_url(self) -> str:
        """The OpenAI SDK's ``base_url``: ``url + "/v1"``."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic SDK's ``base_url``: the root URL."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """google-genai's ``HttpOptions(base_url=...)``: the root URL."""
        return self.url

    @property
    def in_process(self) -> bool:
        """True when the server runs on a thread of this process, False in a subprocess."""
        return self._server.in_process

    @property
    def server(self) -> InProcessServer | SubprocessServer:
        """The runner (``InProcessServer.app`` is the live ``SimulatorApp``)."""
        return self._server

    @property
    def client(self) -> Client:
        """An SDK client for this simulator (no retries, so failures show as they happen)."""
        if self._client is None:
            self._client = Client(self.url, api_key=self.api_key, admin_key=self.admin_key, retry=None)
        return self._client

    @property
    def admin(self) -> Admin:
        """The admin API (``client.admin``)."""
        return self.client.admin

    # -- what it received ----------------------------------------------------------------------

    def requests(self, path: str | None = None, model: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """The API requests received so far, oldest first (needs ``telemetry.request_log``, on by default).

        Each entry has ``method``, ``path``, ``query``, ``headers`` (credentials masked),
        ``body`` (parsed JSON), ``provider``, ``endpoint``, ``model``, ``stream``, ``status``,
        ``error_type``, ``duration_ms`` and a sequence number ``seq`` (``since`` keeps the
        entries after one). The simulator's own endpoints (admin, health) are not logged.
        """
        return self.admin.requests(since=since, path=path, model=model)

    def lineage(self, session: str | None = None) -> Lineage:
        """The conversation graph recorded so far (needs ``adapters.lineage.enabled``): a ``Lineage`` view.

        ``handle.lineage().result_passed_back("get_weather")`` asks whether the agent sent the
        tool's result back in a later request than the one that asked for it.
        """
        return self.admin.lineage(session)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        self.admin.clear_requests()

    # -- chaos for a block -----------------------------------------------------------------------

    def _chaos_state(self) -> _ChaosState:
        server = self._server
        if isinstance(server, InProcessServer) and server.app is not None:
            chaos = server.app.sim.chaos
            return server.call(lambda: _ChaosState(chaos.enabled, chaos.probability, chaos.rules, chaos.preset))
        status = self.admin.chaos()
        return _ChaosState(status["enabled"], status["probability"], tuple(status["rules"]), status["preset"])

    def _restore_chaos(self, state: _ChaosState) -> None:
        server = self._server
        if isinstance(server, InProcessServer) and server.app is not None:
            chaos = server.app.sim.chaos

            def restore() -> None:
                chaos.probability = state.probability  # the admin API cannot unset it
                chaos.configure(enabled=state.enabled, rules=state.rules, preset=state.preset)

            server.call(restore)
            return
        probability = NOT_GIVEN if state.probability is None else state.probability
        rules = list(state.rules)
        self.admin.set_chaos(enabled=state.enabled, rules=rules, preset=state.preset, probability=probability)

    @contextlib.contextmanager
    def chaos(
        self,
        rules_or_preset: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        /,
        *,
        probability: float | None = None,
        **rule: Any,
    ) -> Iterator[dict[str, Any]]:
        """Inject chaos for the ``with`` block only; the previous chaos settings come back after.

        Give a rule (``{"error_type": "rate_limit"}``), a list of rules, a preset name
        (``"full_outage"``), or a rule's fields as keywords (``chaos(error_type="overloaded",
        providers=["anthropic"])``). The block's rules come before the rules already in force
        (the first error rule that fires decides) and chaos is switched on; ``probability``
        sets the global factor. Yields the chaos state (``GET /admin/chaos``). Rule keys:
        docs/chaos.md.

        Restoring is exact in process. In a subprocess it goes through the admin API, which
        cannot unset a global ``probability`` and shows API-key filters masked: avoid those
        two in the rules that were in force before the block.
        """
        new_rules, preset = _block_rules(rules_or_preset, rule)
        before = self._chaos_state()
        if self.in_process:
            previous = [r.model_dump(mode="json", exclude_defaults=True) for r in before.rules]
        else:
            previous = [dict(r) for r in before.rules]
        try:
            state = self.admin.set_chaos(
                enabled=True,
                rules=new_rules + previous,
                preset=preset if preset is not None else NOT_GIVEN,
                probability=probability if probability is not None else NOT_GIVEN,
            )
            yield state
        finally:
            self._restore_chaos(before)

    # -- fixtures for a block -------------------------------------------------------------------

    def _restore_fixtures(self) -> None:
        """Back to the fixtures of the config: clear everything, reload the configured files."""
        self.admin.clear_fixtures()
        for path in self._fixture_files:
            self.admin.load_fixtures(path.read_bytes(), replace=False)

    @contextlib.contextmanager
    def fixtures(self, document: str | bytes | Mapping[str, Any], *, replace: bool = True) -> Iterator[dict[str, Any]]:
        """Load scripted fixtures (YAML/JSON text or a mapping) for the ``with`` block only.

        By default they replace what is loaded (``replace=False`` adds them after it). After
        the block every rule, scenario and session is cleared and the fixture files of the
        configuration, if any, are loaded again. Yields the load's answer (counts). Format:
        docs/fixtures.md.
        """
        loaded = self.admin.load_fixtures(document, replace=replace)
        try:
            yield loaded
        finally:
            self._restore_fixtures()

    # -- between tests -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the state the configuration describes, for a simulator shared between tests.

        Chaos (rules, preset, probability, scenarios), fixtures and sessions return to the
        config's; rate-limit buckets are refilled and circuit breakers closed; the request
        log and statistics are cleared. (In a subprocess a global chaos ``probability`` set
        at run time cannot be unset.)
        """
        chaos = self.config.chaos
        server = self._server
        if isinstance(server, InProcessServer) and server.app is not None:
            controller = server.app.sim.chaos

            def baseline() -> None:
                controller.probability = chaos.probability
                controller.configure(
                    enabled=chaos.enabled,
                    rules=chaos.rules,
                    preset=chaos.preset,
                    scenarios=chaos.scenarios,
                    repeat_s=chaos.scenario_repeat_s,
                )

            server.call(baseline)
        else:
            self.admin.set_chaos(
                enabled=chaos.enabled,
                probability=chaos.probability if chaos.probability is not None else NOT_GIVEN,
                rules=[r.model_dump(mode="json") for r in chaos.rules],
                preset=chaos.preset,
                scenarios=[s.model_dump(mode="json") for s in chaos.scenarios],
                scenario_repeat_s=chaos.scenario_repeat_s,
            )
        self.admin.reset_rate_limits()
        if chaos.circuit_breaker.enabled:
            self.admin.reset_circuit_breakers()
        self._restore_fixtures()
        self.admin.clear_requests()
        self.admin.reset_stats()

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the client and stop the simulator (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._server.stop()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _block_rules(
    spec: str | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None, fields: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """The rules and preset a ``chaos()`` block asks for."""
    preset: str | None = None
    rules: list[dict[str, Any]] = []
    if isinstance(spec, str):
        preset = spec
    elif isinstance(spec, Mapping):
        rules.append(dict(spec))
    elif spec is not None:
        rules.extend(dict(r) for r in spec)
    if fields:
        if rules:
            raise TypeError("give the rule either as a mapping or as keyword fields, not both")
        rules.append(dict(fields))
    if not rules and preset is None:
        raise TypeError("chaos() needs a rule, a list of rules, a preset name, or rule fields")
    return rules, preset


def start_simulator(
    config: Mapping[str, Any] | None = None,
    /,
    *,
    subprocess: bool = False,
    defaults: Mapping[str, Any] | None = DEFAULT_CONFIG,
    startup_timeout: float = 30.0,
) -> SimulatorHandle:
    """Start a simulator on a free 127.0.0.1 port and return its handle (a context manager).

    ``config`` (nested or dotted keys) is merged over ``defaults`` (``DEFAULT_CONFIG``: no
    latency, request log on, fixed seed; ``None`` for the simulator's own defaults). In
    this process by default; ``subprocess=True`` runs the CLI in a child process instead.
    Works without pytest, e.g. in a ``unittest`` ``setUp``.
    """
    raw = merge_config(defaults, config)
    server: InProcessServer | SubprocessServer
    if subprocess:
        server = SubprocessServer(raw, startup_timeout=startup_timeout)
    else:
        server = InProcessServer(raw, startup_timeout=startup_timeout)
    server.start()
    return SimulatorHandle(server)
