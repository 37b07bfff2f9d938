"""Masks: the built-in recognisers, JSONPath, learning from answers, the masks file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from battletest.errors import ConfigError
from battletest.replay.masks import (
    Mask,
    MaskSet,
    format_path,
    is_timestamp,
    learn,
    parse_path,
    recognise,
)


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("0b6a3a5e-1f7c-4d2e-9a51-6a0c1d2e3f40", "f3c2d1e0-aaaa-4bbb-8ccc-0123456789ab", "uuid"),
        ("2026-12-03T12:16:34Z", "2027-01-01T00:00:00.123+01:00", "timestamp"),
        ("Thu, 03 Dec 2026 12:16:34 GMT", "Fri, 04 Dec 2026 01:02:03 GMT", "timestamp"),
        (1796300194.7263005, 1796300999.1, "timestamp"),
        (1796300194726, 1796300999000, "timestamp"),
        ("call_59b6f741ce51", "call_1a2b3c4d5e6f", "token"),
        ('W/"5f2b-1a2b3c"', 'W/"9a9c-77aa00"', "token"),
    ],
)
def test_recognisers_tell_volatile_kinds(a: object, b: object, kind: str) -> None:
    assert recognise(a, b) == kind


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ringing", "ended"),  # a state is a value, not an id
        ("call_59b6f741ce51", "user_59b6f741ce51"),  # another kind of object
        ("call_59b6f741ce51", "call_59b6f741ce5"),  # another length
        (200, 500),
        (1796300194.7, "1796300194.7"),  # a type change is never volatile
        ("admin", "guest"),
    ],
)
def test_recognisers_do_not_hide_real_changes(a: object, b: object) -> None:
    assert recognise(a, b) is None


def test_small_numbers_are_no_timestamps() -> None:
    assert not is_timestamp(900) and not is_timestamp(3.5) and not is_timestamp(True)


@pytest.mark.parametrize(
    ("path", "steps"),
    [("$", ()), ("$.a.b", ("a", "b")), ("$.items[*].id", ("items", "*", "id")),
     ("$['odd name'][0]", ("odd name", "0"))],
)  # fmt: skip
def test_jsonpath_round_trip(path: str, steps: tuple[str, ...]) -> None:
    assert parse_path(path) == steps
    assert parse_path(format_path(steps)) == steps


@given(
    st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}|[0-9]{1,3}", fullmatch=True), max_size=5)
)
def test_format_then_parse_is_identity(steps: list[str]) -> None:
    assert parse_path(format_path(steps)) == tuple(steps)


def test_a_bad_path_or_kind_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match="must start with"):
        Mask("items.id", "uuid")
    with pytest.raises(ConfigError, match="unknown mask kind 'guid'"):
        Mask("$.id", "guid")  # type: ignore[arg-type]


def test_learn_proposes_a_kind_per_varying_field_and_nothing_for_unknown_changes() -> None:
    one = {
        "id": "call_59b6f741ce51",
        "at": "2026-12-03T12:16:34Z",
        "n": 3,
        "status": "ringing",
        "tags": ["a", "b", "c"],
        "items": [{"uid": "0b6a3a5e-1f7c-4d2e-9a51-6a0c1d2e3f40"}],
    }
    two = {
        "id": "call_1a2b3c4d5e6f",
        "at": "2026-12-03T12:20:00Z",
        "n": 7,
        "status": "ended",
        "tags": ["c", "a", "b"],
        "items": [{"uid": "f3c2d1e0-aaaa-4bbb-8ccc-0123456789ab"}],
    }
    masks = {m.path: m for m in learn("GET /calls/{id}", [one, two])}
    assert {p: m.kind for p, m in masks.items()} == {
        "$.at": "timestamp",
        "$.id": "token",
        "$.items[*].uid": "uuid",
        "$.n": "number-range",
        "$.tags": "set-ordering",
    }  # "status" changed in no recognised way: reported, never masked
    assert (masks["$.n"].low, masks["$.n"].high) == (3, 7)
    assert learn("GET /x", [one]) == []


def test_mask_file_round_trip_is_stable_and_editable(tmp_path: Path) -> None:
    masks = MaskSet([Mask("$.n", "number-range", "GET /x", 1, 5), Mask("$.at", "timestamp")])
    path = masks.save(tmp_path / "masks.json")
    data = json.loads(path.read_text())
    assert [m["path"] for m in data["masks"]] == ["$.at", "$.n"]  # sorted: diff-friendly
    data["masks"].append({"operation": "*", "path": "$.etag", "kind": "ignore"})
    path.write_text(json.dumps(data))
    loaded = MaskSet.load(path)
    assert loaded.find("GET /x", ("n",)) == Mask("$.n", "number-range", "GET /x", 1, 5)
    assert loaded.find("GET /y", ("n",)) is None  # another operation
    assert loaded.find("GET /y", ("etag",)) is not None


def test_a_broken_masks_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text('{"masks": [{"path": "$.a"}]}')
    with pytest.raises(ConfigError, match="needs a path and a kind"):
        MaskSet.load(bad)
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        MaskSet.load(bad)


def test_a_counter_gets_an_open_range() -> None:
    answers = [{"seq": 4, "t": 0.5}, {"seq": 9, "t": 0.7}, {"seq": 17, "t": 0.6}]
    masks = {m.path: m for m in learn("GET /x", answers)}
    assert (masks["$.seq"].low, masks["$.seq"].high) == (0.0, None)  # the next one is past 17
    assert (masks["$.t"].low, masks["$.t"].high) == (0.5, 0.7)
    assert masks["$.seq"].allows(4, 400) and not masks["$.t"].allows(0.5, 0.9)
