"""The pytest plugin (entry point ``pytest11: llm_simulator``): a simulator per test, and clients for it.

Fixtures:

- ``llm_simulator``: a ``SimulatorHandle`` for a simulator started for this test alone,
  configured by ``@pytest.mark.llm_simulator(config={...})`` over test-friendly defaults;
- ``llm_simulator_factory``: ``factory(config=None, /, *, subprocess=None, **sections)``
  starts more, each stopped after the test;
- ``llm_simulator_session``: one simulator for the whole session (per xdist worker),
  configured by the overridable ``llm_simulator_session_config`` fixture;
- ``llm_simulator_scope``: the test's scope (a ``ScopedSimulator``: test id = the node id,
  sanitised), on the session's server in shared mode, else on the test's own;
- ``journal``: the scope's request journal (``LiveJournal``), with assertion helpers;
- ``openai_client``, ``async_openai_client``, ``anthropic_client``, ``gemini_client``: the
  official SDKs pointed at the scope's server with retries off, every request carrying the
  test id (skipped when not installed).

``--llm-simulator-shared`` (or ini ``llm_simulator_shared = true``) runs one simulator for the
whole session (one per xdist worker) and gives each test a scope on it, unless the test asks
for ``llm_simulator`` or configures it with the marker (it then gets its own server, as
before); the scope is deleted after the test. ``--llm-simulator-strict`` (ini
``llm_simulator_strict``) or the marker's ``strict=True`` puts the test's scope in strict mode;
the scope's SDK admin (``llm_simulator_scope.admin``) arms its fixtures, chaos and one-shot
faults. ``--llm-simulator-subprocess`` (or ini ``llm_simulator_subprocess = true``) starts the
simulators as ``llm-simulator serve`` child processes instead of in the test process.
``--llm-simulator-cassettes DIR`` turns on record/replay for ``llm_simulator``
(``testing/cassettes.py``). Guide: docs/testing.md. Nothing heavy is imported until a fixture is used.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import anthropic
    import openai
    from google import genai

    from llm_simulator.testing.handle import SimulatorHandle
    from llm_simulator.testing.scoped import LiveJournal, ScopedSimulator

MARKER = "llm_simulator"
INI_SUBPROCESS = "llm_simulator_subprocess"
INI_SHARED = "llm_simulator_shared"
INI_STRICT = "llm_simulator_strict"
# Marker keywords that configure a server of the test's own (``strict`` applies to the scope only).
SERVER_KEYWORDS = frozenset({"config", "subprocess", "cassette"})
# The stash key of a test's scope, for the failure report's journal section.
SCOPE_KEY = pytest.StashKey["ScopedSimulator"]()


# The on/off switches: the ini name (also the option's dest), and what the switch does.
SWITCHES = (
    (INI_SUBPROCESS, "start test simulators as 'llm-simulator serve' subprocesses instead of in the test process"),
    (INI_SHARED, "one simulator for the whole session (per xdist worker), a test scope per test"),
    (INI_STRICT, "strict mode for every test's scope: a request no fixture matches is a 400 strict_no_fixture"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--llm-simulator-subprocess``, ``--llm-simulator-shared``, their ini twins, the cassette options."""
    group = parser.getgroup("llm-simulator", "simulated OpenAI/Anthropic/Gemini APIs (llm-simulator)")
    for name, help_text in SWITCHES:
        flag = "--" + name.replace("_", "-")
        group.addoption(flag, action="store_true", default=False, dest=name, help=help_text)
        parser.addini(name, type="bool", default=False, help=f"like {flag}")
    from llm_simulator.testing.cassettes import add_options

    add_options(parser, group)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(config=None, *, cassette=None, subprocess=None, strict=None): configure the test's "
        "llm_simulator fixture (config keys nested or dotted, merged over the test defaults); cassette names "
        "its cassette (with --llm-simulator-cassettes); subprocess=True runs it as a child process; "
        "strict=True/False turns strict mode on/off for the test's scope (alone, it keeps a shared server)",
    )


def _subprocess_default(config: pytest.Config) -> bool:
    return bool(config.getoption("llm_simulator_subprocess") or config.getini(INI_SUBPROCESS))


def _shared(config: pytest.Config) -> bool:
    return bool(config.getoption("llm_simulator_shared") or config.getini(INI_SHARED))


def _strict(node: pytest.Item, config: pytest.Config) -> bool:
    """Strict mode for the test's scope: the closest marker's ``strict=``, else the switch."""
    for marker in node.iter_markers(MARKER):
        if "strict" in marker.kwargs:
            return bool(marker.kwargs["strict"])
    return bool(config.getoption(INI_STRICT) or config.getini(INI_STRICT))


