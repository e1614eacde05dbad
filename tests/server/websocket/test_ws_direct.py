"""The direct write path of WebSocket turns: its frames are the old relay's frames, byte for byte.

The old path decoded each SSE event with the clients' decoder (``infra/sse.py``), parsed its
JSON, translated it and serialised the Realtime event again; the direct path splits the
app's bytes (``DataSplitter``) and makes a plain text delta's frame from the encoder's bytes
(``RealtimeResponse.text_delta``). Each test compares the two on text an escaper can get
wrong: quotes, backslashes, control characters, non-BMP characters, text that looks like
the JSON around it.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_simulator.infra.sse import SseDecoder
from llm_simulator.server.websocket import realtime_events
from llm_simulator.server.websocket.realtime_events import RealtimeResponse
from llm_simulator.server.websocket.turns import DataSplitter

TRICKY = [
    "plain",
    ' "quoted" ',
    "back\\slash\\",
    "\\",
    '\\"',
    "tab\there\nnewline\r\x00nul\x1f\x7f",
    "snow \u2603 and \U0001f600 and \U0001f469\u200d\U0001f4bb",
    "\u2028\u2029 separators",
    '","delta":"fake',
    '"sequence_number":1}',
    "}",
    "",
]
ITEM_ID = "msg_" + "a" * 48
RESPONSE_ID = "resp_" + "b" * 48


class FixedIds:
    """Stands in for ``IDS`` so both paths name their events alike."""

    def hex(self, nbytes: int) -> str:
        """``2 * nbytes`` zeros."""
        return "0" * (2 * nbytes)


def delta_data(text: str, sequence: int, item_id: str = ITEM_ID, index: int = 0) -> bytes:
    """A plain ``response.output_text.delta`` as the Responses encoder lays it out (``EventWriter._raw``)."""
    ids = b'"item_id":%s,"output_index":%d,"content_index":0,"logprobs":[],' % (orjson.dumps(item_id), index)
    return b'{"type":"response.output_text.delta",%s"sequence_number":%d,"delta":%s}' % (
        ids,
        sequence,
        orjson.dumps(text),
    )


def opened(response: RealtimeResponse, events: list[dict[str, Any]], index: int = 0, item_id: str = ITEM_ID) -> None:
    """Take a response through ``response.created`` and an item's opening, as the stream does."""
    if not response.id:
        response.translate({"type": "response.created", "response": {"id": RESPONSE_ID}})
    item = {"type": "message", "id": item_id, "role": "assistant", "content": []}
    response.translate({"type": "response.output_item.added", "output_index": index, "item": item})
    part = {"type": "output_text", "text": ""}
    response.translate({"type": "response.content_part.added", "output_index": index, "content_index": 0, "part": part})
    events.clear()


def old_frame(response: RealtimeResponse, events: list[dict[str, Any]], data: bytes) -> str:
    """What the old relay sent for ``data``: parsed, translated, ``{"event_id", **event}`` serialised."""
    response.translate(orjson.loads(data))
    (event,) = events
    events.clear()
    return orjson.dumps({"event_id": "event_" + FixedIds().hex(12), **event}).decode()


