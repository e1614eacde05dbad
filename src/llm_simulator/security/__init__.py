"""Security: API-key authentication, roles, per-key throttles, admin protection."""
