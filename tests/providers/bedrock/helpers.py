"""Shared pieces of the Bedrock wire tests: boto3 clients on a live simulator, extra headers, raw frames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import anthropic
import boto3
from botocore.config import Config

from llm_simulator.wire.eventstream import EventMessage, EventStreamDecoder

MODEL: Final = "anthropic.claude-haiku-4-5-20251001-v1:0"
PROFILE: Final = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
PROFILE_ARN: Final = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + PROFILE
CLAUDE: Final = "claude-haiku-4-5-20251001"  # the catalogue model those ids resolve to
LLAMA: Final = "meta.llama3-1-8b-instruct-v1:0"
ACCESS_KEY: Final = "AKIDEXAMPLE"
SECRET: Final = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
USER: Final[list[dict[str, Any]]] = [{"role": "user", "content": [{"text": "Hello"}]}]


def bedrock_client(url: str, access_key: str = ACCESS_KEY, secret: str = SECRET, retries: int = 1) -> Any:
    """boto3's ``bedrock-runtime`` client on ``url``: us-east-1, ``retries`` attempts in all."""
    config = Config(retries={"total_max_attempts": retries, "mode": "standard"}, read_timeout=30)
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=config,
    )


def send_headers(client: Any, headers: Mapping[str, str]) -> Any:
    """``client`` with ``headers`` added to every request before it is signed (botocore's event hook)."""

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-runtime.*", add)
    return client


def decode(raw: bytes) -> list[EventMessage]:
    """Every message of a whole event-stream body (CRCs checked), none left over."""
    decoder = EventStreamDecoder()
    messages = decoder.feed(raw)
    assert decoder.pending == 0, "the body ends mid-message"
    return messages


def anthropic_bedrock(url: str, **options: Any) -> anthropic.AnthropicBedrock:
    """anthropic's Bedrock client on ``url``, signing with the test credentials, no retries."""
    return anthropic.AnthropicBedrock(
        base_url=url,
        aws_region="us-east-1",
        aws_access_key=ACCESS_KEY,
        aws_secret_key=SECRET,
        max_retries=0,
        **options,
    )
