"""Adversarial objectives: two players, a discriminator and a generator, stepped in that order.

* ``gan``: the GAN value function (Goodfellow et al. 2014, Eq. 1) with the minimax or the
  non-saturating generator loss (Sec. 3), for ``gan``, ``dcgan`` and ``cgan``.
* ``infogan``: the GAN losses plus lambda * L_I, the variational lower bound on the mutual
  information between the latent codes and the samples (Chen et al. 2016, Eq. 4-5).
* ``gan-cls``: the matching-aware discriminator of Reed et al. 2016 (Algorithm 1) for
  ``text2image``.

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
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class GANLossConfig(ObjectiveConfig):
    generator_loss: str = field("non-saturating", help="generator loss: -log D(G(z)) (non-saturating) or "
                                "log(1 - D(G(z))) (minimax, Eq. 1)", choices=("non-saturating", "minimax"))
    label_smoothing: float = field(0.0, help="one-sided label smoothing: real target 1 - this (Salimans 2016)")
    collapse_threshold: float = field(0.02, help="warn when the RMS per-pixel distance between samples of a "
                                      "fixed-seed batch falls below this (0: no check)")

    def __post_init__(self):
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")


def bce_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Per-example -[t log s(l) + (1 - t) log(1 - s(l))], with log s(l) = -softplus(-l)."""
    return target * F.softplus(-logits) + (1.0 - target) * F.softplus(logits)


def per_example(t: torch.Tensor) -> torch.Tensor:
    """Mean over every axis but the first: (B, ...) -> (B,)."""
    return t.reshape(t.shape[0], -1).mean(1)


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

    def g_loss(self, logits_fake: torch.Tensor) -> torch.Tensor:
        if self.config.generator_loss == "minimax":
            return -F.softplus(logits_fake)  # log(1 - D(G(z))), (B,)
        return F.softplus(-logits_fake)  # -log D(G(z)), (B,)

    def d_loss(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        return bce_logits(logits_real, 1.0 - self.config.label_smoothing) + bce_logits(logits_fake, 0.0)

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
            loss = self.d_loss(lr, lf)
            return {"loss": loss, "d_loss": loss.detach(), "d_real": torch.sigmoid(lr).detach(),
                    "d_fake": torch.sigmoid(lf).detach()}
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
            d = self.d_loss(lr, lf)
            return {"loss": d + info, "d_loss": d.detach(), "d_real": torch.sigmoid(lr).detach(),
                    "d_fake": torch.sigmoid(lf).detach(), "q_accuracy": (q_cat.argmax(1) == cat).float()}
        if player == "generator":
            lf, q_cat, q_mu = model.discriminate(model.generate(z, cat, cont))
            info, bound, ce = self.info_terms(model, cat, cont, q_cat, q_mu)
            g = self.g_loss(lf)
            return {"loss": g + info, "g_loss": g.detach(), "mi_lower_bound": bound.detach(),
                    "cat_ce": ce.detach()}
        raise ValueError(f"unknown player {player!r}; expected {self.players}")


@register_objective("gan-cls", config=GANLossConfig,
                    summary="GAN-CLS (Reed 2016): matching-aware discriminator for text-to-image")
class GANCLSObjective(AdversarialObjective):
    """Reed et al. 2016, Algorithm 1. With s_r = D(x, h), s_w = D(x, h_mismatch), s_f = D(G(z, h), h):
    L_D = log s_r + (log(1 - s_w) + log(1 - s_f)) / 2, maximised; L_G = log s_f (non-saturating).
    Mismatching captions are the batch's captions rolled by one. The text encoder is trained by the
    discriminator (the matching task shapes the embedding); the generator reads it detached.
    """

    def __call__(self, model, batch: Batch, *, player: str = "generator", generator=None):
        x = batch["x"]
        tokens = model.captions_for(x, batch.get("y"))  # (B, L)
        z = model.noise(x.shape[0], generator)  # (B, noise_dim)
        if player == "discriminator":
            h = model.embed_text(tokens)  # (B, text_dim)
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
            h = model.embed_text(tokens).detach()
            s_f = model.discriminate(model.generate(z, h), h)
            loss = self.g_loss(s_f)
            return {"loss": loss, "g_loss": loss.detach()}
        raise ValueError(f"unknown player {player!r}; expected {self.players}")
