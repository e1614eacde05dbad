"""Providers: translators between each vendor's wire format and the neutral core."""
