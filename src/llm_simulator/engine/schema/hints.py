"""Plausible values chosen from a property's name (``city`` → a city, ``age`` → a small int).

Hints are only candidates: the caller checks them against the schema's constraints and falls
back to a generic value when they do not fit.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable

from llm_simulator.engine.schema import formats, words

_TextMaker = Callable[[random.Random], str]


def tokens(name: str) -> tuple[str, ...]:
    """Lower-case words of a property name: ``userEmail`` / ``user_email`` → ``("user", "email")``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return tuple(t for t in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if t)


def singular(name: str | None) -> str | None:
    """A crude singular for naming array items (``cities`` → ``city``, ``tags`` → ``tag``)."""
    if not name:
        return name
    if name.endswith("ies") and len(name) > 4:
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss") and len(name) > 3:
        return name[:-1]
    return name


def _pick(options: tuple[str, ...]) -> _TextMaker:
    return lambda rng: rng.choice(options)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(words.FIRST_NAMES)} {rng.choice(words.LAST_NAMES)}"


def _username(rng: random.Random) -> str:
    return f"{rng.choice(words.FIRST_NAMES).lower()}{rng.randint(1, 99)}"


def _location(rng: random.Random) -> str:
    city, country = rng.choice(words.CITIES)
    return f"{city}, {country}"


def _phone(rng: random.Random) -> str:
    return f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def _short_id(rng: random.Random) -> str:
    return formats.uuid4(rng) if rng.random() < 0.5 else f"id_{rng.getrandbits(32):08x}"


def _secret(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))


# Checked in order; a rule matches when one of its words is a token of the name (or its
# singular), or the whole name with separators removed. Specific rules come before generic
# ones, so ``company_name`` is a company and ``email_address`` an email, not a street.
_TEXT_RULES: tuple[tuple[tuple[str, ...], _TextMaker], ...] = (
    (("email", "mail"), formats.email),
    (("url", "uri", "link", "website", "homepage", "href", "endpoint"), formats.uri),
    (("phone", "mobile", "tel", "telephone", "fax"), _phone),
    (("id", "uuid", "guid"), _short_id),
    (("firstname", "given"), _pick(words.FIRST_NAMES)),
    (("lastname", "surname", "family"), _pick(words.LAST_NAMES)),
    (("username", "login", "handle", "nickname"), _username),
    (("company", "organization", "organisation", "employer", "business"), _pick(words.COMPANIES)),
    (("product",), _pick(words.PRODUCTS)),
    (("file", "filename", "attachment"), _pick(words.FILE_NAMES)),
    (("countrycode",), _pick(("FR", "DE", "JP", "PT", "CA", "ES"))),
    (("city", "town"), lambda rng: rng.choice(words.CITIES)[0]),
    (("country", "nation"), lambda rng: rng.choice(words.CITIES)[1]),
    (("location", "place", "destination", "origin", "venue"), _location),
    (("street", "address"), lambda rng: f"{rng.randint(1, 200)} {rng.choice(words.STREETS)}"),
    (("region", "province", "state"), _pick(words.REGIONS)),
    (("zip", "zipcode", "postal", "postcode"), lambda rng: f"{rng.randint(10000, 99999)}"),
    (("timezone", "tz"), _pick(words.TIMEZONES)),
    (("timestamp", "datetime", "at"), formats.date_time),
    (("date", "birthday", "dob", "day"), formats.date),
    (("time",), lambda rng: f"{rng.randint(8, 19):02d}:{rng.choice((0, 15, 30, 45)):02d}"),
    (("job", "occupation", "profession"), _pick(words.JOBS)),
    (("title", "headline", "subject"), lambda rng: " ".join(rng.choice(w) for w in words.TITLE_WORDS)),
    (
        (
            *("description", "desc", "summary", "text", "content", "message", "body", "comment", "note", "reason"),
            *("explanation", "answer", "response", "bio", "details", "feedback", "instructions"),
        ),
        formats.sentence,
    ),
    (("unit",), lambda rng: "celsius"),
    (("currency",), _pick(words.CURRENCIES)),
    (("color", "colour"), _pick(words.COLORS)),
    (("language", "lang"), _pick(words.LANGUAGES)),
    (("locale",), _pick(("en-US", "fr-FR", "de-DE", "ja-JP"))),
    (("status",), _pick(words.STATUSES)),
    (("role",), _pick(words.ROLES)),
    (("category", "genre", "tag", "label", "topic", "keyword"), _pick(words.CATEGORIES)),
    (("query", "search", "q"), lambda rng: f"{rng.choice(words.CATEGORIES)} news in {rng.choice(words.CITIES)[0]}"),
    (("ip",), formats.ipv4),
    (("host", "hostname", "domain"), formats.hostname),
    (("version",), lambda rng: f"{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"),
    (("password", "token", "secret", "key"), _secret),
    (("ticker", "symbol"), _pick(words.TICKERS)),
    (("name", "author", "customer", "person", "owner", "assignee", "recipient", "sender", "contact"), _person),
)

