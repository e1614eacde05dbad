"""Google's list paging: ``pageSize`` (0 or absent: the default; capped) and an opaque ``pageToken``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from llm_simulator.core.errors import invalid

T = TypeVar("T")


def timestamp(seconds: float | None) -> str | None:
    """A ``google.protobuf.Timestamp`` in JSON (RFC 3339, ``Z``)."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def page(
    items: Sequence[T], query: Mapping[str, str], default: int, maximum: int, token_of: Callable[[T], str]
) -> tuple[Sequence[T], str | None]:
    """The page of ``items`` the query asks for, and the next page's token (None on the last page).

    The token is the first item of the next page (``token_of``), so a page stays right while
    items are added or removed before it; a token naming no item is Google's 400.
    """
    raw = query.get("pageSize", str(default))
    try:
        size = int(raw)
    except ValueError:
        raise invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"", param="pageSize") from None
    if size <= 0:
        size = default
    size = min(size, maximum)
    token = query.get("pageToken")
    start = 0
    if token:
        tokens = [token_of(item) for item in items]
        if token not in tokens:
            raise invalid(f"Invalid page token: {token}.", param="pageToken")
        start = tokens.index(token)
    following = token_of(items[start + size]) if start + size < len(items) else None
    return items[start : start + size], following
