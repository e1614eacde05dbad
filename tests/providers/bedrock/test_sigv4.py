"""SigV4: the simulator's verifier against botocore's signer, and AWS's refusals over the wire."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.exceptions
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from llm_simulator.config.bedrock import BedrockConfig
from llm_simulator.core.errors import SimulatorError
from llm_simulator.providers.bedrock.sigv4 import check_request, parse_authorization
from tests.live import LiveServer, live_server
from tests.providers.bedrock.helpers import (
    ACCESS_KEY,
    MODEL,
    PROFILE_ARN,
    SECRET,
    USER,
    anthropic_bedrock,
    bedrock_client,
)

CONFIG = f"""\
bedrock:
  credentials:
    {ACCESS_KEY}: "{SECRET}"
"""


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A simulator that verifies every Bedrock signature against one access key."""
    path = tmp_path_factory.mktemp("bedrock") / "bedrock-keys.yaml"
    path.write_text(CONFIG)
    with live_server("--no-latency", "--config", str(path)) as live:
        yield live


def _signed(model: str, operation: str, body: bytes, secret: str = SECRET, quote_safe: str = "") -> AWSRequest:
    """A request signed by botocore's own signer, the model id encoded as a client would."""
    url = f"http://127.0.0.1:8080/model/{quote(model, safe=quote_safe)}/{operation}"
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, secret), "bedrock", "us-east-1").add_auth(request)  # signed now
    return request


def _check(
    request: AWSRequest,
    config: BedrockConfig,
    model: str,
    operation: str,
    late_s: float = 0.0,
    body: bytes | None = None,
) -> None:
    """Verify ``request`` as the server would see it (``body`` replacing the one signed)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = urlsplit(request.url).netloc
    if body is None:
        body = request.body if isinstance(request.body, bytes) else b""
    check_request(config, "POST", ("model", model, operation), {}, headers, body, time.time() + late_s)


def _config(secret: str = SECRET) -> BedrockConfig:
    return BedrockConfig.model_validate({"credentials": {ACCESS_KEY: secret}})


@pytest.mark.parametrize("model", [MODEL, PROFILE_ARN])
@pytest.mark.parametrize("quote_safe", ["", ":;"])
def test_botocore_signatures_verify(model: str, quote_safe: str) -> None:
    body = json.dumps({"messages": USER}).encode()
    _check(_signed(model, "converse", body, quote_safe=quote_safe), _config(), model, "converse")


def test_a_changed_body_or_secret_does_not_verify() -> None:
    request = _signed(MODEL, "converse", b'{"messages": []}')
    with pytest.raises(SimulatorError) as info:
        _check(request, _config(), MODEL, "converse", body=b'{"messages": [1]}')
    assert info.value.code == "InvalidSignatureException"
    with pytest.raises(SimulatorError) as info:
        _check(_signed(MODEL, "converse", b"{}"), _config("another-secret"), MODEL, "converse")
    assert info.value.code == "InvalidSignatureException"


def test_an_old_signature_has_expired() -> None:
    request = _signed(MODEL, "converse", b"{}")
    with pytest.raises(SimulatorError, match="Signature expired") as info:
        _check(request, _config(), MODEL, "converse", late_s=16 * 60)
    assert info.value.status == 403


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + "a" * 64, "requires 'Credential'"),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260301/us-east-1/bedrock/aws4_request, Signature=" + "a" * 64,
            "requires 'SignedHeaders'",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/2026/us-east-1/bedrock/aws4_request, SignedHeaders=host, "
            "Signature=" + "a" * 64,
            "scoped to a valid region",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260301/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=" + "a" * 64,
            "must be a 'SignedHeader'",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260301/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=host, Signature=xyz",
            "64 lower-case hex",
        ),
    ],
)
def test_malformed_headers_are_incomplete_signatures(header: str, complaint: str) -> None:
    with pytest.raises(SimulatorError, match=complaint) as info:
        parse_authorization(header)
    assert info.value.code == "IncompleteSignatureException"


def test_wrong_service_in_the_scope_is_refused() -> None:
    header = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260301/us-east-1/s3/aws4_request, SignedHeaders=host, "
    with pytest.raises(SimulatorError, match="correct service") as info:
        parse_authorization(header + "Signature=" + "a" * 64)
    assert info.value.code == "InvalidSignatureException"


# -- over the wire ---------------------------------------------------------------------------


def test_boto3_signed_requests_are_accepted(signed_server: LiveServer) -> None:
    client = bedrock_client(signed_server.url)
    response = client.converse(modelId=PROFILE_ARN, messages=USER, inferenceConfig={"maxTokens": 4})
    assert response["usage"]["outputTokens"] <= 4
    events = list(client.converse_stream(modelId=MODEL, messages=USER, inferenceConfig={"maxTokens": 4})["stream"])
    assert "metadata" in events[-1]


def test_anthropic_bedrock_signed_requests_are_accepted(signed_server: LiveServer) -> None:
    with anthropic_bedrock(signed_server.url) as client:
        message = client.messages.create(model=MODEL, max_tokens=4, messages=[{"role": "user", "content": "Hi"}])
    assert message.usage.output_tokens <= 4


@pytest.mark.parametrize(
    ("access_key", "secret", "code"),
    [
        (ACCESS_KEY, "not-the-secret", "InvalidSignatureException"),
        ("AKIDUNKNOWN", SECRET, "UnrecognizedClientException"),
    ],
)
def test_boto3_sees_aws_refusals(signed_server: LiveServer, access_key: str, secret: str, code: str) -> None:
    client = bedrock_client(signed_server.url, access_key=access_key, secret=secret)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.converse(modelId=MODEL, messages=USER)
    error: Any = info.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unsigned_request_needs_a_token(signed_server: LiveServer) -> None:
    response = httpx.post(f"{signed_server.url}/model/{MODEL}/converse", json={"messages": USER}, timeout=30)
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].split(":")[0] == "MissingAuthenticationTokenException"
    assert response.json() == {"message": "Missing Authentication Token"}


def test_unsigned_requests_pass_without_configured_credentials(fast_server: LiveServer) -> None:
    response = httpx.post(
        f"{fast_server.url}/model/{MODEL}/converse",
        json={"messages": USER, "inferenceConfig": {"maxTokens": 2}},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["usage"]["outputTokens"] <= 2