class SimulatorFactory:
    """Starts simulators for one test (``llm_simulator_factory``) and stops them all after it."""

    def __init__(self, subprocess_default: bool) -> None:
        self._subprocess_default = subprocess_default
        self._handles: list[SimulatorHandle] = []

    def __call__(
        self, config: Mapping[str, Any] | None = None, /, *, subprocess: bool | None = None, **sections: Any
    ) -> SimulatorHandle:
        """Start a simulator: ``config`` and ``sections`` (``chaos={...}``, ``seed=3``) over the defaults."""
        from llm_simulator.testing.handle import start_simulator
        from llm_simulator.testing.server import merge_config

        handle = start_simulator(
            merge_config(config, sections),
            subprocess=self._subprocess_default if subprocess is None else subprocess,
        )
        self._handles.append(handle)
        return handle

    def close(self) -> None:
        """Stop every simulator started, newest first."""
        while self._handles:
            self._handles.pop().close()


def _marker_settings(node: pytest.Item) -> tuple[dict[str, Any], bool | None, str | None]:
    """The merged config of every ``llm_simulator`` marker (closest wins), its subprocess choice, its cassette."""
    from llm_simulator.testing.server import merge_config

    config: dict[str, Any] = {}
    subprocess: bool | None = None
    cassette: str | None = None
    # iter_markers yields the closest first (function, class, module): apply it last.
    for marker in reversed(list(node.iter_markers(MARKER))):
        given = marker.kwargs.get("config", marker.args[0] if marker.args else None)
        if given is not None and not isinstance(given, Mapping):
            raise pytest.UsageError(f"@pytest.mark.{MARKER}: config must be a mapping, got {type(given).__name__}")
        unknown = set(marker.kwargs) - SERVER_KEYWORDS - {"strict"}
        if unknown or len(marker.args) > 1:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes config=, cassette=, subprocess= and strict= only, got {sorted(unknown)}"
            )
        config = merge_config(config, given)
        if "subprocess" in marker.kwargs:
            subprocess = bool(marker.kwargs["subprocess"])
        if "cassette" in marker.kwargs:
            cassette = str(marker.kwargs["cassette"])
    return config, subprocess, cassette


@pytest.fixture
def llm_simulator_factory(request: pytest.FixtureRequest) -> Iterator[SimulatorFactory]:
    """A factory of simulators for this test: ``llm_simulator_factory(config, subprocess=..., **sections)``."""
    factory = SimulatorFactory(_subprocess_default(request.config))
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def llm_simulator(request: pytest.FixtureRequest, llm_simulator_factory: SimulatorFactory) -> SimulatorHandle:
    """A simulator for this test alone, configured by ``@pytest.mark.llm_simulator(config=...)``.

    With ``--llm-simulator-cassettes``, it replays the test's cassette or records it (``testing/cassettes.py``).
    """
    from llm_simulator.testing.cassettes import cassette_config
    from llm_simulator.testing.server import merge_config

    config, subprocess, cassette = _marker_settings(request.node)
    return llm_simulator_factory(merge_config(cassette_config(request, cassette), config), subprocess=subprocess)


@pytest.fixture(scope="session")
def llm_simulator_session_config() -> dict[str, Any]:
    """The config of ``llm_simulator_session``; override this fixture in a conftest.py to change it."""
    return {}


@pytest.fixture(scope="session")
def llm_simulator_session(
    request: pytest.FixtureRequest, llm_simulator_session_config: Mapping[str, Any]
) -> Iterator[SimulatorHandle]:
    """One simulator shared by the whole session (one per xdist worker); call ``reset()`` between uses."""
    factory = SimulatorFactory(_subprocess_default(request.config))
    try:
        yield factory(llm_simulator_session_config)
    finally:
        factory.close()


def _own_server(request: pytest.FixtureRequest) -> bool:
    """Whether the test runs on a server of its own: not shared mode, or it asked for one.

    It asks by using the ``llm_simulator`` fixture or a marker that configures a server
    (``config``, ``subprocess``, ``cassette``); ``strict=`` alone is the scope's business.
    """
    if not _shared(request.config) or "llm_simulator" in request.fixturenames:
        return True
    return any(m.args or SERVER_KEYWORDS & set(m.kwargs) for m in request.node.iter_markers(MARKER))


