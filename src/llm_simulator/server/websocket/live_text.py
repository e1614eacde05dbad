"""The Live hot path: a plain text chunk of the Gemini stream made into its Live frame from bytes.

A Live model turn is a streamed ``streamGenerateContent`` through the app; each of its
chunks used to be parsed, its parts picked out and the ``serverContent.modelTurn`` message
serialised again. A chunk of one text token has one shape (``ChunkWriter.token`` in
``providers/gemini/chunks.py``): a fixed head, the token's JSON string, then a fixed tail
up to the usage. ``plain_text`` recognises that shape and returns the JSON string as the
encoder escaped it, and ``model_turn`` puts it into the Live message: the same bytes the
parse-and-serialise path makes (orjson escapes on both sides), without a parse per token.
Anything else (a finish, thoughts, function calls, another candidate, an error, a
malformed chaos frame) is left to that path.
"""

from __future__ import annotations

import orjson

from llm_simulator.providers.gemini.chunks import CANDIDATE_CLOSE, TEXT_HEAD, USAGE_KEY
from llm_simulator.providers.gemini.common import ESCAPED_LINE_BREAKS

# A text chunk of candidate 0 that goes on: its head, the JSON string, then this tail.
_HEAD = TEXT_HEAD + b'"'
_TAIL = b'"' + CANDIDATE_CLOSE % 0 + USAGE_KEY
_STRING_AT = len(_HEAD) - 1  # the string's opening quote
# The Gemini encoder escapes these three line breaks (its SDK's line reader splits on them
# raw); orjson writes them as they are, so a string holding one goes the parsing way.
_ESCAPED_BREAKS = ESCAPED_LINE_BREAKS
# The Live message around the text's JSON string (what orjson makes of the same object).
_TURN_OPEN = '{"serverContent":{"modelTurn":{"role":"model","parts":[{"text":'
_TURN_CLOSE = "}]}}}"


def plain_text(data: bytes) -> tuple[bytes, str] | None:
    """A chunk of one token of text and no more: its JSON string (quotes included) and its text; else None.

    The string ends at the first ``_TAIL`` (the tail's quotes are unescaped, so the tail
    cannot lie inside the text). What lies between must be one JSON string and nothing else
    (parts such as ``[{"text":…,"thought":true},{"text":…}]`` also end in the tail): the
    small string is parsed to make sure, which is also the text the history keeps.
    """
    if not data.startswith(_HEAD) or not data.endswith(b"}"):  # (a chunk cut short is the parser's)
        return None
    end = data.find(_TAIL, _STRING_AT + 1)
    if end < 0:
        return None
    string = data[_STRING_AT : end + 1]
    if b"\\u" in string and any(escape in string for escape in _ESCAPED_BREAKS):
        return None
    try:
        text = orjson.loads(string)
    except orjson.JSONDecodeError:
        return None
    return (string, text) if isinstance(text, str) else None


def model_turn(string: bytes) -> str:
    """The ``serverContent.modelTurn`` message with one text part, ``string`` being its JSON string."""
    return _TURN_OPEN + string.decode() + _TURN_CLOSE
