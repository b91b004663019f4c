"""Known-answer tests for the feature metrics, the Parzen estimate and the IS-style score."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from genzoo.evaluation import metrics as M


def _gauss(n, d, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


# ------------------------------------------------------------------------------------- Fréchet


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
    f = _gauss(400, 16, 0)
    assert M.fid(f, f) == pytest.approx(0.0, abs=1e-6)
    noise = _gauss(400, 16, 1)
    values = [M.fid(f, f + s * noise) for s in (0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert values[0] > 0


def test_frechet_distance_matches_scipy_sqrtm_and_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    # diagonal closed form: sum (m1-m2)^2 + (sqrt v1 - sqrt v2)^2
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    closed = ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum() + 1.0
    assert M.frechet_distance(np.zeros(3), np.diag(v1), np.array([1.0, 0, 0]), np.diag(v2)) == \
        pytest.approx(closed, rel=1e-10)


def test_frechet_distance_is_finite_for_singular_covariances():
    f1, f2 = _gauss(5, 20, 0), _gauss(5, 20, 1)  # fewer samples than features: rank-4 covariances
    v = M.fid(f1, f2)
    assert math.isfinite(v) and v > 0


def test_fid_rejects_bad_input():
    with pytest.raises(ValueError, match="feature matrix"):
        M.fid(torch.zeros(10), torch.zeros(10))
    with pytest.raises(ValueError, match="mismatched"):
        M.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


# ------------------------------------------------------------------------------------------ KID


def test_kid_is_unbiased_between_two_samples_of_one_distribution():
    # the unbiased MMD^2 has expectation 0; its mean over R independent draws must lie within a few
    # standard errors (std / sqrt(R)) of 0, while the biased V-statistic would be clearly positive
    draws = np.array([M.mmd2_unbiased(_gauss(40, 8, 2 * i), _gauss(40, 8, 2 * i + 1)) for i in range(300)])
    se = draws.std(ddof=1) / math.sqrt(len(draws))
    assert abs(draws.mean()) < 4 * se
    assert (draws < 0).any()  # unbiasedness implies negative values occur


def test_kid_detects_a_shift_and_reports_mean_and_std():
    g = torch.Generator().manual_seed(0)
    same = M.kid(_gauss(200, 8, 0), _gauss(200, 8, 1), subsets=20, subset_size=100, generator=g)
    far = M.kid(_gauss(200, 8, 0), _gauss(200, 8, 1, shift=1.0), subsets=20, subset_size=100, generator=g)
    assert far[0] > same[0] + 5 * far[1] / math.sqrt(20)
    assert far[1] > 0 and same[1] > 0


def test_kid_is_reproducible_with_a_generator():
    a, b = _gauss(100, 4, 0), _gauss(100, 4, 1, shift=0.5)
    r1 = M.kid(a, b, subsets=5, subset_size=50, generator=torch.Generator().manual_seed(3))
    r2 = M.kid(a, b, subsets=5, subset_size=50, generator=torch.Generator().manual_seed(3))
    assert r1 == r2


# --------------------------------------------------------------------------- precision / recall


def test_precision_recall_of_a_set_with_itself_is_one():
    f = _gauss(300, 10, 0)
    assert M.precision_recall(f, f, k=3) == {"precision": 1.0, "recall": 1.0}


def test_precision_recall_of_far_disjoint_sets_is_zero():
    pr = M.precision_recall(_gauss(200, 10, 0), _gauss(200, 10, 1, shift=100.0), k=3)
    assert pr == {"precision": 0.0, "recall": 0.0}


def test_precision_recall_separates_mode_dropping_from_bad_samples():
    real = _gauss(400, 2, 0)
    collapsed = real[real[:, 0] > 0.5][:100]  # good samples covering only part of the real set
    pr = M.precision_recall(real, collapsed, k=3)
    assert pr["precision"] > 0.9 and pr["recall"] < 0.6


def test_precision_recall_rejects_large_k():
    with pytest.raises(ValueError, match="k=10"):
        M.precision_recall(_gauss(10, 2, 0), _gauss(10, 2, 1), k=10)


# ------------------------------------------------------------------------------------ IS-style


def test_inception_score_of_confident_uniform_predictions_is_the_number_of_classes():
    k = 10
    probs = torch.nn.functional.one_hot(torch.arange(1000) % k, k).double()
    mean, std = M.inception_score(probs, splits=10)
    assert mean == pytest.approx(k, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_of_a_single_class_or_of_uniform_posteriors_is_one():
    one_class = torch.nn.functional.one_hot(torch.zeros(100, dtype=torch.long), 10).double()
    assert M.inception_score(one_class, splits=2)[0] == pytest.approx(1.0)
    assert M.inception_score(torch.full((100, 10), 0.1), splits=2)[0] == pytest.approx(1.0)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax"):
        M.inception_score(torch.randn(20, 10), splits=2)


# ------------------------------------------------------------------------------------------ Parzen


def test_parzen_matches_the_closed_form_mixture_density():
    c, x, sigma = _gauss(7, 3, 0), _gauss(5, 3, 1), 0.8
    got = M.parzen_log_prob(c, x, sigma)
    comps = torch.distributions.Normal(c[None], sigma).log_prob(x[:, None]).sum(-1)  # (5, 7)
    expected = torch.log(torch.exp(comps).mean(1))  # direct formula, no tricks
    assert torch.allclose(got, expected, atol=1e-10)


def test_parzen_logsumexp_is_stable_far_from_every_centre():
    c = torch.zeros(3, 784, dtype=torch.float64)
    x = torch.full((2, 784), 1.0, dtype=torch.float64)  # squared distance 784, sigma 0.05: exp underflows
    sigma = 0.05
    got = M.parzen_log_prob(c, x, sigma)
    expected = -784 / (2 * sigma**2) - 0.5 * 784 * math.log(2 * math.pi * sigma**2)
    assert torch.isfinite(got).all()
    assert torch.allclose(got, torch.full((2,), expected, dtype=torch.float64), rtol=1e-12)


def test_parzen_selects_a_sensible_bandwidth_and_reports_stderr():
    samples, valid, test = _gauss(1000, 1, 0), _gauss(300, 1, 1), _gauss(300, 1, 2)
    out = M.parzen_log_likelihood(samples, valid, test, sigmas=tuple(np.logspace(-2, 1, 13)))
    # Silverman's rule gives 1.06 * 1000^(-1/5) = 0.27 for unit-variance data
    assert 0.1 <= out["parzen_sigma"] <= 0.6
    true_ll = -0.5 * (1 + math.log(2 * math.pi))  # E log N(x; 0, 1)
    assert abs(out["parzen_ll"] - true_ll) < 4 * out["parzen_stderr"] + 0.05
    assert 0 < out["parzen_stderr"] < 0.1


def test_parzen_rejects_bad_sigma_and_shapes():
    with pytest.raises(ValueError, match="sigma"):
        M.parzen_log_prob(torch.zeros(2, 3), torch.zeros(1, 3), 0.0)
    with pytest.raises(ValueError, match="dimensions"):
        M.parzen_log_prob(torch.zeros(2, 3), torch.zeros(1, 4), 1.0)


# ------------------------------------------------------------------------------ sample_quality


class _Identity:
    name = "identity"

    def __call__(self, x):
        return x.flatten(1)

    def probs(self, x):
        return torch.softmax(x.flatten(1)[:, :4] * 50, -1)


def test_sample_quality_runs_every_metric():
    real = torch.rand(60, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    out = M.sample_quality(real, real.clone(), _Identity(), kid_subsets=3, kid_subset_size=30, is_splits=3,
                           generator=torch.Generator().manual_seed(0))
    assert out["fid"] == pytest.approx(0.0, abs=1e-6)
    assert out["precision"] == 1.0 and out["recall"] == 1.0
    assert set(out) >= {"kid", "kid_std", "is", "is_std"}


def test_kid_std_is_not_degenerate_when_the_sets_are_small():
    # subsets as large as the sets would all be equal (std 0); the cap at half the set prevents it
    mean, std = M.kid(_gauss(60, 4, 0), _gauss(60, 4, 1, shift=1.0), subsets=10, subset_size=1000,
                      generator=torch.Generator().manual_seed(0))
    assert std > 0.01 * abs(mean)