@pytest.fixture
def llm_simulator_scope(request: pytest.FixtureRequest) -> Iterator[ScopedSimulator]:
    """The test's scope: its test id (the node id, sanitised) on the session's server in shared mode.

    A test that asks for ``llm_simulator`` or configures it with the marker gets a scope on
    its own server instead. With ``strict`` (marker or switch) the scope is in strict mode.
    In shared mode the scope (its chaos, fixtures, faults, counters) and its journal are
    cleared after the test, so a rerun of the same node id starts clean.
    """
    from llm_simulator.testing.scoped import ScopedSimulator, test_id_for

    own = _own_server(request)
    handle = request.getfixturevalue("llm_simulator" if own else "llm_simulator_session")
    scope = ScopedSimulator(handle, test_id_for(request.node.nodeid))
    request.node.stash[SCOPE_KEY] = scope
    try:
        if _strict(request.node, request.config):
            scope.admin.set_strict(True)
        yield scope
    finally:
        if not own:
            # Tidying: a server a test stopped cannot fail the test that stopped it.
            with contextlib.suppress(Exception):
                scope.admin.drop_scope()
            with contextlib.suppress(Exception):
                scope.admin.clear_journal()
        scope.close()


@pytest.fixture
def journal(llm_simulator_scope: ScopedSimulator) -> LiveJournal:
    """The test scope's request journal, read afresh by each call, with assertion helpers."""
    return llm_simulator_scope.journal


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A failed test that had a scope gets its journal in the report (what it sent, what it got)."""
    report = yield
    scope = item.stash.get(SCOPE_KEY, None)
    if scope is not None and report.when == "call" and report.failed:
        try:
            text = scope.admin.journal().describe()
        except Exception as exc:  # the report must not fail because the server is gone
            text = f"  (the journal could not be read: {exc})"
        report.sections.append(("llm-simulator journal " + scope.test_id, text))
    return report


def _require(module: str, package: str) -> Any:
    """Import ``module`` or skip the test, naming what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.skip(f"{package} is not installed (pip install {package}); this fixture needs it")


@pytest.fixture
def openai_client(llm_simulator_scope: ScopedSimulator) -> Iterator[openai.OpenAI]:
    """The official OpenAI client on the test's scope (``max_retries=0``)."""
    sdk = _require("openai", "openai")
    scope = llm_simulator_scope
    client: openai.OpenAI = sdk.OpenAI(
        base_url=scope.openai_base_url, api_key=scope.api_key, max_retries=0, default_headers=scope.headers
    )
    with client:
        yield client


async def _async_openai_client(llm_simulator_scope: ScopedSimulator) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official async OpenAI client on the test's scope (``max_retries=0``; needs pytest-asyncio)."""
    sdk = _require("openai", "openai")
    scope = llm_simulator_scope
    client: openai.AsyncOpenAI = sdk.AsyncOpenAI(
        base_url=scope.openai_base_url, api_key=scope.api_key, max_retries=0, default_headers=scope.headers
    )
    try:
        yield client
    finally:
        await client.close()


def _no_async_fixtures() -> None:
    """Stands in for ``async_openai_client`` without pytest-asyncio."""
    pytest.skip("async_openai_client needs pytest-asyncio (pip install pytest-asyncio)")


def _async_fixture(fn: Any, name: str) -> Any:
    """``fn`` as a pytest-asyncio fixture, or a fixture that skips when pytest-asyncio is missing."""
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - pytest-asyncio is a dev dependency here
        return pytest.fixture(_no_async_fixtures, name=name)
    return pytest_asyncio.fixture(fn, name=name)


async_openai_client = _async_fixture(_async_openai_client, "async_openai_client")


@pytest.fixture
def anthropic_client(llm_simulator_scope: ScopedSimulator) -> Iterator[anthropic.Anthropic]:
    """The official Anthropic client on the test's scope (``max_retries=0``)."""
    sdk = _require("anthropic", "anthropic")
    scope = llm_simulator_scope
    client: anthropic.Anthropic = sdk.Anthropic(
        base_url=scope.anthropic_base_url, api_key=scope.api_key, max_retries=0, default_headers=scope.headers
    )
    with client:
        yield client


@pytest.fixture
def gemini_client(llm_simulator_scope: ScopedSimulator) -> Iterator[genai.Client]:
    """A google-genai client on the test's scope (one attempt per call: no retries)."""
    sdk = _require("google.genai", "google-genai")
    types = _require("google.genai.types", "google-genai")
    scope = llm_simulator_scope
    no_retries = types.HttpRetryOptions(attempts=1)
    options = types.HttpOptions(base_url=scope.gemini_base_url, retry_options=no_retries, headers=scope.headers)
    client: genai.Client = sdk.Client(api_key=scope.api_key, http_options=options)
    with client:
        yield client
