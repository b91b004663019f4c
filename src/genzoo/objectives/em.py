"""Expectation-maximisation for the mixture of Bernoullis (Dempster, Laird & Rubin 1977; the
mixture case as in Bishop 2006, section 9.3.3).

E step: responsibilities r_nk = p(k | x_n). M step, with a symmetric Beta(1 + a, 1 + a) prior on
every Bernoulli mean and Dirichlet(1 + a) on the weights (``pseudo_count`` a; a = 0 is maximum
likelihood): pi_k = (N_k + a) / (N + K a), mu_kd = (sum_n r_nk x_nd + a) / (N_k + 2 a). Each
iteration never decreases log p(data) + log prior (the training log-likelihood when a = 0).
EM is a closed-form fit, not a gradient objective: the trainer's objectives do not run it.
"""

from __future__ import annotations

import math

import torch

from genzoo.models.autoregressive._common import to_raster


@torch.no_grad()
def em_step(model, x: torch.Tensor, *, pseudo_count: float = 0.0, chunk: int = 8192) -> float:
    """One EM iteration on data ``x`` (N, *shape); returns the mean training log-likelihood of
    the parameters *before* the update (nats per example)."""
    if pseudo_count < 0:
        raise ValueError(f"pseudo_count must be >= 0, got {pseudo_count}")
    k = model.config.components
    nk = x.new_zeros(k, dtype=torch.float64)
    sx = x.new_zeros(k, model.config.dim, dtype=torch.float64)
    total = 0.0
    for s in range(0, x.shape[0], chunk):
        xb = x[s:s + chunk]
        joint = model.component_log_joint(xb)  # (B, K)
        ll = torch.logsumexp(joint, 1)
        total += float(ll.double().sum())
        r = torch.exp(joint - ll.unsqueeze(1)).double()  # (B, K) responsibilities
        nk += r.sum(0)
        sx += r.t() @ to_raster(model.to_unit(xb)).double()
    n, a = x.shape[0], pseudo_count
    weights = (nk + a) / (n + k * a)
    probs = (sx + a) / (nk.unsqueeze(1) + 2 * a).clamp_min(1e-300)
    model.assign(weights.to(x.dtype), probs.to(x.dtype))
    return total / n


@torch.no_grad()
def fit_em(model, x: torch.Tensor, *, iterations: int = 100, pseudo_count: float = 0.0, tol: float = 1e-6,
           generator: torch.Generator | None = None, valid: torch.Tensor | None = None) -> list[float]:
    """Fit by EM from random responsibilities (seeded by ``generator``): first an M step from
    responsibilities drawn from a flat Dirichlet, then ``iterations`` EM steps, stopping early when
    the mean log-likelihood improves by less than ``tol``. With ``valid`` the parameters of the
    iteration with the best validation likelihood are kept. Returns the training log-likelihood
    per iteration."""
    k = model.config.components
    r = -torch.log(torch.rand(x.shape[0], k, generator=generator, dtype=torch.float64))  # Dirichlet(1)
    r = (r / r.sum(1, keepdim=True)).to(x.dtype)
    v = to_raster(model.to_unit(x))
    a = pseudo_count
    nk = r.sum(0)
    model.assign((nk + a) / (x.shape[0] + k * a), (r.t() @ v + a) / (nk.unsqueeze(1) + 2 * a))
    history: list[float] = []
    best, best_state = -math.inf, None
    for _ in range(iterations):
        if valid is not None:
            score = float(model.log_prob(valid).mean())
            if score > best:
                best, best_state = score, {n: t.clone() for n, t in model.state_dict().items()}
        history.append(em_step(model, x, pseudo_count=pseudo_count))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    if valid is not None:
        score = float(model.log_prob(valid).mean())
        if score < best and best_state is not None:
            model.load_state_dict(best_state)
    return history
