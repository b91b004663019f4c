"""Adversarial objectives: two players, a discriminator and a generator, stepped in that order.

* ``gan``: the GAN value function (Goodfellow et al. 2014, Eq. 1) with the minimax or the
  non-saturating generator loss (Sec. 3), for ``gan``, ``dcgan`` and ``cgan``.
* ``infogan``: the GAN losses plus lambda * L_I, the variational lower bound on the mutual
  information between the latent codes and the samples (Chen et al. 2016, Eq. 4-5).
* ``gan-cls``: the matching-aware discriminator of Reed et al. 2016 (Algorithm 1) and GAN-INT for
  ``text2image``.

``--adversarial-loss`` picks the pair of losses of ``gan`` and ``infogan``: ``gan`` (the above),
``hinge`` (Lim & Ye 2017; Miyato et al. 2018, Eq. 16-17: L_D = E[relu(1 - D(x))] + E[relu(1 +
D(G(z)))], L_G = -E[D(G(z))]) or ``wgan-gp`` (Gulrajani et al. 2017, Algorithm 1: L_D = E[D(G(z))]
- E[D(x)] + lambda E[(||grad D(x_hat)||_2 - 1)^2] at random interpolates x_hat, L_G = -E[D(G(z))];
the paper's critic has no batch norm: pair it with ``--spectral-norm``, which drops it). A model
built with ``--ema`` keeps an exponential moving average of its generator; :meth:`after_step`, which
the trainer calls after every player's step, updates it after the generator's step.

The fakes are detached in the discriminator's step, so each step's gradient reaches only its own
player's parameters (the trainer zeroes a player's gradients before its step). Discriminator
outputs are logits; losses use ``softplus`` (log(1 + e^l)) for numerically stable log-sigmoids.
Every player returns a per-example ``loss`` (B,), plus ``d_real`` / ``d_fake`` (mean sigmoid
outputs) that :meth:`AdversarialObjective.on_epoch_end` reads to warn about a discriminator that
wins outright, and a diversity check that warns when samples stop varying (mode collapse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo.config import field
from genzoo.nn import random as rng
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective

ADVERSARIAL_LOSSES = ("gan", "hinge", "wgan-gp")


@dataclass(frozen=True)
class GANLossConfig(ObjectiveConfig):
    generator_loss: str = field("non-saturating", help="generator loss: -log D(G(z)) (non-saturating) or "
                                "log(1 - D(G(z))) (minimax, Eq. 1)", choices=("non-saturating", "minimax"))
    label_smoothing: float = field(0.0, help="one-sided label smoothing: real target 1 - this (Salimans 2016)")
    adversarial_loss: str = field("gan", help="losses of D and G: gan (log-loss, Goodfellow 2014), hinge "
                                  "(Miyato 2018, Eq. 16-17) or wgan-gp (Gulrajani 2017, Algorithm 1)",
                                  choices=ADVERSARIAL_LOSSES)
    gp_weight: float = field(10.0, help="wgan-gp: lambda, the weight of the gradient penalty")
    ema_decay: float = field(0.999, help="models built with --ema: the generator EMA's decay beta "
                             "(w_ema <- beta w_ema + (1 - beta) w after each generator step)")
    collapse_threshold: float = field(0.02, help="warn when the RMS per-pixel distance between samples of a "
                                      "fixed-seed batch falls below this (0: no check)")

    def __post_init__(self):
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.adversarial_loss not in ADVERSARIAL_LOSSES:
            raise ValueError(f"adversarial_loss must be one of {', '.join(ADVERSARIAL_LOSSES)}, "
                             f"got {self.adversarial_loss!r}")
        if not self.gp_weight >= 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")


def bce_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Per-example -[t log s(l) + (1 - t) log(1 - s(l))], with log s(l) = -softplus(-l)."""
    return target * F.softplus(-logits) + (1.0 - target) * F.softplus(logits)


def per_example(t: torch.Tensor) -> torch.Tensor:
    """Mean over every axis but the first: (B, ...) -> (B,)."""
    return t.reshape(t.shape[0], -1).mean(1)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """(||grad_x critic(x_hat)||_2 - 1)^2 per example, (B,), at x_hat = eps x + (1 - eps) x~ with
    eps ~ U[0, 1] per example (Gulrajani et al. 2017, Algorithm 1, lines 4-7; ``eps`` (B,) may be
    given). The graph is kept (``create_graph``) so that the penalty trains the critic."""
    if eps is None:
        eps = rng.rand((real.shape[0],), generator=generator, device=real.device)
    e = eps.to(real.dtype).view(-1, *([1] * (real.dim() - 1)))  # (B, 1, ..., 1)
    train = torch.is_grad_enabled()  # under no_grad (validation) the penalty is a figure only
    with torch.enable_grad():
        x_hat = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)  # (B, ...)
        scores = critic(x_hat)  # (B,)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=train)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2)


