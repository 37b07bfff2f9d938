"""Identities for tests: logins, tokens, API keys, refresh, and JWT forging for attacks."""

from __future__ import annotations

from battletest.auth.identities import Identities, IdentitySession

__all__ = ["Identities", "IdentitySession"]
