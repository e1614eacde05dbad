"""A plain stream's per-token path without generator layers: a pacer and a frame encoder.

Most streams are plain: one choice of visible text, no chaos fault, no logprobs, no
reasoning or tool calls. For those, a stream's frames are a fixed opening, one frame per
token (a constant prefix, the token's JSON text, a constant suffix) and a fixed closing.
The server's stream loop then takes each token from a ``TokenPacer`` (the engine's side:
when a token is due, and its bookkeeping) and has it framed by a ``TokenFrames`` (the
provider's side), calling both directly: no async generator between the timer and the
socket. The general path (``StreamResponse.frames``) stays for every other stream, and
for this one too when something replaced those frames (a wrapper that tees them): the
frames the fast path produces are byte for byte the generator's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Releasable(Protocol):
    """What a stream waits with: an ``asyncio.Future``, or the stream's own writer.

    The shared scheduler (or a load-aware engine's step) calls ``set_result(None)`` once the
    entry's token is due, in its release pass (so it must not raise); an entry that is
    ``done`` is skipped. An engine that failed the stream calls ``set_exception`` instead,
    and closing a timeline cancels its entry.
    """

    def done(self) -> bool:
        """Whether the entry no longer wants its release (cancelled, or its stream ended)."""
        ...

    def set_result(self, result: None, /) -> None:
        """The release time has come."""
        ...

    def set_exception(self, exception: BaseException, /) -> None:
        """There will be no release: the stream failed with ``exception``."""
        ...

    def cancel(self) -> bool:
        """The stream no longer wants the release."""
        ...


class TokenPacer(Protocol):
    """When each token of a one-choice stream is due, and the engine's bookkeeping of it.

    The server calls ``start`` once, then for each step in order ``wait`` (awaiting what it
    returns, if anything; past the opening, ``drive``) and ``released`` once the token is
    out, and ``close`` at the end whatever happened.
    """

    @property
    def tokens(self) -> Sequence[str]:
        """The stream's tokens, one per step."""
        ...

    @property
    def wait(self) -> Callable[[int], Awaitable[None] | None]:
        """Token ``step`` is due once the returned awaitable is done; None: it is out already."""
        ...

    @property
    def drive(self) -> Callable[[int, Releasable], bool]:
        """Park ``entry`` to be released when token ``step`` is due (False: due already).

        ``wait`` without a future or a task wake-up per token: the scheduler (or the engine's
        step) calls the stream's writer itself (``server.plain_stream``), past the opening.
        """
        ...

    @property
    def gathers(self) -> bool:
        """Whether frames ready together go out in one write (an engine's stream) or one write each."""
        ...

    def start(self) -> None:
        """The stream begins: the in-flight gauges and the request's record learn of it."""
        ...

    def released(self) -> None:
        """The token just waited for is out: its release time (TTFT, gaps, emit error) is noted."""
        ...

    def close(self) -> None:
        """The stream ended (or was cut): release what it held, settle the tokens released."""
        ...


class TokenFrames(Protocol):
    """A provider's frames of a plain stream, encoded synchronously per token.

    Each list holds the frames the provider's frames generator yields at that point, in
    order (the server counts them as chunks).
    """

    def first(self, text: str, last: bool) -> list[bytes]:
        """The frames of the first token (the stream's opening with it); ``last``: also the closing."""
        ...

    def token(self, text: str) -> bytes:
        """The one frame of a token that is neither the first nor the last."""
        ...

    def last(self, text: str) -> list[bytes]:
        """The frames of the last token (not the first) and everything after it."""
        ...


@dataclass(frozen=True, slots=True)
class PlainTokens:
    """A plain stream's fast path: its pacer and encoder, and the frames generator it stands for.

    The server takes this path only while ``StreamResponse.frames`` is still ``replaces``:
    a wrapper that replaced the frames (to tee or alter them) gets them from its generator.
    """

    pacer: TokenPacer
    frames: TokenFrames
    replaces: AsyncIterator[bytes]
