"""The variational bounds, written once over the family interface of
:class:`genzoo.models.base.VariationalModel`: ``prior()`` -> p(z), ``posterior(x)`` -> q(z|x),
``likelihood(z)`` -> p(x|z) (distributions of :mod:`genzoo.distributions`).

* :func:`elbo`: the SGVB estimators of the ELBO (Kingma & Welling 2013, eq. 6 and 10);
* :func:`log_weights`: importance log-weights log p(x, z_i) - log q(z_i|x), z_i ~ q(z|x);
* :func:`iwae_bound`: the k-sample importance-weighted bound (Burda et al. 2016, eq. 8).

The ``elbo``, ``iwae`` and ``wake-sleep`` objectives and the evaluators call these; no model
computes a bound itself.
"""

from __future__ import annotations

import math

import torch

from genzoo.distributions import kl_divergence


def elbo(model, x: torch.Tensor, *, k: int = 1, analytic_kl: bool = True, beta: float = 1.0,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """The SGVB estimate of the ELBO, per example (B,).

    Estimator B (``analytic_kl=True``, AEVB eq. 10): E_q[log p(x|z)] by k samples minus the
    closed-form KL. Estimator A (eq. 6): the mean over k samples of log p(x,z) - log q(z|x).
    A prior with no closed-form KL (the VampPrior) keeps in estimator B what is closed-form, the
    entropy of q, and estimates the cross-entropy E_q[-log p(z)] with the same k samples.
    ``beta`` weights the KL (beta-VAE; 1 is the bound)."""
    q = model.posterior(x)
    p = model.prior()
    z = q.rsample((k,), generator)  # (k, B, L)
    rec = model.likelihood(z).log_prob(x)  # (k, B)
    if analytic_kl:
        kl = kl_divergence(q, p)  # (B,) or None
        if kl is None:
            kl = -q.entropy() - p.log_prob(z).mean(0)  # (B,)
    else:
        kl = (q.log_prob(z) - p.log_prob(z)).mean(0)
    return rec.mean(0) - beta * kl


def log_weights(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None, *,
                prior=None) -> torch.Tensor:
    """Importance log-weights log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x): (k, B).
    ``prior``: ``model.prior()`` when the caller has it already (a VampPrior costs K encoder passes)."""
    q = model.posterior(x)
    p = model.prior() if prior is None else prior
    z = q.rsample((k,), generator)  # (k, B, L)
    return model.likelihood(z).log_prob(x) + p.log_prob(z) - q.log_prob(z)


def iwae_bound(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """L_k = log (1/k) sum_i w_i (Burda et al. 2016, eq. 8), per example (B,)."""
    return torch.logsumexp(log_weights(model, x, k, generator), dim=0) - math.log(k)
