from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from battletest.perf.stats import (
    MIN_SAMPLES,
    block_length,
    holm,
    mann_whitney_u,
    shift_test,
    t_sf,
)


def _ar1(n: int, rho: float, rng: random.Random, sd: float = 0.1) -> list[float]:
    x, out = rng.gauss(0, 1), []
    for _ in range(n):
        x = rho * x + math.sqrt(1 - rho * rho) * rng.gauss(0, 1)
        out.append(10.0 * math.exp(sd * x))
    return out


# --- the block test ----------------------------------------------------------------------


def test_a_clear_shift_is_significant_and_only_one_way() -> None:
    rng = random.Random(3)
    base = [10 * (1 + rng.uniform(-0.03, 0.03)) for _ in range(40)]
    slow = [13 * (1 + rng.uniform(-0.03, 0.03)) for _ in range(40)]
    assert shift_test(base, slow, "greater").significant(0.001)
    assert not shift_test(base, slow, "less").significant(0.5)


def test_autocorrelated_series_get_blocks_and_white_noise_does_not() -> None:
    rng = random.Random(5)
    noise = [rng.gauss(0, 1) for _ in range(300)]
    sticky = [math.log(v) for v in _ar1(300, 0.8, rng)]
    assert block_length(noise) == 1
    assert block_length(sticky) >= 4
    test = shift_test(_ar1(120, 0.8, rng), _ar1(120, 0.8, rng))
    assert test.block >= 6 and test.blocks_baseline == 120 // test.block


def test_small_samples_use_the_exact_permutation_test() -> None:
    # 5 against 5, every current value larger: 1 split in C(10, 5) = 252 is as extreme
    t = shift_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], "greater")
    assert t.method == "exact-permutation" and t.block == 1
    assert t.p_value == pytest.approx(1 / 252)
    assert shift_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], "less").p_value == 1.0


def test_too_few_samples_give_no_p_value() -> None:
    t = shift_test([1.0] * (MIN_SAMPLES - 1), [5.0] * 10)
    assert t.p_value is None and t.method == "none" and not t.significant(0.5)


def test_autocorrelation_does_not_make_false_alarms() -> None:
    """The reason for the blocks: at lag-1 autocorrelation 0.5, independent-sample
    Mann-Whitney raises several times its nominal 1 %; the block test stays near it."""
    rng = random.Random(11)
    pairs = [(_ar1(120, 0.5, rng), _ar1(120, 0.5, rng)) for _ in range(200)]
    old = sum(mann_whitney_u(a, b).significant(0.01) for a, b in pairs)
    new = sum(shift_test(a, b).significant(0.01) for a, b in pairs)
    assert old >= 8  # ≥ 4 % (measured 8.9 % over 1,000 pairs)
    assert new <= 5  # ≤ 2.5 % (measured 1.2 % over 1,000 pairs)


series = st.lists(st.floats(0.01, 1000, allow_nan=False), min_size=5, max_size=40)


@settings(max_examples=80, deadline=None)
@given(series, series)
def test_p_values_are_probabilities_symmetric_and_one_sided(a: list[float], b: list[float]) -> None:
    up = shift_test(a, b, "greater")
    down = shift_test(a, b, "less")
    assert up.p_value is not None and down.p_value is not None
    assert 0.0 <= up.p_value <= 1.0 and 0.0 <= down.p_value <= 1.0
    assert not (up.p_value < 0.05 and down.p_value < 0.05)
    # the same question asked from the other side gets the same answer
    mirror = shift_test(b, a, "less").p_value
    assert mirror is not None and mirror == pytest.approx(up.p_value, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(series)
def test_identical_runs_are_never_significant(a: list[float]) -> None:
    for alternative in ("greater", "less"):
        t = shift_test(a, list(a), alternative)  # type: ignore[arg-type]
        assert t.p_value == 1.0 and not t.significant(0.5)


@settings(max_examples=40, deadline=None)
@given(series, st.floats(1.0, 3.0))
def test_a_slower_current_run_never_looks_less_slow(a: list[float], factor: float) -> None:
    p_same = shift_test(a, [v * 1.0001 for v in a]).p_value
    p_slow = shift_test(a, [v * factor * 1.0001 for v in a]).p_value
    assert p_same is not None and p_slow is not None and p_slow <= p_same + 1e-12


# --- helpers -----------------------------------------------------------------------------


def test_student_t_tail_matches_tables() -> None:
    assert t_sf(2.0, 10) == pytest.approx(0.03669, abs=1e-5)
    assert t_sf(2.764, 10) == pytest.approx(0.01, abs=1e-4)
    assert t_sf(-1.0, 5) == pytest.approx(1 - 0.18161, abs=1e-5)
    assert t_sf(1.959964, 1e7) == pytest.approx(0.025, abs=1e-5)


def test_holm_adjusts_step_down_and_keeps_untested_rows() -> None:
    # sorted 0.01, 0.03, 0.04 → 3×0.01, max(2×0.03, 0.03), max(1×0.04, 0.06)
    assert holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])
    assert holm([]) == []
    assert holm([0.6, 0.9]) == [1.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), max_size=12))
