"""Fresh ids and timestamps for replayed answers (``proxy.replay_ids: fresh``, the default).

A real API never hands out the same id twice, and its ``created`` is now: a replay that
answered with the recorded ids would give two callers (or one entry replayed twice, round
robin) the same ``chatcmpl-``/``msg_``/``resp_`` id and a timestamp from the day of the
recording. So every ``"id"`` and Gemini ``"responseId"`` value of a replayed answer is
replaced by a fresh one that keeps its provider's prefix (``chatcmpl-``, ``msg_``,
``toolu_``, ``call_``, ``resp_``, ...) and its length, the same fresh id for the same
recorded id throughout one answer (every chunk of a stream carries the stream's id); and
every ``"created"``/``"created_at"`` in Unix seconds moves by the time since the recording.

A conversation goes on by quoting ids (a tool call's id in the tool result, the Responses
API's ``previous_response_id``): ``IdBook`` remembers which recorded id each fresh one
stands for, and the request is translated back before it is matched, so the next turn of a
recorded conversation still finds its entry. The book holds the latest ``_BOOK_SIZE`` ids
of one worker process.
"""

from __future__ import annotations

import re
import secrets
import string
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

_ID = re.compile(rb'"(id|responseId)":"([^"\\]{4,200})"')
_CREATED = re.compile(rb'"(created|created_at)":(\d{9,11})\b')
# An id's prefix: letters up to its last ``-`` or ``_`` within the first 16 characters.
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*?[-_]")
_ALPHABET = string.ascii_letters + string.digits
_BOOK_SIZE = 100_000


def fresh_id(recorded: str) -> str:
    """A new random id shaped like ``recorded``: its prefix kept, the rest as long and random."""
    match = _PREFIX.match(recorded)
    prefix = match.group(0) if match is not None and len(match.group(0)) <= 16 else ""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(max(8, len(recorded) - len(prefix))))


class IdBook:
    """Fresh ids handed out by replay, each with the recorded id it stands for (bounded, oldest dropped)."""

    def __init__(self, size: int = _BOOK_SIZE) -> None:
        self._recorded: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def issue(self, recorded: str) -> str:
        """A fresh id for ``recorded``, remembered."""
        fresh = fresh_id(recorded)
        self._recorded[fresh] = recorded
        if len(self._recorded) > self._size:
            self._recorded.popitem(last=False)
        return fresh

    def restore(self, body: Any) -> Any:
        """``body`` with every string that is a fresh id replaced by its recorded id (in place)."""
        if not self._recorded:
            return body
        if isinstance(body, dict):
            for name, value in body.items():
                body[name] = self.restore(value)
        elif isinstance(body, list):
            for index, value in enumerate(body):
                body[index] = self.restore(value)
        elif isinstance(body, str):
            return self._recorded.get(body, body)
        return body


def refresher(book: IdBook, shift_s: int) -> Callable[[bytes], bytes]:
    """Rewrites one answer's bytes: fresh ids (one per recorded id), timestamps moved by ``shift_s``.

    Call it on every chunk of one answer, in order, so a recorded id maps to one fresh id.
    """
    issued: dict[bytes, bytes] = {}

    def new_id(match: re.Match[bytes]) -> bytes:
        recorded = match.group(2)
        fresh = issued.get(recorded)
        if fresh is None:
            fresh = issued[recorded] = book.issue(recorded.decode("utf-8", "replace")).encode()
        return b'"' + match.group(1) + b'":"' + fresh + b'"'

    def new_time(match: re.Match[bytes]) -> bytes:
        return b'"' + match.group(1) + b'":' + str(int(match.group(2)) + shift_s).encode()

    def rewrite(data: bytes) -> bytes:
        return _CREATED.sub(new_time, _ID.sub(new_id, data))

    return rewrite
