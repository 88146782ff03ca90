"""langmix's sign-flip test gives scipy.stats.permutation_test's p-values: exactly where both enumerate every
sign vector, within Monte Carlo error where both sample them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from langmix.evaluation.compare import paired_randomisation_test, sign_flip_null


def scipy_p(a: np.ndarray, b: np.ndarray, n_resamples: int) -> float:
    result = stats.permutation_test(
        (a, b), lambda x, y, axis: np.mean(y - x, axis=axis), vectorized=True, permutation_type="samples",
        n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(0),
    )
    return float(result.pvalue)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_test_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random(9), rng.random(9) + 0.2 * seed  # 2^9 = 512 sign vectors <= n_resamples: both exact
    assert paired_randomisation_test(a, b, n_resamples=1000) == pytest.approx(scipy_p(a, b, 1000), abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.1])
def test_sampled_test_agrees_with_scipy_within_monte_carlo_error(shift):
    rng = np.random.default_rng(7)
    a = rng.random(300)
    b = np.clip(a + rng.normal(shift, 0.3, 300), 0, 1)
    ours, theirs = paired_randomisation_test(a, b, 10_000), scipy_p(a, b, 10_000)
    # each estimate has a standard error of at most sqrt(p (1 - p) / 10^4) * 2 <= 0.01
    assert abs(ours - theirs) < 0.03, (ours, theirs)


def test_null_is_the_sign_flip_distribution():
    d = np.array([1.0, -2.0, 3.0])
    null, exact = sign_flip_null(d, 100, seed=0)
    assert exact and sorted(null * 3) == sorted(s1 * 1 - s2 * 2 + s3 * 3 for s1 in (1, -1) for s2 in (1, -1)
                                                 for s3 in (1, -1))
    sampled, exact = sign_flip_null(np.arange(1.0, 41.0), 5000, seed=0)
    assert not exact and len(sampled) == 5000
    assert abs(sampled.mean()) < 0.5 and sampled.std() == pytest.approx(np.sqrt((np.arange(1, 41) ** 2).sum()) / 40,
                                                                         rel=0.05)


def test_edge_cases():
    a = np.linspace(0, 1, 500)
    assert paired_randomisation_test(a, a.copy()) == 1.0  # no difference at all
    assert paired_randomisation_test(a, a + 0.5, 1000) == pytest.approx(2 / 1001)  # nothing as extreme in the null
    rng = np.random.default_rng(3)
    b = a + rng.normal(0.01, 0.1, 500)
    assert paired_randomisation_test(a, b) == paired_randomisation_test(b, a)  # two-sided: symmetric
    assert paired_randomisation_test(a, b, seed=1) == paired_randomisation_test(a, b, seed=1)  # seeded
