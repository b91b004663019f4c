"""Sample-quality metrics in a feature space, and the Parzen-window log-likelihood.

All feature metrics take two feature matrices ``real`` (N, F) and ``fake`` (M, F), as produced by a
:class:`genzoo.evaluation.features.FeatureExtractor`; :func:`sample_quality` runs the extractor and
every metric at once. Figures are comparable only between runs that use the same feature network
(the extractor's ``name`` says which); with genzoo's small MNIST classifier they are
"FID-style", not the Inception-v3 FID of published tables.

* Fréchet distance (Heusel et al. 2017, eq. 6): ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^{1/2}).
* KID (Bińkowski et al. 2018, sec. 3): unbiased MMD^2 with the kernel k(a, b) = (a.b / F + 1)^3,
  averaged over random subsets.
* Improved precision and recall (Kynkäänniemi et al. 2019, eq. 1-2): k-NN balls around each set.
* Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), here from a classifier's softmax.
* Parzen-window log-likelihood (Breuleux et al. 2011; as used by Goodfellow et al. 2014).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def _np64(x: Array, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a (N, F) feature matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _t64(x: Array, name: str) -> torch.Tensor:
    return torch.from_numpy(_np64(x, name))


# ----------------------------------------------------------------------------------- Fréchet / FID


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition; tiny
    negative eigenvalues from round-off are clipped to zero."""
    a = 0.5 * (a + a.T)
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al.
    2017, eq. 6; Dowson & Landau 1982).

    Tr((S1 S2)^{1/2}) is computed as Tr((S1^{1/2} S2 S1^{1/2})^{1/2}): the inner matrix is
    symmetric PSD, so an eigendecomposition is stable even when the covariances are singular (fewer
    samples than features), where ``scipy.linalg.sqrtm`` of the non-symmetric product can return
    complex values.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"mismatched statistics: means {mu1.shape} vs {mu2.shape}, "
                         f"covariances {sigma1.shape} vs {sigma2.shape}")
    s1_half = _sqrtm_psd(sigma1)
    inner = s1_half @ sigma2 @ s1_half  # (F, F), symmetric PSD
    eig = np.clip(np.linalg.eigvalsh(0.5 * (inner + inner.T)), 0.0, None)
    tr_covmean = float(np.sqrt(eig).sum())
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def feature_statistics(features: Array) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and unbiased covariance (F, F) of a feature matrix (N, F)."""
    f = _np64(features, "features")
    if f.shape[0] < 2:
        raise ValueError("need at least 2 feature vectors for a covariance")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def fid(real: Array, fake: Array) -> float:
    """FID-style score: Fréchet distance between Gaussians fitted to two feature sets."""
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


# ------------------------------------------------------------------------------------------ KID


def _polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a @ b.T / a.shape[1] + 1.0) ** 3  # (n, m)


def mmd2_unbiased(x: Array, y: Array) -> float:
    """Unbiased MMD^2 estimate (Gretton et al. 2012, eq. 3) with the cubic polynomial kernel."""
    x, y = _t64(x, "x"), _t64(y, "y")
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError("the unbiased MMD needs at least 2 examples per set")
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kid(real: Array, fake: Array, *, subsets: int = 100, subset_size: int = 1000,
        generator: torch.Generator | None = None) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018): mean and standard deviation of the
    unbiased MMD^2 over ``subsets`` random subsets of ``subset_size`` examples from each set.
    The subset size is capped at half the smaller set, so that the subsets differ and the standard
    deviation measures something (with subsets as large as the sets, every draw is the same).
    The estimate is unbiased: its expectation is 0 when both sets come from one distribution, so
    small negative values are normal."""
    r, f = _t64(real, "real"), _t64(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature sizes differ: {r.shape[1]} vs {f.shape[1]}")
    size = min(subset_size, min(r.shape[0], f.shape[0]) // 2)
    if size < 2:
        raise ValueError("KID needs at least 4 examples in each set")
    if subsets < 1:
        raise ValueError("subsets must be >= 1")
    values = []
    for _ in range(subsets):
        ir = torch.randperm(r.shape[0], generator=generator)[:size]
        jf = torch.randperm(f.shape[0], generator=generator)[:size]
        values.append(mmd2_unbiased(r[ir], f[jf]))
    v = np.asarray(values)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


# --------------------------------------------------------------------------- precision / recall


def _kth_nn_radius(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row, shape (N,)."""
    out = []
    for i in range(0, x.shape[0], chunk):
        d = torch.cdist(x[i:i + chunk], x)  # (c, N); includes the zero self-distance
        out.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def _inside_any_ball(query: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                     chunk: int = 1024) -> torch.Tensor:
    out = []
    for i in range(0, query.shape[0], chunk):
        d = torch.cdist(query[i:i + chunk], centres)  # (c, N)
        out.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(out)


def precision_recall(real: Array, fake: Array, *, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, eq. 1-2).

    The real manifold is the union of balls around each real feature whose radius is the distance
    to its k-th nearest real neighbour; precision is the fraction of fake features inside it.
    Recall swaps the roles.
    """
    r, f = _t64(real, "real"), _t64(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature sizes differ: {r.shape[1]} vs {f.shape[1]}")
    if k < 1 or k >= min(r.shape[0], f.shape[0]):
        raise ValueError(f"k={k} must be >= 1 and smaller than both set sizes "
                         f"({r.shape[0]}, {f.shape[0]})")
    precision = _inside_any_ball(f, r, _kth_nn_radius(r, k)).double().mean()
    recall = _inside_any_ball(r, f, _kth_nn_radius(f, k)).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


# -------------------------------------------------------------------------------- Inception Score


def inception_score(probs: Array, *, splits: int = 10) -> tuple[float, float]:
    """Classifier-based Inception Score (Salimans et al. 2016, sec. 4):
    exp(E_x KL(p(y|x) || p(y))), mean and standard deviation over ``splits`` equal parts.

    ``probs`` (N, K) are class probabilities (rows sum to 1). Its maximum is K: confident,
    class-balanced predictions. With genzoo's MNIST classifier this is "IS-style" (K = 10).
    """
    p = _np64(probs, "probs")
    if (p < 0).any() or not np.allclose(p.sum(1), 1.0, atol=1e-4):
        raise ValueError("probs must be rows of class probabilities (pass softmax, not logits)")
    if splits < 1 or splits > p.shape[0]:
        raise ValueError(f"splits={splits} must be between 1 and the number of examples ({p.shape[0]})")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)  # (1, K) marginal p(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0).sum(1)  # (n,)
        scores.append(math.exp(float(kl.mean())))
    s = np.asarray(scores)
    return float(s.mean()), float(s.std(ddof=1)) if len(s) > 1 else 0.0


# ------------------------------------------------------------------------------------------ Parzen


def parzen_log_prob(centres: Array, x: Array, sigma: float, *, chunk: int = 256) -> torch.Tensor:
    """log p(x) in nats under the isotropic Gaussian mixture (1/N) sum_i N(x; c_i, sigma^2 I),
    one value per row of ``x`` (shape (M,)). Inputs are flattened to (N, D); computed in float64
    with logsumexp, so it stays finite when every kernel underflows."""
    c = torch.as_tensor(centres).detach().double().reshape(len(centres), -1)
    q = torch.as_tensor(x).detach().double().reshape(len(x), -1)
    if c.shape[1] != q.shape[1]:
        raise ValueError(f"dimensions differ: centres have {c.shape[1]}, x has {q.shape[1]}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    d = c.shape[1]
    const = -math.log(c.shape[0]) - 0.5 * d * math.log(2.0 * math.pi * sigma**2)
    out = []
    for i in range(0, q.shape[0], chunk):
        sq = torch.cdist(q[i:i + chunk], c).pow(2)  # (m, N)
        out.append(torch.logsumexp(-sq / (2.0 * sigma**2), dim=1) + const)
    return torch.cat(out)


DEFAULT_SIGMAS: tuple[float, ...] = tuple(float(s) for s in np.logspace(-1.5, 0.0, 16))


def parzen_select_sigma(samples: Array, valid: Array, sigmas: Sequence[float] = DEFAULT_SIGMAS
                        ) -> tuple[float, dict[float, float]]:
    """Pick the bandwidth with the highest mean validation log-likelihood on a grid."""
    scores = {float(s): float(parzen_log_prob(samples, valid, float(s)).mean()) for s in sigmas}
    best = max(scores, key=scores.get)
    return best, scores


def parzen_log_likelihood(samples: Array, valid: Array, test: Array, *,
                          sigmas: Sequence[float] = DEFAULT_SIGMAS) -> dict[str, float]:
    """Parzen-window estimate of the test log-likelihood of a sampler (Breuleux et al. 2011), in
    nats per example with its standard error; sigma is chosen by grid search on ``valid``.

    A weak metric, reported only for comparison with older papers (Goodfellow et al. 2014, table
    1): Theis, van den Oord & Bethge (2016, "A note on the evaluation of generative models",
    sec. 3.2) show that in high dimensions a Parzen estimate from any feasible number of samples is
    far from the true log-likelihood, can rank models in the wrong order, and is beaten by simply
    memorising (or slightly blurring) the training set, so it says little about sample quality or
    likelihood. Prefer ``evaluate_likelihood`` for density models and feature metrics for samplers.
    """
    sigma, grid = parzen_select_sigma(samples, valid, sigmas)
    lp = parzen_log_prob(samples, test, sigma)
    n = lp.shape[0]
    stderr = float(lp.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")
    return {"parzen_ll": float(lp.mean()), "parzen_stderr": stderr, "parzen_sigma": sigma}


# ----------------------------------------------------------------------------------- all at once


def sample_quality(real_x: torch.Tensor, fake_x: torch.Tensor, extractor, *, k: int = 3,
                   kid_subsets: int = 50, kid_subset_size: int = 1000, is_splits: int = 10,
                   generator: torch.Generator | None = None) -> dict[str, float]:
    """FID-style, KID (mean, std), precision/recall and IS-style score of ``fake_x`` against
    ``real_x`` (images (N, C, H, W) in [0, 1]) in the feature space of ``extractor``. The IS-style
    score is included when the extractor has ``probs(x)``."""
    fr, ff = extractor(real_x), extractor(fake_x)
    out: dict[str, float] = {"fid": fid(fr, ff)}
    out["kid"], out["kid_std"] = kid(fr, ff, subsets=kid_subsets, subset_size=kid_subset_size,
                                     generator=generator)
    out.update(precision_recall(fr, ff, k=k))
    if hasattr(extractor, "probs"):
        out["is"], out["is_std"] = inception_score(extractor.probs(fake_x),
                                                   splits=min(is_splits, len(fake_x)))
    return out