@torch.no_grad()
def ema_update(average: torch.nn.Module, live: torch.nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * live for every parameter; buffers (batch-norm
    statistics) are copied (as in Karras et al. 2018's generator average)."""
    for a, p in zip(average.parameters(), live.parameters()):
        a.lerp_(p.detach(), 1.0 - decay)
    for a, b in zip(average.buffers(), live.buffers()):
        a.copy_(b)


@torch.no_grad()
def sample_spread(samples: torch.Tensor) -> float:
    """RMS per-pixel distance between pairs of samples: mean_{i<j} ||x_i - x_j|| / sqrt(D)."""
    flat = samples.flatten(1).double()  # (n, D)
    d = torch.cdist(flat, flat)  # (n, n)
    n = flat.shape[0]
    return float(d.sum() / (n * (n - 1)) / math.sqrt(flat.shape[1]))


class AdversarialObjective(Objective):
    """Shared machinery: player split, epoch-end warnings. Subclasses define the two losses."""

    players = ("discriminator", "generator")
    #: GAN losses do not measure sample quality: no validation figure is watched, so the trainer
    #: keeps the latest weights and early stopping never fires.
    monitor = "none"
    config: GANLossConfig

    def __init__(self, config: GANLossConfig | None = None):
        super().__init__(config if config is not None else GANLossConfig())

    def parameters(self, model, player: str):
        if player == "discriminator":
            return model.discriminator_parameters()
        if player == "generator":
            return model.generator_parameters()
        raise ValueError(f"unknown player {player!r} for {type(self).__name__}; expected {self.players}")

    def after_step(self, model, player: str) -> None:
        """The trainer's hook after each player's optimizer step: update the generator EMA."""
        if player == "generator" and getattr(model, "generator_ema", None) is not None:
            ema_update(model.generator_ema, model.generator, self.config.ema_decay)

    def g_loss(self, logits_fake: torch.Tensor) -> torch.Tensor:
        if self.config.adversarial_loss != "gan":
            return -logits_fake  # hinge and WGAN: -D(G(z)), (B,)
        if self.config.generator_loss == "minimax":
            return -F.softplus(logits_fake)  # log(1 - D(G(z))), (B,)
        return F.softplus(-logits_fake)  # -log D(G(z)), (B,)

    def d_loss(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        """Per-example discriminator loss, (B,), without the gradient penalty (see :meth:`penalty`)."""
        loss = self.config.adversarial_loss
        if loss == "hinge":
            return F.relu(1.0 - logits_real) + F.relu(1.0 + logits_fake)
        if loss == "wgan-gp":
            return logits_fake - logits_real
        return bce_logits(logits_real, 1.0 - self.config.label_smoothing) + bce_logits(logits_fake, 0.0)

    def penalty(self, critic, real: torch.Tensor, fake: torch.Tensor, generator=None) -> torch.Tensor | None:
        """lambda * gradient penalty (B,) for wgan-gp, else None."""
        if self.config.adversarial_loss != "wgan-gp" or self.config.gp_weight == 0:
            return None
        return self.config.gp_weight * gradient_penalty(critic, real, fake, generator)

    def d_outputs(self, loss: torch.Tensor, lr: torch.Tensor, lf: torch.Tensor, gp: torch.Tensor | None) -> dict:
        """The discriminator step's result: with the log-loss, ``d_real``/``d_fake`` are mean
        probabilities (read by the epoch-end warnings); hinge and WGAN critics output scores, logged
        as ``d_real_score``/``d_fake_score`` (WGAN: their difference estimates the critic's
        Wasserstein distance, ``w_estimate``)."""
        out = {"loss": loss if gp is None else loss + gp, "d_loss": loss.detach()}
        if self.config.adversarial_loss == "gan":
            out.update(d_real=torch.sigmoid(lr).detach(), d_fake=torch.sigmoid(lf).detach())
        else:
            out.update(d_real_score=lr.detach(), d_fake_score=lf.detach())
        if self.config.adversarial_loss == "wgan-gp":
            out["w_estimate"] = (lr - lf).detach()
        if gp is not None:
            out["gradient_penalty"] = gp.detach()
        return out

    def on_epoch_end(self, model, metrics: dict[str, float]) -> list[str]:
        """Warnings for the trainer's log: a discriminator that wins outright, or collapsed samples."""
        warnings = []
        d_real = metrics.get("train_d_real", metrics.get("d_real"))
        d_fake = metrics.get("train_d_fake", metrics.get("d_fake"))
        if d_real is not None and d_fake is not None and d_real > 0.99 and d_fake < 0.01:
            warnings.append(f"discriminator wins outright: D(real)≈{d_real:.3f}, D(fake)≈{d_fake:.3f} for the "
                            "whole epoch (the generator gets no gradient; try --generator-loss non-saturating, "
                            "label smoothing, spectral norm or a lower discriminator lr)")
        threshold = getattr(self.config, "collapse_threshold", 0.0)
        spread = self.diversity(model) if threshold > 0 else None
        if spread is not None and spread < threshold:
            warnings.append(f"samples stopped varying: mean pairwise distance of a fixed-seed batch is "
                            f"{spread:.4f} < {threshold} (mode collapse)")
        return warnings

    @torch.no_grad()
    def diversity(self, model, n: int = 64) -> float | None:
        """:func:`sample_spread` of ``n`` samples drawn with a fixed seed (None if the model does not sample)."""
        if not model.can_sample:
            return None
        was_training = model.training
        model.eval()
        try:
            samples = model.sample(n, generator=torch.Generator().manual_seed(0))
        finally:
            model.train(was_training)
        return sample_spread(samples)


@register_objective("gan", config=GANLossConfig,
                    summary="GAN losses (Goodfellow 2014): minimax or non-saturating generator loss")
class GANObjective(AdversarialObjective):
    """For models with ``noise``, ``generate(z, y)``, ``discriminate(x, y)`` and ``num_classes``
    (labels are passed when ``num_classes > 0``; the fakes take the batch's labels)."""

    def _labels(self, model, batch: Batch):
        if not getattr(model, "num_classes", 0):
            return None
        if "y" not in batch:
            raise ValueError(f"{type(model).__name__} is conditional: the data must have labels (batch['y'])")
        return batch["y"]

    def __call__(self, model, batch: Batch, *, player: str = "generator", generator=None):
        x = batch["x"]
        y = self._labels(model, batch)
        z = model.noise(x.shape[0], generator)  # (B, noise_dim)
        if player == "discriminator":
            with torch.no_grad():
                fake = model.generate(z, y)
            lr, lf = model.discriminate(x, y), model.discriminate(fake.detach(), y)
            gp = self.penalty(lambda t: model.discriminate(t, y), x, fake, generator)
            return self.d_outputs(self.d_loss(lr, lf), lr, lf, gp)
        if player == "generator":
            lf = model.discriminate(model.generate(z, y), y)
            loss = self.g_loss(lf)
            return {"loss": loss, "g_loss": loss.detach()}
        raise ValueError(f"unknown player {player!r}; expected {self.players}")


@dataclass(frozen=True)
class InfoGANLossConfig(GANLossConfig):
    info_weight: float = field(1.0, help="lambda: weight of the categorical mutual-information term")
    continuous_weight: float = field(0.1, help="weight of the continuous codes' term (Chen 2016 use a "
                                     "smaller lambda for continuous codes)")


@register_objective("infogan", config=InfoGANLossConfig,
                    summary="InfoGAN (Chen 2016): GAN losses + lambda * mutual-information lower bound")
class InfoGANObjective(AdversarialObjective):
    """L_D + lambda L_I and L_G + lambda L_I (Chen et al. 2016, Eq. 5): Q (a head on the
    discriminator's body) is trained with the discriminator, on detached fakes; the generator is
    trained through Q on its own step.

    L_I(G, Q) = E[log Q(c|x)] + H(c) (Eq. 4) is logged as ``mi_lower_bound`` (nats): the
    categorical part log K - CE plus, for each U(-1, 1) code, log 2 - NLL of a unit-variance
    Gaussian Q(c|x) (the fixed-variance choice of the paper's code). Its maximum is
    log K + n_cont * (log 2 - log sqrt(2 pi)).
    """

    config: InfoGANLossConfig

    def __init__(self, config: InfoGANLossConfig | None = None):
        super().__init__(config if config is not None else InfoGANLossConfig())

    def info_terms(self, model, cat, cont, q_cat, q_mu):
        ce = F.cross_entropy(q_cat, cat, reduction="none")  # (B,)
        nll = 0.5 * (cont - q_mu).pow(2).sum(1) + 0.5 * math.log(2 * math.pi) * cont.shape[1]  # (B,)
        bound = math.log(q_cat.shape[1]) - ce + cont.shape[1] * math.log(2.0) - nll
        loss = self.config.info_weight * ce + self.config.continuous_weight * nll
        return loss, bound, ce

    def __call__(self, model, batch: Batch, *, player: str = "generator", generator=None):
        x = batch["x"]
        z, cat, cont = model.latents(x.shape[0], generator)
        if player == "discriminator":
            with torch.no_grad():
                fake = model.generate(z, cat, cont)
            lr, _, _ = model.discriminate(x)
            lf, q_cat, q_mu = model.discriminate(fake.detach())
            info, bound, ce = self.info_terms(model, cat, cont, q_cat, q_mu)
            gp = self.penalty(lambda t: model.discriminate(t)[0], x, fake, generator)
            out = self.d_outputs(self.d_loss(lr, lf), lr, lf, gp)
            out["loss"] = out["loss"] + info
            return {**out, "q_accuracy": (q_cat.argmax(1) == cat).float()}
        if player == "generator":
            lf, q_cat, q_mu = model.discriminate(model.generate(z, cat, cont))
            info, bound, ce = self.info_terms(model, cat, cont, q_cat, q_mu)
            g = self.g_loss(lf)
            return {"loss": g + info, "g_loss": g.detach(), "mi_lower_bound": bound.detach(),
                    "cat_ce": ce.detach()}
        raise ValueError(f"unknown player {player!r}; expected {self.players}")


@dataclass(frozen=True)
class GANCLSConfig(GANLossConfig):
    interpolation_weight: float = field(1.0, help="GAN-INT (Reed 2016, Sec. 4.3): weight of the generator's loss on "
                                        "interpolated text embeddings (0: plain GAN-CLS)")
    interpolation_beta: float = field(0.5, help="GAN-INT: beta of beta * phi(t1) + (1 - beta) * phi(t2)")

    def __post_init__(self):
        super().__post_init__()
        if not self.interpolation_weight >= 0:
            raise ValueError(f"interpolation_weight must be >= 0, got {self.interpolation_weight}")
        if not 0.0 <= self.interpolation_beta <= 1.0:
            raise ValueError(f"interpolation_beta must lie in [0, 1], got {self.interpolation_beta}")


@register_objective("gan-cls", config=GANCLSConfig,
                    summary="GAN-CLS + GAN-INT (Reed 2016): matching-aware D, interpolated text for G")
class GANCLSObjective(AdversarialObjective):
    """Reed et al. 2016, Algorithm 1, with h = phi(t) and h^ = phi(t^), t^ a mismatching caption:
    s_r = D(x, h), s_w = D(x, h^), s_f = D(G(z, h), h);
    L_D = -[log s_r + (log(1 - s_w) + log(1 - s_f)) / 2] (per example, minimised);
    L_G = -log s_f (non-saturating; ``minimax``: log(1 - s_f))
          + lambda_int * the same loss at h_int = beta h + (1 - beta) h^ with fresh z (GAN-INT, Sec. 4.3,
          beta = 0.5; D is not trained on h_int: it has no real image for it).
    Mismatching captions are the batch's captions rolled by one. The text encoder is trained by the
    discriminator (the matching task shapes the embedding); the generator reads it detached.
    The model supplies ``captions_for(batch)``, ``embed_text(captions)``, ``noise``, ``generate(z, h)``
    and ``discriminate(x, h)``. Only the log-loss is defined here (``--adversarial-loss gan``).
    """

    config: GANCLSConfig

    def __init__(self, config: GANCLSConfig | None = None):
        super().__init__(config if config is not None else GANCLSConfig())
        if self.config.adversarial_loss != "gan":
            raise ValueError(f"--adversarial-loss {self.config.adversarial_loss}: gan-cls is defined for the "
                             "log-loss only (Reed et al. 2016); use --adversarial-loss gan")

    def __call__(self, model, batch: Batch, *, player: str = "generator", generator=None):
        x = batch["x"]
        texts = model.captions_for(batch)
        z = model.noise(x.shape[0], generator)  # (B, noise_dim)
        if player == "discriminator":
            h = model.embed_text(texts)  # (B, text_dim)
            with torch.no_grad():
                fake = model.generate(z, h)
            s_r = model.discriminate(x, h)
            s_w = model.discriminate(x, h.roll(1, dims=0))
            s_f = model.discriminate(fake.detach(), h)
            smooth = 1.0 - self.config.label_smoothing
            loss = bce_logits(s_r, smooth) + 0.5 * (bce_logits(s_w, 0.0) + bce_logits(s_f, 0.0))
            return {"loss": loss, "d_loss": loss.detach(), "d_real": torch.sigmoid(s_r).detach(),
                    "d_fake": torch.sigmoid(s_f).detach(), "d_mismatch": torch.sigmoid(s_w).detach()}
        if player == "generator":
            h = model.embed_text(texts).detach()
            s_f = model.discriminate(model.generate(z, h), h)
            loss = self.g_loss(s_f)
            out = {"g_loss": loss.detach()}
            if self.config.interpolation_weight > 0:
                beta = self.config.interpolation_beta
                h_int = beta * h + (1.0 - beta) * h.roll(1, dims=0)  # (B, text_dim)
                z_int = model.noise(x.shape[0], generator)
                g_int = self.g_loss(model.discriminate(model.generate(z_int, h_int), h_int))
                loss = loss + self.config.interpolation_weight * g_int
                out["g_int_loss"] = g_int.detach()
            return {"loss": loss, **out}
        raise ValueError(f"unknown player {player!r}; expected {self.players}")
