"""Security: API-key authentication, roles, per-key rate tiers, admin protection."""
