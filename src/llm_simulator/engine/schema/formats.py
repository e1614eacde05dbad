"""Values for JSON Schema string ``format``s, and the sentence/title/word text makers."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

from llm_simulator.engine.schema import words


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (``uuid.uuid4`` would use the OS, breaking seeds)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def date(rng: random.Random) -> str:
    """An RFC 3339 full-date between 2020 and 2025 (day ≤ 28, so every month is valid)."""
    return f"{rng.randint(2020, 2025):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def time(rng: random.Random) -> str:
    """An RFC 3339 full-time; the offset is required by the ``time`` format."""
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


def date_time(rng: random.Random) -> str:
    """An RFC 3339 date-time in UTC."""
    return f"{date(rng)}T{time(rng)}"


def email(rng: random.Random) -> str:
    """A ``first.last@example.*`` address (reserved example domains)."""
    first, last = rng.choice(words.FIRST_NAMES), rng.choice(words.LAST_NAMES)
    return f"{first.lower()}.{last.lower()}@{rng.choice(words.DOMAINS)}"


def hostname(rng: random.Random) -> str:
    """A host name under a reserved example domain."""
    return f"{rng.choice(('api', 'www', 'mail', 'app'))}.{rng.choice(words.DOMAINS)}"


def uri(rng: random.Random) -> str:
    """An absolute https URL under a reserved example domain."""
    return f"https://{hostname(rng)}/{rng.choice(words.WORDS)}/{rng.randint(1, 999)}"


def ipv4(rng: random.Random) -> str:
    """A dotted-quad IPv4 address."""
    return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    """An IPv6 address in the documentation prefix 2001:db8::/32."""
    return "2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(6))


def duration(rng: random.Random) -> str:
    """An ISO 8601 duration."""
    return rng.choice((f"P{rng.randint(1, 30)}D", f"PT{rng.randint(1, 59)}M", f"PT{rng.randint(1, 12)}H"))


def sentence(rng: random.Random) -> str:
    """A short, grammatical sentence."""
    return f"{rng.choice(words.SUBJECTS)} {rng.choice(words.VERBS)} {rng.choice(words.OBJECTS)}."


def filler(rng: random.Random) -> str:
    """One to three generic words, for strings whose name says nothing."""
    return " ".join(rng.choice(words.WORDS) for _ in range(rng.randint(1, 3)))


FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date-time": date_time,
    "date": date,
    "time": time,
    "duration": duration,
    "email": email,
    "idn-email": email,
    "uri": uri,
    "url": uri,
    "iri": uri,
    "uri-reference": lambda rng: f"/{rng.choice(words.WORDS)}/{rng.randint(1, 999)}",
    "iri-reference": lambda rng: f"/{rng.choice(words.WORDS)}/{rng.randint(1, 999)}",
    "uri-template": lambda rng: f"https://{rng.choice(words.DOMAINS)}/items/{{id}}",
    "uuid": uuid4,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "hostname": hostname,
    "idn-hostname": hostname,
    "json-pointer": lambda rng: f"/{rng.choice(words.WORDS)}/{rng.randint(0, 9)}",
    "relative-json-pointer": lambda rng: f"{rng.randint(0, 3)}/{rng.choice(words.WORDS)}",
    "regex": lambda rng: "^[a-z]+$",
}
"""Makers for the string formats the generator knows; other formats are ignored (annotations)."""
