"""The checks, grouped by OWASP API Security Top 10 (2023) risk.

``register_all(scanner)`` adds every check to one scanner instance; each module's ``register``
adds its own, so a caller can build a scanner with a subset.
"""

from __future__ import annotations

from battletest.security.checks import (
    authn,
    authz,
    dataprotect,
    fuzz,
    injection,
    inventory,
    misconfig,
    resources,
    ssrf,
    xss,
)
from battletest.security.framework import Scanner

MODULES = (
    authn,
    authz,
    misconfig,
    inventory,
    injection,
    xss,
    ssrf,
    resources,
    dataprotect,
    fuzz,
)


def register_all(scanner: Scanner) -> Scanner:
    for module in MODULES:
        module.register(scanner)
    return scanner


__all__ = ["MODULES", "register_all"]
