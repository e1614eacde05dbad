"""The built-in text strategies.

Every strategy returns *units*: strings that are each exactly one o200k_base token (or, for
the rare unit that completes a multi-byte character, a few tokens, counted exactly), so the
engine can stream one unit per delta and report usage equal to what it streamed.

Open-ended strategies (lorem, random, corpus) write until asked to stop; bounded ones
(fixed, echo, template) have a natural end.
"""

from __future__ import annotations

import functools
import random
import re
import threading
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Protocol

from llm_simulator.core.types import Message
from llm_simulator.engine.textgen.words import COMMON_WORDS, LOREM_WORDS
from llm_simulator.engine.tokenizer import Tokenizer


class TextStrategy(Protocol):
    """Produces response text as token units."""

    bounded: bool

    def compose(self, messages: Sequence[Message], rng: random.Random, target: int) -> list[str]:
        """Units of a response: at least ``target`` for open-ended strategies."""
        ...


class PieceCache:
    """Memoises ``Tokenizer.split`` of text pieces that recur (words, sentences, templates).

    The pieces are chosen to start and end on o200k pre-tokenization boundaries (a word
    with its leading space, punctuation, a sentence), so the units of a concatenation equal
    the concatenation of the pieces' units.
    """

    def __init__(self, tokenizer: Tokenizer, limit: int = 50_000) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[str, list[str]] = {}
        self._limit = limit

    def units(self, piece: str) -> list[str]:
        """The token units of ``piece``."""
        found = self._cache.get(piece)
        if found is None:
            found = self.tokenizer.split(piece)
            if len(self._cache) < self._limit:
                self._cache[piece] = found
        return found


# A sentence pool: sentences opening a paragraph (no leading space), sentences following
# another (leading space), and the units of "." and ".\n\n".
SentencePool = tuple[list[tuple[str, ...]], list[tuple[str, ...]], tuple[str, ...], tuple[str, ...]]
# Pools by (tokenizer, word list): written from a fixed seed, so equal for every Simulator of
# a process. Building one takes ~50 ms; a granian worker forked from the CLI process that
# validated the configuration inherits its pools instead of writing them again.
_POOLS: dict[tuple[Tokenizer, tuple[str, ...]], SentencePool] = {}
_POOLS_LOCK = threading.Lock()


def _sentence_pool(words: Sequence[str], pieces: PieceCache, size: int) -> SentencePool:
    """``size`` sentences of 5–14 random ``words`` (seeded), as token units, with and without a leading space."""
    rng = random.Random(0x5EED)
    first: list[tuple[str, ...]] = []
    following: list[tuple[str, ...]] = []
    for _ in range(size):
        length = rng.randint(5, 14)
        chosen = [words[rng.randrange(len(words))] for _ in range(length)]
        chosen[0] = chosen[0].capitalize()
        commas = {i for i in range(1, length - 2) if rng.random() < 0.08}
        tail: list[str] = []
        for i, word in enumerate(chosen[1:], start=1):
            tail.extend(pieces.units(" " + word))
            if i in commas:
                tail.extend(pieces.units(","))
        first.append((*pieces.units(chosen[0]), *tail))
        following.append((*pieces.units(" " + chosen[0]), *tail))
    # ".\n\n" is a single pre-token in o200k, so a paragraph end is one piece.
    return first, following, tuple(pieces.units(".")), tuple(pieces.units(".\n\n"))


class WordSalad:
    """Sentences of random words with capitals, commas and paragraph breaks (lorem, random).

    A pool of sentences is written once (from a fixed seed) and kept as token units, with
    and without a leading space; a response then costs one draw per sentence, not per word.
    """

    bounded = False
    POOL_SIZE = 2048

    def __init__(self, words: Sequence[str], pieces: PieceCache) -> None:
        self._pieces = pieces
        self._words = tuple(words)

    @functools.cached_property
    def _pool(self) -> SentencePool:
        # Written on first use (it needs the tokenizer, which loads on first use too) or by
        # ``warm``; the lock keeps two threads from writing the same pool twice.
        key = (self._pieces.tokenizer, self._words)
        with _POOLS_LOCK:
            pool = _POOLS.get(key)
            if pool is None:
                pool = _POOLS[key] = _sentence_pool(self._words, self._pieces, self.POOL_SIZE)
        return pool

    def warm(self) -> None:
        """Write the sentence pool now rather than on the first response."""
        _ = self._pool

    def compose(self, messages: Sequence[Message], rng: random.Random, target: int) -> list[str]:
        """Write whole sentences until ``target`` units are reached."""
        first, following, period, paragraph = self._pool
        out: list[str] = []
        draw = rng.random
        pool_size = self.POOL_SIZE
        start_of_paragraph = True
        sentences_in_paragraph = 0
        while len(out) < target:
            pool = first if start_of_paragraph else following
            out.extend(pool[int(draw() * pool_size)])
            sentences_in_paragraph += 1
            start_of_paragraph = sentences_in_paragraph >= 4 and draw() < 0.3
            if start_of_paragraph:
                out.extend(paragraph)
                sentences_in_paragraph = 0
            else:
                out.extend(period)
        return out


class CorpusSentences:
    """Consecutive sentences from a bundled public-domain text, from a random start."""

    bounded = False

    def __init__(self, pieces: PieceCache) -> None:
        text = resources.files(__package__).joinpath("data/corpus.txt").read_text("utf-8")
        self._sentences = tuple(line.strip() for line in text.splitlines() if line.strip())
        self._pieces = pieces

    def compose(self, messages: Sequence[Message], rng: random.Random, target: int) -> list[str]:
        """Whole sentences, wrapping around the corpus, until ``target`` units are reached."""
        out: list[str] = []
        i = rng.randrange(len(self._sentences))
        first = True
        while len(out) < target:
            sentence = self._sentences[i % len(self._sentences)]
            out.extend(self._pieces.units(sentence if first else " " + sentence))
            first = False
            i += 1
        return out


