"""The security scanner: check framework, OWASP API Top 10 (2023) checks, findings.

Owns the OpenAPI operation model the checks read (``model``), the paced HTTP client
(``http``), the per-instance check registry (``framework``), the checks
(``checks/``), baselines of accepted findings and the ``battletest scan`` command. It talks to
the rest of battletest only through ``battletest.results`` types.
"""

from __future__ import annotations

from battletest.security.context import ScanIdentity
from battletest.security.framework import CheckInfo, Outcome, Scanner, ScanOutcome
from battletest.security.settings import ScanSettings
from battletest.security.suite import (
    default_scanner,
    run_security_suite,
    scan,
    settings_from,
    to_suite,
)

__all__ = [
    "CheckInfo",
    "Outcome",
    "ScanIdentity",
    "ScanOutcome",
    "ScanSettings",
    "Scanner",
    "default_scanner",
    "run_security_suite",
    "scan",
    "settings_from",
    "to_suite",
]