def test_holm_never_lowers_a_p_value(ps: list[float | None]) -> None:
    adjusted = holm(ps)
    for raw, adj in zip(ps, adjusted, strict=True):
        assert (raw is None) == (adj is None)
        if raw is not None and adj is not None:
            assert raw <= adj <= 1.0


# --- the previous test, kept for the benchmark -------------------------------------------


def test_mann_whitney_known_value_and_ties() -> None:
    # 1..5 vs 6..10: U_current = 25 (all larger); z = (25 - 12.5 - 0.5) / sqrt(22.9167)
    t = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], "greater")
    assert t.u == 25
    assert t.p_value is not None and abs(t.p_value - 0.006) < 0.001
    assert mann_whitney_u([3.0] * 8, [3.0] * 8).p_value == 1.0
    assert mann_whitney_u([1.0] * (MIN_SAMPLES - 1), [5.0] * 10).p_value is None


# --- the margin and block statistics -----------------------------------------------------


def test_a_shift_is_tested_against_the_margin() -> None:
    rng = random.Random(7)
    base = [10 * math.exp(rng.gauss(0, 0.02)) for _ in range(60)]
    margin = math.log(1.05)
    # every interval 3 % slower: clearly shifted, but not by more than 5 %
    near = shift_test(base, [v * 1.03 for v in base], "greater", margin=margin)
    assert near.p_value is not None and near.p_value > 0.5
    assert near.shift == pytest.approx(math.log(1.03))
    far = shift_test(base, [v * 1.15 for v in base], "greater", margin=margin)
    assert far.significant(0.001) and far.se is not None and far.df is not None
    # the margin is one-sided: 15 % faster is not "more than 5 % slower"
    assert not shift_test(base, [v / 1.15 for v in base], "greater", margin=margin).significant(0.5)
    assert shift_test(base, [v / 1.15 for v in base], "less", margin=margin).significant(0.001)


def test_a_block_statistic_replaces_the_block_means() -> None:
    calls: list[tuple[int, int, int]] = []

    def statistic(side: int, start: int, stop: int) -> float:
        calls.append((side, start, stop))
        return float(side) + 0.01 * (start % 3)  # the current run's blocks are all higher

    t = shift_test([1.0] * 30, [1.0] * 30, "greater", statistic=statistic)
    assert {side for side, _, _ in calls} == {0, 1}
    assert all(stop - start == t.block for _, start, stop in calls)
    assert t.significant(0.001)  # the per-interval values alone are identical


def test_margin_permutation_test_moves_the_current_run_back() -> None:
    # 5 against 5 memoryless values: exact test; +2 on every value is not "more than +3"
    base = [1.0, 2.0, 3.0, 4.0, 5.0]
    up = [math.exp(math.log(v) + 2.0) for v in base]
    assert shift_test(base, up, "greater").p_value == pytest.approx(1 / 252)
    moved_back = shift_test(base, up, "greater", margin=3.0).p_value
    assert moved_back is not None and moved_back > 0.9
