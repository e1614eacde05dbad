"""Keys are kept as digests, compared without early exit, and masked in messages."""

from __future__ import annotations

import hashlib

from pydantic import SecretStr

from llm_simulator.config.security import ApiKeySpec, AuthConfig
from llm_simulator.security.keys import KeyRing, mask


def ring() -> KeyRing:
    return KeyRing(
        AuthConfig(
            api_keys=(SecretStr("sk-user-plain"),),
            admin_keys=(SecretStr("sk-admin-plain"),),
            keys=(
                ApiKeySpec(name="ci", key=SecretStr("sk-ci-0123456789"), role="readonly", throttle="premium"),
                ApiKeySpec(name="hashed", key_sha256=hashlib.sha256(b"sk-from-hash").hexdigest()),
                ApiKeySpec(name="old", key=SecretStr("sk-old-key"), enabled=False),
            ),
        )
    )


def test_every_kind_of_key_is_found_with_its_principal() -> None:
    keys = ring()
    assert len(keys) == 5
    user, enabled = keys.lookup("sk-user-plain")
    assert user is not None and (user.role, user.throttle, enabled) == ("user", None, True)
    admin, _ = keys.lookup("sk-admin-plain")
    assert admin is not None and admin.role == "admin"
    ci, _ = keys.lookup("sk-ci-0123456789")
    assert ci is not None and (ci.name, ci.role, ci.throttle) == ("ci", "readonly", "premium")
    hashed, _ = keys.lookup("sk-from-hash")
    assert hashed is not None and (hashed.name, hashed.throttle) == ("hashed", "standard")
    old, enabled = keys.lookup("sk-old-key")
    assert old is not None and enabled is False
    assert keys.lookup("sk-nope") == (None, False)


def test_plain_keys_are_not_kept_and_names_hide_them() -> None:
    keys = ring()
    listing = repr(keys.names()) + repr(vars(keys))
    for secret in ("sk-user-plain", "sk-admin-plain", "sk-ci-0123456789", "sk-old-key"):
        assert secret not in listing
    assert {k["name"] for k in keys.names()} == {"api_key_1", "admin_key_1", "ci", "hashed", "old"}


def test_mask_shows_at_most_four_characters_and_none_of_short_keys() -> None:
    assert mask("sk-proj-abcdefghijklmnop") == "sk-***p"
    assert mask("sk-abcdefghijklmnop") == "***"  # 19 characters: nothing shown
    assert mask("short") == "***"


def test_the_security_doc_example_loads_and_its_hash_is_the_ops_key() -> None:
    import re
    from pathlib import Path

    import yaml

    from llm_simulator.config.schema import SimulatorConfig

    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    config = SimulatorConfig.model_validate(yaml.safe_load(block.group(1)))
    principal, enabled = KeyRing(config.auth).lookup("sk-ops-please-change")
    assert principal is not None and (principal.name, principal.role, enabled) == ("ops", "admin", True)
