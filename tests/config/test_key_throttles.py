"""A key's own request bucket is a *throttle*; the old *tier* spellings load with a warning."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llm_simulator.config.security import AuthConfig, ThrottleSpec


def test_throttles_and_a_keys_throttle() -> None:
    auth = AuthConfig.model_validate(
        {
            "keys": [{"name": "ci", "key": "sk-ci-0123456789", "throttle": "premium"}],
            "throttles": {"premium": {"requests_per_minute": 5, "burst": 1}},
        }
    )
    assert auth.keys[0].throttle == "premium"
    assert auth.throttles == {"premium": ThrottleSpec(requests_per_minute=5, burst=1)}


def test_the_old_tier_spellings_still_load_with_a_future_warning() -> None:
    with pytest.warns(FutureWarning) as caught:
        auth = AuthConfig.model_validate(
            {
                "keys": [{"name": "ci", "key": "sk-ci-0123456789", "tier": "premium"}],
                "tiers": {"premium": {"requests_per_minute": 5, "burst": 1}},
            }
        )
    messages = sorted(str(w.message) for w in caught)
    assert messages[0].startswith("auth.keys[].tier is now auth.keys[].throttle")
    assert messages[1].startswith("auth.tiers is now auth.throttles")
    assert auth.keys[0].throttle == "premium"
    assert auth.throttles["premium"].burst == 1


def test_a_dump_uses_the_new_names_and_reloads_silently() -> None:
    auth = AuthConfig.model_validate({"keys": [{"name": "ci", "key": "sk-ci-0123456789", "throttle": "admin"}]})
    dumped = auth.model_dump(mode="python")
    assert "throttles" in dumped and "tiers" not in dumped
    assert AuthConfig.model_validate(dumped) == auth


def test_both_names_at_once_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"auth\.tiers is the old name of auth\.throttles"):
        AuthConfig.model_validate({"tiers": {}, "throttles": {}})
