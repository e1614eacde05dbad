"""OpenAI's cursor-paged lists (``GET /v1/files``, ``/v1/batches``, conversation items).

One set of rules for all of them: ``limit`` (an integer in 1..maximum), ``order``
(``asc``/``desc``), ``after`` (the id the page starts past; an unknown id gives an empty
page, as the API does) and the ``{"object": "list", "data", "first_id", "last_id",
"has_more"}`` body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from llm_simulator.core.errors import invalid
from llm_simulator.core.http import HttpRequest

T = TypeVar("T")


def list_limit(request: HttpRequest, default: int, maximum: int) -> int:
    """The ``limit`` query parameter: ``default`` when absent, a 400 naming it when not an integer in 1..maximum."""
    raw = request.query.get("limit", str(default))
    try:
        limit = int(raw)
    except ValueError:
        raise invalid(f"Invalid 'limit': '{raw}'. Expected an integer.", param="limit", code="invalid_value") from None
    if not 1 <= limit <= maximum:
        raise invalid(
            f"Invalid 'limit': {limit}. Expected a value between 1 and {maximum}.",
            param="limit",
            code="integer_out_of_range",
        )
    return limit


def list_order(request: HttpRequest) -> str:
    """The ``order`` query parameter (default ``desc``); anything else is a 400."""
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid(f"Invalid 'order': '{order}'. Expected 'asc' or 'desc'.", param="order", code="invalid_value")
    return order


def list_page(
    items: Sequence[T], request: HttpRequest, limit: int, id_of: Callable[[T], str], render: Callable[[T], Any]
) -> dict[str, Any]:
    """The list body of ``items`` (already in the listed order) from past ``after`` for ``limit`` items."""
    rest = list(items)
    after = request.query.get("after")
    if after:
        ids = [id_of(item) for item in rest]
        rest = rest[ids.index(after) + 1 :] if after in ids else []
    page = rest[:limit]
    return {
        "object": "list",
        "data": [render(item) for item in page],
        "first_id": id_of(page[0]) if page else None,
        "last_id": id_of(page[-1]) if page else None,
        "has_more": len(rest) > limit,
    }
