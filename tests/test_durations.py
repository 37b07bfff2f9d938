"""The one duration parser every consumer reads (load, scenarios, experiments, mock --for)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from battletest.durations import parse_duration
from battletest.errors import UsageError

UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("2h", 7200.0),
        ("1.5s", 1.5),
        ("1.5", 1.5),  # a bare number is seconds
        ("30", 30.0),
        (45, 45.0),
        (0.25, 0.25),
        ("1h30m", 5400.0),
        ("2m 30s", 150.0),
        (" 10S ", 10.0),
        ("250us", 0.00025),
        (".5s", 0.5),
        ("0", 0.0),
    ],
)
def test_the_forms_users_write(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", " ", "abc", "30 sec", "1m30", "-1s", "1e3", "s", "5 minutes", "1,5s", "--2s", True]
)
def test_garbage_is_one_line(text: object) -> None:
    with pytest.raises(UsageError) as err:
        parse_duration(text, what="think time")  # type: ignore[arg-type]
    line = str(err.value)
    assert "\n" not in line and "think time" in line


def test_zero_is_refused_where_a_duration_must_be_positive() -> None:
    with pytest.raises(UsageError, match="greater than zero"):
        parse_duration("0s", what="--for", positive=True)


parts = st.lists(
    st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1, max_size=4
)


@settings(max_examples=300, deadline=None)
@given(parts=parts, space=st.sampled_from(["", " "]))
def test_composite_durations_sum_their_parts(parts: list[tuple[int, str]], space: str) -> None:
    text = space.join(f"{n}{unit}" for n, unit in parts)
    expected = sum(n * UNITS[unit] for n, unit in parts)
    assert math.isclose(parse_duration(text), expected, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(0, 1e6, allow_nan=False))
def test_a_bare_number_is_seconds_as_text_and_as_a_number(value: float) -> None:
    assert parse_duration(value) == value
    assert math.isclose(parse_duration(f"{value:f}"), value, abs_tol=1e-6)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=12))
def test_anything_either_parses_to_a_non_negative_number_or_is_one_usage_line(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert seconds >= 0 and math.isfinite(seconds)
