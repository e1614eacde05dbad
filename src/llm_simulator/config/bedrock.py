"""The ``bedrock`` section: AWS credentials the Bedrock runtime's SigV4 signatures are checked against."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# AWS refuses a request signed more than 15 minutes away from its own clock.
DEFAULT_MAX_SKEW_S = 900.0


class BedrockConfig(BaseModel):
    """SigV4 verification for ``/model/{modelId}/…``.

    Without ``credentials`` any well-formed signature (or none) is accepted, as a stand-in
    should; with them, every Bedrock request must be signed by one of these access keys.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    credentials: dict[str, SecretStr] = Field(
        default_factory=dict, description="Access key id → secret access key; signatures are verified when set."
    )
    max_clock_skew_s: float = Field(
        default=DEFAULT_MAX_SKEW_S, gt=0, description="How far X-Amz-Date may be from the server's clock."
    )