@pytest.fixture(autouse=True)
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths draw the same event ids."""
    monkeypatch.setattr(realtime_events, "IDS", FixedIds())


@pytest.mark.parametrize("text", TRICKY)
def test_a_text_delta_frame_is_the_old_paths_frame_byte_for_byte(text: str) -> None:
    events: list[dict[str, Any]] = []
    response = RealtimeResponse(["text"], "conv_1", events.append, None)
    opened(response, events)
    first = delta_data("first", 4)
    assert response.text_delta(first) is None  # the item's first delta goes the old way ...
    expected_first = old_frame(response, events, first)
    response.learn(first, orjson.loads(first))  # ... and teaches the fast path its head
    assert expected_first.endswith(',"delta":"first"}')

    data = delta_data(text, 1234)
    fast = response.text_delta(data)
    assert fast is not None
    assert fast == old_frame(response, events, data)
    assert orjson.loads(fast)["delta"] == text


def test_each_item_has_its_own_head_and_an_unknown_one_goes_the_old_way() -> None:
    events: list[dict[str, Any]] = []
    response = RealtimeResponse(["text"], "conv_1", events.append, None)
    opened(response, events, 0, ITEM_ID)
    response.learn(delta_data("a", 3), orjson.loads(delta_data("a", 3)))
    opened(response, events, 2, "msg_second")  # Responses index 2 is Realtime index 1
    assert response.text_delta(delta_data("b", 9, "msg_second", 2)) is None
    response.learn(delta_data("b", 9, "msg_second", 2), orjson.loads(delta_data("b", 9, "msg_second", 2)))
    for text in TRICKY:
        data = delta_data(text, 10, "msg_second", 2)
        assert response.text_delta(data) == old_frame(response, events, data)
        assert orjson.loads(old_frame(response, events, data))["output_index"] == 1


@pytest.mark.parametrize(
    "data",
    [
        # logprobs after the sequence number: not a plain delta, the old path keeps them out.
        b'{"type":"response.output_text.delta","item_id":"%s","output_index":0,"content_index":0,'
        b'"sequence_number":5,"logprobs":[{"token":"x"}],"delta":"x"}' % ITEM_ID.encode(),
        # the malformed chaos frame's data: cut inside the delta.
        b'{"type":"response.output_text.delta","sequence_number":9,"item_id":"msg_0","delta":"tr',
        delta_data("cut", 5)[:-2],
        b'{"type":"response.output_text.done","item_id":"x","output_index":0,"content_index":0,"text":"t"}',
    ],
)
def test_anything_but_a_known_plain_delta_is_left_to_the_old_path(data: bytes) -> None:
    events: list[dict[str, Any]] = []
    response = RealtimeResponse(["text"], "conv_1", events.append, None)
    opened(response, events)
    first = delta_data("first", 4)
    response.learn(first, orjson.loads(first))
    assert response.text_delta(data) is None


def test_audio_responses_never_take_the_text_fast_path() -> None:
    events: list[dict[str, Any]] = []
    response = RealtimeResponse(["audio"], "conv_1", events.append, None)
    opened(response, events)
    first = delta_data("first", 4)
    response.learn(first, orjson.loads(first))
    assert response.text_delta(delta_data("spoken", 5)) is None


def old_datas(body: bytes) -> list[str]:
    """The data of each event as the old relay read it (``SseDecoder`` line by line, ``[DONE]`` kept)."""
    decoder, out = SseDecoder(), []
    *lines, _ = body.decode().split("\n")
    for line in lines:
        event = decoder.feed(line.rstrip("\r"))
        if event is not None:
            out.append(event.data)
    return out


BODY = (
    b"event: response.created\ndata: " + delta_data('a"b', 0) + b"\n\n"
    b": a comment\n\n"
    b"data: " + orjson.dumps({"text": "\U0001f600\u2028"}) + b"\n\n"
    b"data: line one\ndata:line two\n\n"
    b"event: only a name\n\n"
    b"id: 7\r\ndata: crlf\r\n\r\n"
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(BODY)])
def test_the_splitter_reads_what_the_sse_decoder_read_in_any_chunking(size: int) -> None:
    splitter = DataSplitter()
    got: list[str] = []
    for at in range(0, len(BODY), size):
        got.extend(data.decode() for data in splitter.feed(BODY[at : at + size]))
    assert got == old_datas(BODY)
    assert len(got) == 5


def test_an_unterminated_last_event_is_not_dispatched() -> None:
    splitter = DataSplitter()
    assert splitter.feed(b"data: whole\n\ndata: cut") == [b"whole"]
    assert splitter.feed(b" short") == []


EVENTS = [
    b"event: response.output_text.delta\ndata: " + delta_data('"\\\n', 1) + b"\n\n",
    b"event: x\ndata: \n\n",
    b"event: x\ndata: y\nid: 3\n\n",  # a field after the data line
    b"event: x\nid: 3\ndata: y\n\n",  # and before it
    b"event: x\ndata: y\r\n\r\n",
    b"event: x\ndata: one\ndata: two\n\n",
    b"event: x\ndata:tight\n\n",
    b"data\n\n",  # a data field without a colon: an event with empty data
    b"event: only a name\n\n",
]


@pytest.mark.parametrize("event", EVENTS)
def test_an_event_written_alone_is_read_as_the_sse_decoder_reads_it(event: bytes) -> None:
    assert [data.decode() for data in DataSplitter().feed(event)] == old_datas(event)
