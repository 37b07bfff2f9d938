"""The ``bt_mock`` / ``bt_mock_factory`` fixtures, tested from the outside with pytester."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_bt_mock_fixture_in_a_user_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        import pytest

        def test_stub_and_verify(bt_mock):
            bt_mock.add_stub({"method": "GET", "path": "/r/{id}", "response": {"status": 200}})
            httpx.get(bt_mock.url + "/r/1", headers={"x-correlation-id": "c1"})
            bt_mock.verify("GET", "/r/{id}", count=1, headers={"x-correlation-id": "c1"})

        def test_failure_scenario(bt_mock):
            bt_mock.activate_failure("throttling", seconds=5)
            assert httpx.get(bt_mock.url + "/anything").status_code == 429

        def test_factory_from_file(bt_mock_factory, tmp_path):
            f = tmp_path / "s.toml"
            f.write_text('[[stubs]]\\npath = "/a"\\n[stubs.response]\\nstatus = 204\\n')
            mock = bt_mock_factory(file=f)
            assert httpx.get(mock.url + "/a").status_code == 204

        def test_verify_fails_the_test(bt_mock):
            bt_mock.verify("POST", "/never")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*expected at least 1 request(s) matching POST /never*"])
