"""``derive_seed``: one BLAKE2b call over the parts' reprs, the digest seeds have always had."""

from __future__ import annotations

import hashlib
import random

import pytest

from llm_simulator.core.types import Message
from llm_simulator.infra.rng import derive_random, derive_seed


def _per_part(*parts: object) -> int:
    """The reference: one ``update`` per part's repr and one per separator."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "big")


@pytest.mark.parametrize(
    "parts",
    [
        (),
        ("request", 1, "gpt-4.1", (Message("user", "Say something."),), 1, 40),
        ("text", "é\ud800 ✓", None, 2.5, b"\x00\x1f", ("a", "b")),
        ("run", 7, 123456789),
    ],
)
def test_the_same_digest_as_one_update_per_part(parts: tuple[object, ...]) -> None:
    assert derive_seed(*parts) == _per_part(*parts)


def test_seeds_are_pinned() -> None:
    # Values computed before the single-call rewrite: a request's text must not change.
    request = ("request", 1, "gpt-4.1", (Message("user", "Say something."),), 1, 40)
    assert derive_seed(*request) == 11244367323799955180
    assert derive_seed() == 16476032584258269876


def test_a_message_repr_is_the_dataclass_format() -> None:
    assert repr(Message("user", "it's\n", None)) == "Message(role='user', text=\"it's\\n\", name=None)"
    assert repr(Message("tool", "x", "fn")) == "Message(role='tool', text='x', name='fn')"


@pytest.mark.parametrize("parts", [(0, "text"), (2**64 - 1, "latency"), ("misbehave", "loop", None)])
def test_derive_random_is_random_random_of_the_derived_seed(parts: tuple[object, ...]) -> None:
    derived, reference = derive_random(*parts), random.Random(derive_seed(*parts))
    assert derived.getstate() == reference.getstate()
    assert [derived.random(), derived.gauss(0, 1), derived.randrange(10**9)] == [
        reference.random(),
        reference.gauss(0, 1),
        reference.randrange(10**9),
    ]
