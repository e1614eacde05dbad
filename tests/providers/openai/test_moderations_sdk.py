"""Moderations (``POST /v1/moderations``) through the official openai SDK and raw HTTP."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types import ModerationMultiModalInputParam

from llm_simulator.providers.openai.moderations import CATEGORIES, IMAGE_CATEGORIES
from tests.live import LiveServer
from tests.providers.openai.helpers import assert_openai_error


def test_text_is_not_flagged_and_deterministic(client: openai.OpenAI) -> None:
    first = client.moderations.create(input="I love sunny days at the beach.")
    second = client.moderations.create(input="I love sunny days at the beach.")
    assert first.id.startswith("modr-") and first.model == "omni-moderation-latest"
    (result,) = first.results
    assert result.flagged is False
    scores = result.category_scores.model_dump(by_alias=True)
    assert set(scores) == set(CATEGORIES)
    assert all(0 < s < 0.01 for s in scores.values())
    assert not any(result.categories.model_dump(by_alias=True).values())
    assert result.category_applied_input_types.model_dump(by_alias=True) == {c: ["text"] for c in CATEGORIES}
    assert second.results[0].category_scores == result.category_scores
    other = client.moderations.create(input="A different sentence.")
    assert other.results[0].category_scores != result.category_scores


def test_marker_forces_a_flag(client: openai.OpenAI) -> None:
    texts = ["fine", "bad [[flag:hate/threatening]]", "[[flag]]"]
    resp = client.moderations.create(model="omni-moderation-latest", input=texts)
    fine, hateful, violent = resp.results
    assert not fine.flagged
    assert hateful.flagged and hateful.categories.hate_threatening and hateful.categories.hate
    assert hateful.category_scores.hate_threatening >= 0.9
    assert not hateful.categories.violence
    assert violent.flagged and violent.categories.violence


def test_multimodal_input_applies_image_types(client: openai.OpenAI) -> None:
    parts: list[ModerationMultiModalInputParam] = [
        {"type": "text", "text": "a picture"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    resp = client.moderations.create(model="omni-moderation-latest", input=parts)
    (result,) = resp.results
    applied = result.category_applied_input_types.model_dump(by_alias=True)
    for category in CATEGORIES:
        assert applied[category] == (["text", "image"] if category in IMAGE_CATEGORIES else ["text"])
    image: list[ModerationMultiModalInputParam] = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    ]
    image_only = client.moderations.create(input=image).results[0]
    assert image_only.category_applied_input_types.harassment == []
    assert image_only.category_applied_input_types.violence == ["image"]


def test_text_moderation_model(client: openai.OpenAI) -> None:
    image: list[ModerationMultiModalInputParam] = [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]
    resp = client.moderations.create(model="text-moderation-latest", input="hello")
    assert resp.model == "text-moderation-latest"
    with pytest.raises(openai.BadRequestError):
        client.moderations.create(model="text-moderation-latest", input=image)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "gpt-4o", "input": "hi"}, 400, "model"),
        ({"model": "no-such-model", "input": "hi"}, 404, "model"),
        ({}, 400, "input"),
        ({"input": []}, 400, "input"),
        ({"input": 5}, 400, "input"),
        ({"input": "x [[flag:nonsense]]"}, 400, "input"),
        ({"input": [{"type": "audio"}]}, 400, "input[0].type"),
    ],
)
def test_bad_input(server: LiveServer, body: dict[str, object], status: int, param: str) -> None:
    resp = httpx.post(server.openai_base + "/moderations", json=body, timeout=10)
    assert_openai_error(resp, status, param=param)


def test_models_are_listed(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"omni-moderation-latest", "text-moderation-latest"} <= ids


def test_moderation_models_do_not_chat(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="omni-moderation-latest", messages=[{"role": "user", "content": "hi"}])
