"""DCGAN (Radford, Metz & Chintala, 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks").

Architecture guidelines (Sec. 3): strided convolutions instead of pooling, batch norm in both
nets, ReLU in G (tanh output), LeakyReLU(0.2) in D, no hidden fully connected layers. The depth
follows the image size from ``shape``: 28x28 (7 -> 14 -> 28), 32x32 (4 -> 8 -> 16 -> 32) and
64x64 (4 -> ... -> 64). ``spectral_norm=True`` swaps D's batch norm for spectral normalisation.

Recommended training settings (Sec. 4): Adam with ``lr=2e-4`` and ``betas=(0.5, 0.999)``, batch
size 128, e.g. ``genzoo train dcgan --data mnist5k --lr 2e-4 --betas 0.5 0.999``.

Data: the generator ends in tanh. Pass ``--scale pm1`` (data in [-1, 1]) with
``data_range="pm1"``; with the default ``data_range="01"`` the model maps [0, 1] data to [-1, 1]
before D and maps G's output back to [0, 1], so samples are in the data's range either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import field
from genzoo.models.adversarial._nets import GAN_TRAINING
from genzoo.models.adversarial.gan import GAN, GANConfig
from genzoo.registry import register_model


@dataclass(frozen=True)
class DCGANConfig(GANConfig):
    arch: str = field("conv", help="network type of G and D", choices=("mlp", "conv"))


@register_model("dcgan", config=DCGANConfig, objectives=("gan",), family="adversarial",
                train_defaults=GAN_TRAINING,
                summary="DCGAN (Radford 2015): strided convs + batch norm; Adam lr 2e-4, beta1 0.5")
class DCGAN(GAN):
    """DCGAN: the GAN class with ``arch="conv"``; see the module docstring for the recommended
    settings (Adam lr 2e-4, betas (0.5, 0.999)) and the data range."""
