"""``battletest scan`` sends an identity's API key where ``[auth] api_key_in`` says (query or
cookie) and a config ``cookie`` identity's session cookie, as the transport's own identities
do; the key never reaches the run folder's reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from battletest.cli import main
from battletest.netutil import serve_app

from .keyplace_app import KEY, PROTECTED, build_app

pytestmark = [pytest.mark.slow, pytest.mark.network]

CONFIGS = {
    "query": '[auth]\napi_key_header = "token"\napi_key_in = "query"\n'
    f'[[identities]]\nname = "reader"\napi_key = "{KEY}"\n',
    "api-key-cookie": '[auth]\napi_key_header = "sid"\napi_key_in = "cookie"\n'
    f'[[identities]]\nname = "reader"\napi_key = "{KEY}"\n',
    "session-cookie": f'[[identities]]\nname = "reader"\ncookie = "sid={KEY}"\n',
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_scan_reaches_operations_with_the_key_where_the_app_wants_it(
    case: str, tmp_path: Path
) -> None:
    where, name = ("query", "token") if case == "query" else ("cookie", "sid")
    app = build_app(where, name)
    config = tmp_path / "battletest.toml"
    config.write_text(CONFIGS[case])
    out = tmp_path / "runs"
    with serve_app(app) as base, pytest.raises(SystemExit) as ended:
        main(
            [
                "scan",
                "--target",
                base,
                "--spec",
                f"{base}/openapi.json",
                "--config",
                str(config),
                "--checks",
                "security-headers",
                "--fail-on",
                "critical",
                "--out",
                str(out),
                "--sarif",
                str(tmp_path / "scan.sarif"),
            ]
        )
    assert ended.value.code in (0, None)
    reached = {
        path for method, path, status in app.state.log if path in PROTECTED and status == 200
    }
    assert reached == set(PROTECTED), app.state.log
    written = [p for p in out.rglob("*") if p.is_file()] + [tmp_path / "scan.sarif"]
    names = {p.name for p in written}
    assert {"report.json", "scan.sarif"} <= names and any("junit" in n for n in names), names
    leaked = [p.name for p in written if KEY in p.read_text(errors="replace")]
    assert leaked == []
