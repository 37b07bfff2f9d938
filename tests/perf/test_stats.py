from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from battletest.perf.stats import MIN_SAMPLES, mann_whitney_u


def test_clearly_larger_samples_are_significant() -> None:
    base = [10.0 + i * 0.1 for i in range(20)]
    slow = [13.0 + i * 0.1 for i in range(20)]
    assert mann_whitney_u(base, slow, "greater").significant(0.01)
    assert not mann_whitney_u(base, slow, "less").significant(0.5)


def test_same_distribution_is_not_significant() -> None:
    rng = random.Random(7)
    a = [rng.gauss(10, 1) for _ in range(30)]
    b = [rng.gauss(10, 1) for _ in range(30)]
    assert not mann_whitney_u(a, b, "greater").significant(0.01)


def test_too_few_samples_give_no_p_value() -> None:
    t = mann_whitney_u([1.0] * (MIN_SAMPLES - 1), [5.0] * 10)
    assert t.p_value is None and not t.significant(0.5)


def test_all_ties_are_no_evidence() -> None:
    assert mann_whitney_u([3.0] * 8, [3.0] * 8).p_value == 1.0


def test_known_value_against_the_exact_normal_approximation() -> None:
    # 1..5 vs 6..10: U_current = 25 (all larger); z = (25 - 12.5 - 0.5) / sqrt(22.9167)
    t = mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], "greater")
    assert t.u == 25
    assert t.p_value is not None and abs(t.p_value - 0.006) < 0.001


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=5, max_size=30),
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=5, max_size=30),
)
def test_one_sided_p_values_are_probabilities_and_complementary(
    a: list[float], b: list[float]
) -> None:
    g = mann_whitney_u(a, b, "greater").p_value
    le = mann_whitney_u(a, b, "less").p_value
    assert g is not None and le is not None
    assert 0.0 <= g <= 1.0 and 0.0 <= le <= 1.0
    assert not (g < 0.05 and le < 0.05)
