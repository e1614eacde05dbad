"""The pytest plugin (entry point ``pytest11: llm_simulator``): a simulator per test, and clients for it.

Fixtures:

- ``llm_simulator``: a ``SimulatorHandle`` for a simulator started for this test alone,
  configured by ``@pytest.mark.llm_simulator(config={...})`` over test-friendly defaults;
- ``llm_simulator_factory``: ``factory(config=None, /, *, subprocess=None, **sections)``
  starts more, each stopped after the test;
- ``llm_simulator_session``: one simulator for the whole session (per xdist worker),
  configured by the overridable ``llm_simulator_session_config`` fixture;
- ``openai_client``, ``async_openai_client``, ``anthropic_client``, ``gemini_client``: the
  official SDKs pointed at ``llm_simulator`` with retries off (skipped when not installed).

``--llm-simulator-subprocess`` (or ini ``llm_simulator_subprocess = true``) starts the
simulators as ``llm-simulator serve`` child processes instead of in the test process.
``--llm-simulator-cassettes DIR`` turns on record/replay for ``llm_simulator``
(``testing/cassettes.py``). Guide: docs/testing.md. Nothing heavy is imported until a fixture is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import anthropic
    import openai
    from google import genai

    from llm_simulator.testing.handle import SimulatorHandle

MARKER = "llm_simulator"
INI_SUBPROCESS = "llm_simulator_subprocess"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--llm-simulator-subprocess`` and its ini twin."""
    group = parser.getgroup("llm-simulator", "simulated OpenAI/Anthropic/Gemini APIs (llm-simulator)")
    group.addoption(
        "--llm-simulator-subprocess",
        action="store_true",
        default=False,
        dest="llm_simulator_subprocess",
        help="start test simulators as 'llm-simulator serve' subprocesses instead of in the test process",
    )
    parser.addini(INI_SUBPROCESS, type="bool", default=False, help="like --llm-simulator-subprocess")
    from llm_simulator.testing.cassettes import add_options

    add_options(parser, group)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(config=None, *, cassette=None, subprocess=None): configure the test's llm_simulator fixture "
        "(config keys nested or dotted, merged over the test defaults); cassette names its cassette "
        "(with --llm-simulator-cassettes); subprocess=True runs it as a child process",
    )


def _subprocess_default(config: pytest.Config) -> bool:
    return bool(config.getoption("llm_simulator_subprocess") or config.getini(INI_SUBPROCESS))


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
        unknown = set(marker.kwargs) - {"config", "subprocess", "cassette"}
        if unknown or len(marker.args) > 1:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes config=, cassette= and subprocess= only, got {sorted(unknown)}"
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


def _require(module: str, package: str) -> Any:
    """Import ``module`` or skip the test, naming what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.skip(f"{package} is not installed (pip install {package}); this fixture needs it")


@pytest.fixture
def openai_client(llm_simulator: SimulatorHandle) -> Iterator[openai.OpenAI]:
    """The official OpenAI client on ``llm_simulator`` (``max_retries=0``)."""
    sdk = _require("openai", "openai")
    client: openai.OpenAI = sdk.OpenAI(
        base_url=llm_simulator.openai_base_url, api_key=llm_simulator.api_key, max_retries=0
    )
    with client:
        yield client


async def _async_openai_client(llm_simulator: SimulatorHandle) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official async OpenAI client on ``llm_simulator`` (``max_retries=0``; needs pytest-asyncio)."""
    sdk = _require("openai", "openai")
    client: openai.AsyncOpenAI = sdk.AsyncOpenAI(
        base_url=llm_simulator.openai_base_url, api_key=llm_simulator.api_key, max_retries=0
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
def anthropic_client(llm_simulator: SimulatorHandle) -> Iterator[anthropic.Anthropic]:
    """The official Anthropic client on ``llm_simulator`` (``max_retries=0``)."""
    sdk = _require("anthropic", "anthropic")
    client: anthropic.Anthropic = sdk.Anthropic(
        base_url=llm_simulator.anthropic_base_url, api_key=llm_simulator.api_key, max_retries=0
    )
    with client:
        yield client


@pytest.fixture
def gemini_client(llm_simulator: SimulatorHandle) -> Iterator[genai.Client]:
    """A google-genai client on ``llm_simulator`` (one attempt per call: no retries)."""
    sdk = _require("google.genai", "google-genai")
    types = _require("google.genai.types", "google-genai")
    no_retries = types.HttpRetryOptions(attempts=1)
    options = types.HttpOptions(base_url=llm_simulator.gemini_base_url, retry_options=no_retries)
    client: genai.Client = sdk.Client(api_key=llm_simulator.api_key, http_options=options)
    with client:
        yield client
