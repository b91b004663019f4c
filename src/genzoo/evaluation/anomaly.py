"""Anomaly detection with a trained generative model: score each input, higher = more anomalous.

Scores (which ones apply is detected from the model, see :func:`available_scores`):

* ``nll``    -log p(x): exact for autoregressive models, importance-sampled (``k`` samples) for
             latent-variable models (``model.log_prob(x, k=k)``).
* ``nelbo``  -ELBO(x) (:func:`genzoo.objectives.variational.elbo`, per example), a cheap upper
             bound on -log p(x), for variational models (prior, posterior, likelihood).
* ``recon``  squared reconstruction error ||x - reconstruct(x)||^2 (autoencoders; as in the
             DCAE baseline of Ruff et al. 2018).
* ``code``   -log density of the code ``encode(x)`` under a Gaussian fitted to reference (normal
             training) codes, or the N(0, I) prior when no reference is given (AAE, VAE).
* ``disc``   -D(x): the discriminator's logit that x is real (GANs with ``discriminate(x)``), the
             discrimination score of AnoGAN (Schlegl et al. 2017, eq. 5) without its latent search;
             for latent models whose discriminator judges codes (AAE) -D(encode(x)), the logit
             that the code came from the prior.

AUROC (area under the ROC curve, sklearn) is 1 for a score that ranks every anomaly above every
normal input and 0.5 for chance.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from genzoo.models.base import VariationalModel
from genzoo.nn.random import device_of

SCORES = ("nll", "nelbo", "recon", "code", "disc")


def _has(model, name: str) -> bool:
    return callable(getattr(model, name, None))


def _discriminator(model):
    if _has(model, "discriminate"):
        return model.discriminate
    disc = getattr(model, "discriminator", None)
    return disc if callable(disc) else None


def available_scores(model) -> tuple[str, ...]:
    """The scores that apply to ``model``, the preferred one first."""
    out = []
    if getattr(model, "has_likelihood", False) and _has(model, "log_prob"):
        out.append("nll")
    if isinstance(model, VariationalModel):
        out.append("nelbo")
    if getattr(model, "has_latent", False) and _has(model, "encode"):
        if _has(model, "decode") or _has(model, "reconstruct"):
            out.append("recon")
        out.append("code")
    if _discriminator(model) is not None:
        out.append("disc")
    if getattr(model, "exact_likelihood", True) is False and "nelbo" in out and "nll" in out:
        # the IS estimate costs k decoder passes; the ELBO is the cheaper default
        out.remove("nelbo")
        out.insert(0, "nelbo")
    return tuple(out)


@torch.no_grad()
def anomaly_scores(model, x: torch.Tensor, score: str = "auto", *, k: int = 100,
                   reference: torch.Tensor | None = None, batch_size: int = 256,
                   generator: torch.Generator | None = None, spec=None) -> np.ndarray:
    """Anomaly score of each row of ``x`` (N, C, H, W) under ``model`` (higher = more anomalous),
    as a float64 array (N,). ``reference`` (normal training inputs) is used by ``code``.

    ``spec`` (the run's :class:`~genzoo.data.DataSpec`): inputs get the transform training applied
    (uniform dequantization for dequantized runs, drawn from ``generator``), and ``nll``/``nelbo``
    of a dequantized continuous density get the D log(L / width) offset, so that they are the same
    figures as ``genzoo eval``'s bound on the discrete NLL (one dequantization draw per input)."""
    choices = available_scores(model)
    if score == "auto":
        if not choices:
            raise ValueError(f"{type(model).__name__} offers no anomaly score")
        score = choices[0]
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose from {', '.join(SCORES)}")
    if score not in choices:
        raise ValueError(f"score {score!r} does not apply to {type(model).__name__}; "
                         f"available: {', '.join(choices) or 'none'}")
    model.eval()
    device = device_of(model)

    def prepare(b):
        return b if spec is None else spec.eval_transform(b, generator)

    def batched(fn, data):
        return torch.cat([fn(prepare(data[i:i + batch_size].to(device))).double().cpu()
                          for i in range(0, len(data), batch_size)])

    offset = 0.0
    if spec is not None and score in ("nll", "nelbo") and spec.check_model(model) == "dequantized_bound":
        offset = spec.discrete_offset

    if score == "nll":  # k and generator matter only to estimated likelihoods; exact ones ignore them
        out = batched(lambda b: -model.log_prob(b, k=k, generator=generator), x)
    elif score == "nelbo":
        from genzoo.objectives.variational import elbo

        out = batched(lambda b: -elbo(model, b, generator=generator), x)
    elif score == "recon":
        def recon_err(b):
            r = model.reconstruct(b) if _has(model, "reconstruct") else model.decode(model.encode(b))
            return (r.reshape(len(b), -1) - b.reshape(len(b), -1)).pow(2).sum(1)  # (B,)
        out = batched(recon_err, x)
    elif score == "code":
        def enc(b):
            return model.encode(b).flatten(1)  # (B, D)
        ref = None if reference is None else batched(enc, reference).numpy()
        out = torch.from_numpy(_gaussian_nll(batched(enc, x).numpy(), ref))
    else:  # disc
        d = _discriminator(model)
        latent = getattr(model, "has_latent", False)

        def disc(b):
            logit = d(model.encode(b)) if latent else d(b)  # an AAE discriminates codes, a GAN images
            if isinstance(logit, tuple):  # InfoGAN: (D logit, Q categorical, Q continuous)
                logit = logit[0]
            return -logit.reshape(len(b), -1).mean(1)  # (B,)
        out = batched(disc, x)
    out = out.reshape(-1).numpy().astype(np.float64) + offset
    if out.shape[0] != len(x):
        raise ValueError(f"score {score!r} returned {out.shape[0]} values for {len(x)} inputs")
    return out


def _gaussian_nll(codes: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """-log N(codes; mean, cov) with mean/cov fitted to ``reference`` (ridge 1e-6 * tr/D), or the
    standard normal when ``reference`` is None."""
    d = codes.shape[1]
    if reference is None:
        mean, cov = np.zeros(d), np.eye(d)
    else:
        mean = reference.mean(0)
        cov = np.cov(reference, rowvar=False).reshape(d, d)
        cov = cov + np.eye(d) * (1e-6 * max(np.trace(cov) / d, 1e-12))
    chol = np.linalg.cholesky(cov)
    sol = np.linalg.solve(chol, (codes - mean).T)  # (D, N)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    return 0.5 * ((sol**2).sum(0) + logdet + d * math.log(2.0 * math.pi))


def auroc(scores, is_anomaly) -> float:
    """Area under the ROC curve of ``scores`` for the binary target ``is_anomaly``."""
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(is_anomaly).astype(bool)
    if s.shape != t.shape:
        raise ValueError(f"scores and targets differ in length: {s.shape} vs {t.shape}")
    if t.all() or not t.any():
        raise ValueError("AUROC needs both normal and anomalous examples")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    return float(roc_auc_score(t, s))


def write_scores_csv(path: str | Path, scores, labels=None, is_anomaly=None, *, score_name: str = "score"
                     ) -> Path:
    """One row per example: index, label, is_anomaly (when known) and the score."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["index"] + (["label"] if labels is not None else []) + \
        (["is_anomaly"] if is_anomaly is not None else []) + [score_name]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i, s in enumerate(np.asarray(scores)):
            row = [i]
            if labels is not None:
                row.append(int(labels[i]))
            if is_anomaly is not None:
                row.append(int(bool(is_anomaly[i])))
            row.append(repr(float(s)))
            w.writerow(row)
    return path


def one_class_auroc(model, x: torch.Tensor, labels, normal_label: int, score: str = "auto", **kw) -> dict:
    """Score ``x`` and report AUROC with ``labels != normal_label`` as the anomalies."""
    lab = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    s = anomaly_scores(model, x, score, **kw)
    is_anom = lab != normal_label
    return {"scores": s, "is_anomaly": is_anom, "auroc": auroc(s, is_anom)}
