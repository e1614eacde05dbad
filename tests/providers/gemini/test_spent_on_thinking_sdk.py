"""A turn whose whole output budget goes to hidden thinking, through google-genai's chats.

The API sends such a candidate's content without parts (and no candidates' token count);
the SDK's chat then leaves the turn out of the history it sends back. An empty text part
instead would be kept, and the next turn refused for its "empty text parameter".
"""

from __future__ import annotations

from google import genai
from google.genai import types

THINKING_MODEL = "gemini-2.5-flash"  # thinks by default, on a budget larger than the limit below
SPENT = types.GenerateContentConfig(max_output_tokens=10)
SHOWN = types.GenerateContentConfig(max_output_tokens=40, thinking_config=types.ThinkingConfig(thinking_budget=0))


def test_a_turn_spent_on_thinking_has_no_parts_and_the_chat_goes_on(v1beta_client: genai.Client) -> None:
    chat = v1beta_client.chats.create(model=THINKING_MODEL, config=SPENT)
    spent = chat.send_message("Tell me a long story.")
    assert spent.candidates is not None
    candidate = spent.candidates[0]
    assert candidate.finish_reason == types.FinishReason.MAX_TOKENS
    assert candidate.content is not None and candidate.content.role == "model"
    assert candidate.content.parts is None
    assert spent.text is None
    usage = spent.usage_metadata
    assert usage is not None and usage.candidates_token_count is None
    assert usage.thoughts_token_count == 10
    assert usage.total_token_count == (usage.prompt_token_count or 0) + 10

    answered = chat.send_message("Go on.", config=SHOWN)
    assert answered.text
    # The spent turn stays in the full history and out of the curated one.
    assert len(chat.get_history()) == 4
    assert [content.role for content in chat.get_history(curated=True)] == ["user", "model"]


def test_a_streamed_turn_spent_on_thinking_ends_without_parts(v1beta_client: genai.Client) -> None:
    chat = v1beta_client.chats.create(model=THINKING_MODEL, config=SPENT)
    chunks = list(chat.send_message_stream("Tell me a long story."))
    assert chunks and all(chunk.text is None for chunk in chunks)
    last = chunks[-1]
    assert last.candidates is not None
    assert last.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert last.candidates[0].content is not None and last.candidates[0].content.parts is None
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count is None

    answered = "".join(chunk.text or "" for chunk in chat.send_message_stream("Go on.", config=SHOWN))
    assert answered
    # A streamed turn is kept as its chunks' contents; the spent one is not kept at all.
    curated = chat.get_history(curated=True)
    assert curated[0].role == "user" and curated[0].parts is not None and curated[0].parts[0].text == "Go on."
    assert len(curated) > 1 and all(content.role == "model" for content in curated[1:])


def test_shown_thoughts_keep_their_parts(v1beta_client: genai.Client) -> None:
    # Asked for, the thoughts are the turn's parts: it is not empty, and stays in the history.
    thoughts = types.ThinkingConfig(include_thoughts=True)
    config = types.GenerateContentConfig(max_output_tokens=10, thinking_config=thoughts)
    chat = v1beta_client.chats.create(model=THINKING_MODEL, config=config)
    spent = chat.send_message("Tell me a long story.")
    assert spent.candidates is not None and spent.candidates[0].content is not None
    parts = spent.candidates[0].content.parts
    assert parts and all(part.thought for part in parts)
    assert len(chat.get_history(curated=True)) == 2
