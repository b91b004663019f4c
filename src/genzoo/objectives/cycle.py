"""CycleGAN's objective (Zhu et al. 2017, Sec. 3-4): least-squares adversarial losses (Mao et al.
2017), the cycle-consistency loss ||F(G(a)) - a||_1 + ||G(F(b)) - b||_1 weighted by lambda = 10
(Eq. 2-3), and the identity loss ||G(b) - b||_1 + ||F(a) - a||_1 weighted by 0.5 * lambda
(Sec. 5.2). Discriminators are updated on a history of 50 generated images (Shrivastava et al.
2017) with the halved LSGAN loss (D(real) - 1)^2 + D(fake)^2.

Players: ``generator`` (both G and F), then ``discriminator`` (both D_A and D_B), as in the
paper's training loop. Domain A is ``batch["x"]``, domain B ``batch["x_b"]``.

``paired_l1 > 0`` adds the pix2pix-style supervised term ||G(a) - b||_1 + ||F(b) - a||_1 (Isola et
al. 2017, Eq. 3) weighted by it: for paired data only (a domain-B dataset whose ``paired`` is True,
so the trainer draws row i of B with row i of A), as the supervised upper bound of a translation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.config import field
from genzoo.nn import random as rng
from genzoo.objectives.adversarial import AdversarialObjective, per_example
from genzoo.objectives.base import Batch, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class CycleConfig(ObjectiveConfig):
    cycle_weight: float = field(10.0, help="lambda: weight of the cycle-consistency loss")
    identity_weight: float = field(0.5, help="identity loss weight as a fraction of lambda (0 disables it)")
    pool_size: int = field(50, help="generated images kept for the discriminator updates (0: no pool)")
    paired_l1: float = field(0.0, help="weight of the supervised L1 term ||G(a) - b|| + ||F(b) - a|| (pix2pix, "
                             "Isola 2017); paired data only (0: unpaired CycleGAN)")

    def __post_init__(self):
        if self.pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {self.pool_size}")
        if not self.paired_l1 >= 0:
            raise ValueError(f"paired_l1 must be >= 0, got {self.paired_l1}")


class ImagePool:
    """History of generated images (Shrivastava et al. 2017, Sec. 2.3). Once full, each new image
    is, with probability 1/2, swapped for a random stored one, which is returned instead."""

    def __init__(self, size: int):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.size == 0:
            return images
        n = images.shape[0]
        # every draw for the batch at once (one device sync): coin flips and slots
        swap = (rng.rand((n,), generator=generator) < 0.5).tolist()
        slot = rng.randint(self.size, (n,), generator=generator).tolist()
        out = []
        for i, img in enumerate(images.detach()):
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif swap[i]:
                out.append(self.images[slot[i]].clone())
                self.images[slot[i]] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)  # (B, C, H, W)

    def state_dict(self) -> dict:
        return {"images": torch.stack(self.images) if self.images else None}

    def load_state_dict(self, state: dict) -> None:
        imgs = state.get("images")
        self.images = [] if imgs is None else list(imgs.unbind(0))


@register_objective("cyclegan", config=CycleConfig,
                    summary="CycleGAN: LSGAN + cycle (lambda 10) + identity (0.5 lambda), image pool of 50")
class CycleGANObjective(AdversarialObjective):
    players = ("generator", "discriminator")
    config: CycleConfig

    def __init__(self, config: CycleConfig | None = None):
        super().__init__(config if config is not None else CycleConfig())
        self.pool_a = ImagePool(self.config.pool_size)
        self.pool_b = ImagePool(self.config.pool_size)

    def state_dict(self) -> dict:
        """The image pools, so that a resumed run continues exactly."""
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.pool_a.load_state_dict(state["pool_a"])
        self.pool_b.load_state_dict(state["pool_b"])

    def _domains(self, batch: Batch):
        if "x_b" not in batch:
            raise ValueError("CycleGAN needs domain B images in batch['x_b']: give the CLI --data-b NAME")
        return batch["x"], batch["x_b"]

    def __call__(self, model, batch: Batch, *, player: str = "generator", generator=None):
        a, b = self._domains(batch)
        if player == "generator":
            fake_b, fake_a = model.translate(a, "a2b"), model.translate(b, "b2a")
            adv = per_example((model.discriminate(fake_b, "b") - 1).pow(2)) + \
                per_example((model.discriminate(fake_a, "a") - 1).pow(2))
            cycle = per_example((model.translate(fake_b, "b2a") - a).abs()) + \
                per_example((model.translate(fake_a, "a2b") - b).abs())
            loss = adv + self.config.cycle_weight * cycle
            out = {"g_adv": adv.detach(), "cycle": cycle.detach()}
            if self.config.paired_l1 > 0:  # batch["x_b"][i] is the counterpart of batch["x"][i]
                if not batch.get("paired_b", False):
                    raise ValueError("--paired-l1 needs paired data (a domain-B dataset marked paired, whose row i "
                                     "is the counterpart of domain A's row i); --data-b gives unpaired images")
                paired = per_example((fake_b - b).abs()) + per_example((fake_a - a).abs())
                loss = loss + self.config.paired_l1 * paired
                out["paired_l1"] = paired.detach()
            if self.config.identity_weight > 0 and model.same_channels:
                ident = per_example((model.translate(b, "a2b") - b).abs()) + \
                    per_example((model.translate(a, "b2a") - a).abs())
                loss = loss + self.config.identity_weight * self.config.cycle_weight * ident
                out["identity"] = ident.detach()
            return {"loss": loss, **out}
        if player == "discriminator":
            with torch.no_grad():
                fake_b = self.pool_b.query(model.translate(a, "a2b"), generator)
                fake_a = self.pool_a.query(model.translate(b, "b2a"), generator)
            ra, fa = model.discriminate(a, "a"), model.discriminate(fake_a, "a")
            rb, fb = model.discriminate(b, "b"), model.discriminate(fake_b, "b")
            loss = 0.5 * (per_example((ra - 1).pow(2)) + per_example(fa.pow(2))) + \
                0.5 * (per_example((rb - 1).pow(2)) + per_example(fb.pow(2)))
            # LSGAN discriminators output scores, not logits: d_real/d_fake are the mean scores
            return {"loss": loss, "d_loss": loss.detach(), "d_real_score": per_example(ra + rb).detach() / 2,
                    "d_fake_score": per_example(fa + fb).detach() / 2}
        raise ValueError(f"unknown player {player!r}; expected {self.players}")

    @torch.no_grad()
    def evaluate(self, model, batch: Batch, *, generator=None):
        """Validation: the generator's losses only (the pool is left untouched)."""
        if "x_b" not in batch:
            return {}
        return self(model, batch, player="generator", generator=generator)
