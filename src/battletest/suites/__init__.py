"""The built-in suites (contract, auth, errors, pytest) and the interface every suite follows."""

from __future__ import annotations

from battletest.suites.base import CaseRecorder, Progress, SilentProgress, Suite, SuiteContext

__all__ = ["CaseRecorder", "Progress", "SilentProgress", "Suite", "SuiteContext"]