# Words before "name" that make it a person's name ("customer_name"), not a thing's.
_PERSON_WORDS = frozenset(
    (
        *("full", "display", "first", "last", "customer", "user", "author", "person", "owner", "contact", "given"),
        *("family", "middle", "sender", "recipient", "employee", "patient", "student", "player", "manager"),
        *("assignee", "member", "guest", "client", "real", "legal", "account", "your", "my", "their", "his", "her"),
    )
)

# (words, low, high, decimals for "number"; None = integer-like even for "number")
_NUMBER_RULES: tuple[tuple[tuple[str, ...], float, float, int | None], ...] = (
    (("age",), 18, 80, None),
    (("year",), 1990, 2025, None),
    (("month",), 1, 12, None),
    (("day", "days"), 1, 28, None),
    (("hour", "hours"), 0, 23, None),
    (("minute", "minutes", "second", "seconds"), 0, 59, None),
    (("port",), 1024, 65535, None),
    (("latitude", "lat"), -90, 90, 4),
    (("longitude", "lon", "lng"), -180, 180, 4),
    (("temperature", "temp"), -5, 35, 1),
    (("price", "amount", "cost", "total", "balance", "salary", "fee", "subtotal", "tax", "budget"), 1, 500, 2),
    (("rating", "stars", "score"), 1, 5, 1),
    (("percent", "percentage", "pct"), 0, 100, 1),
    (("probability", "confidence", "ratio"), 0, 1, 2),
    (("quantity", "qty", "count", "num", "number", "size", "limit", "n", "page", "k"), 1, 10, None),
    (("id",), 1, 9999, None),
    (("height", "width", "length", "distance", "weight", "duration"), 1, 200, 1),
)


def _first_match(rules: tuple[tuple[str, ...], ...], name: str) -> int | None:
    """Index of the first rule whose words occur in ``name``."""
    parts = tokens(name)
    joined = "".join(parts)
    for index, keys in enumerate(rules):
        if any(k == joined or k in parts or k + "s" in parts for k in keys):
            return index
    return None


# Property names repeat across calls, so rule lookups are memoised by name.
@functools.lru_cache(maxsize=4096)
def _text_rule(name: str) -> int | None:
    index = _first_match(tuple(keys for keys, _ in _TEXT_RULES), name)
    if index is not None and _TEXT_RULES[index][1] is _person and not _names_a_person(name):
        return -1  # "recipe_name", "project_name": a thing's name, not a person's
    return index


@functools.lru_cache(maxsize=4096)
def _number_rule(name: str) -> int | None:
    return _first_match(tuple(keys for keys, *_ in _NUMBER_RULES), name)


def _names_a_person(name: str) -> bool:
    parts = tokens(name)
    return parts[-1:] != ("name",) or len(parts) == 1 or any(p in _PERSON_WORDS for p in parts[:-1])


def _thing_name(rng: random.Random) -> str:
    return " ".join(rng.choice(words.WORDS).capitalize() for _ in range(2))


def text_hint(name: str | None, rng: random.Random) -> str | None:
    """A plausible string for a property called ``name``, or None when the name says nothing."""
    index = _text_rule(name) if name else None
    if index is None:
        return None
    return _thing_name(rng) if index < 0 else _TEXT_RULES[index][1](rng)


def number_hint(name: str | None, rng: random.Random, integer: bool) -> int | float | None:
    """A plausible number for a property called ``name`` (an int when ``integer``), or None."""
    index = _number_rule(name) if name else None
    if index is None:
        return None
    _keys, low, high, decimals = _NUMBER_RULES[index]
    if integer or decimals is None:
        value = rng.randint(int(low), int(high))
        return value if integer else float(value)
    return round(rng.uniform(low, high), decimals)


def kind_hint(name: str | None) -> str | None:
    """The JSON type a value named ``name`` most plausibly has (for schemas without ``type``)."""
    if not name:
        return None
    parts = tokens(name)
    if parts and parts[0] in ("is", "has", "can", "should", "enabled", "allow"):
        return "boolean"
    index = _number_rule(name)
    if index is None or _NUMBER_RULES[index][0] == ("id",):
        return None
    return "integer" if _NUMBER_RULES[index][3] is None else "number"
