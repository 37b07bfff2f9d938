"""The harness fails loudly, never skips, when an app's venv is missing."""

from __future__ import annotations

import pytest
from tests.thirdparty.apps import KINTO, ThirdPartyApp, require_installed


def test_a_missing_venv_fails_with_one_line_naming_make_thirdparty() -> None:
    missing = ThirdPartyApp(
        name="not-installed-app", version="1.0", spec_path="/", base_path="", health_path="/"
    )
    with pytest.raises(pytest.fail.Exception) as failure:
        require_installed(missing)
    message = str(failure.value)
    assert "make thirdparty" in message
    assert "\n" not in message


def test_the_pinned_version_is_the_installed_one() -> None:
    require_installed(KINTO)  # fails (with the same one line) when the venv drifted
    stale = ThirdPartyApp(
        name="kinto", version="0.0.1", spec_path="/", base_path="", health_path="/"
    )
    with pytest.raises(pytest.fail.Exception, match=r"holds kinto 26\.5\.0, not 0\.0\.1"):
        require_installed(stale)