class FixedText:
    """Always the configured text."""

    bounded = True

    def __init__(self, text: str, pieces: PieceCache) -> None:
        self._text = text
        self._pieces = pieces

    def compose(self, messages: Sequence[Message], rng: random.Random, target: int) -> list[str]:
        """The fixed text's units."""
        return list(self._pieces.units(self._text))


def last_user_text(messages: Sequence[Message]) -> str:
    """Text of the last user message (or of the last message when no user spoke)."""
    for message in reversed(messages):
        if message.role == "user":
            return message.text
    return messages[-1].text if messages else ""


class Echo:
    """Quotes the last user message back."""

    bounded = True

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer

    def compose(self, messages: Sequence[Message], rng: random.Random, target: int) -> list[str]:
        """The last user message's units (a placeholder when it is empty)."""
        text = last_user_text(messages) or "(empty message)"
        return self._tokenizer.split(text)


# Keyword → category, checked in order; the first category whose pattern matches wins.
_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("code", re.compile(r"\b(code|function|python|javascript|bug|compile|class|sql|regex)\b", re.I)),
    ("math", re.compile(r"\b(calculate|sum|equation|math|solve|integral|multiply)\b|\d+\s*[-+*/]\s*\d+", re.I)),
    ("summary", re.compile(r"\b(summari[sz]e|summary|tl;?dr|key points)\b", re.I)),
    ("translation", re.compile(r"\b(translate|translation|in french|in spanish|in german)\b", re.I)),
    ("list", re.compile(r"\b(list|steps|ideas|options|examples)\b", re.I)),
    ("greeting", re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.I)),
    ("question", re.compile(r"\?\s*$|^\s*(what|why|how|when|where|who|which|can|is|are|does)\b", re.I)),
)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "greeting": (
        "Hello! It's good to hear from you. How can I help you today?",
        "Hi there! I'm ready to help. What would you like to work on?",
    ),
    "code": (
        "Here is a straightforward way to approach it:\n\n```python\ndef solve(items):\n"
        "    result = []\n    for item in items:\n        if item is not None:\n"
        "            result.append(item)\n    return result\n```\n\nThe function walks the "
        "input once, keeps the values that are present, and returns them in order. It runs "
        "in linear time and uses no extra libraries.",
        "The problem is most likely in how the loop updates its state. Initialise the "
        "accumulator before the loop, update it once per iteration, and return it after the "
        "loop ends. Adding a small unit test for the empty input and for a single element "
        "will confirm the fix.",
    ),
    "math": (
        "Let's work through it step by step. First, write down the known quantities. Next, "
        "combine them according to the order of operations. Finally, check the result by "
        "substituting it back into the original expression. The answer is 42.",
    ),
    "summary": (
        "Here is a short summary. The text introduces the main topic, explains the reasons "
        "behind it, and gives two supporting examples. It ends by noting the open questions "
        "and the next steps that the authors recommend.",
    ),
    "translation": (
        "Here is the translation, keeping the original meaning and tone as closely as "
        "possible. Where an idiom had no direct equivalent, I used the closest natural "
        "expression.",
    ),
    "list": (
        "Here are a few options:\n\n1. Start with the simplest approach and measure it.\n"
        "2. Remove the largest source of delay first.\n3. Add caching where results repeat.\n"
        "4. Automate the checks so regressions are caught early.\n\nEach step builds on the "
        "previous one.",
    ),
    "question": (
        "That's a good question. In short, it depends on the context, but the usual answer is "
        "to start from the requirements, weigh the trade-offs, and choose the option that "
        "keeps the system simple to operate.",
        "The short answer is yes, with a few caveats. It works well in most cases, but you "
        "should test it against your own data before relying on it.",
    ),
    "default": (
        "Thanks for the message. Here is a considered response: the idea is sound, and with a "
        "few adjustments it should work well in practice.",
        "Understood. I have taken that into account and will proceed on that basis.",
    ),
}


def categorise(text: str) -> str:
    """The template category of a user message (``default`` when nothing matches)."""
    for name, pattern in _CATEGORIES:
        if pattern.search(text):
            return name
    return "default"


class Template:
    """Canned prose chosen by the category of the last user message."""

    bounded = True

    def __init__(self, pieces: PieceCache) -> None:
        self._pieces = pieces

    def compose(self, messages: Sequence[Message], rng: random.Random, target: int) -> list[str]:
        """Units of a canned reply for the message's category."""
        options = TEMPLATES[categorise(last_user_text(messages))]
        return list(self._pieces.units(options[rng.randrange(len(options))]))


def build_strategy(name: str, tokenizer: Tokenizer, pieces: PieceCache, fixed_text: str) -> TextStrategy:
    """The strategy called ``name`` (names are validated by the config schema)."""
    # Only the named one is built: a word-salad pool or the corpus costs start-up time.
    strategies: dict[str, Callable[[], TextStrategy]] = {
        "lorem": lambda: WordSalad(LOREM_WORDS, pieces),
        "random": lambda: WordSalad(COMMON_WORDS, pieces),
        "corpus": lambda: CorpusSentences(pieces),
        "fixed": lambda: FixedText(fixed_text, pieces),
        "echo": lambda: Echo(tokenizer),
        "template": lambda: Template(pieces),
    }
    return strategies[name]()
