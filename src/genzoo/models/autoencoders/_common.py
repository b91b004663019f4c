"""Config fields and net construction shared by the autoencoder family."""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.config import field
from genzoo.models.base import ModelConfig
from genzoo.nn.nets import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder


@dataclass(frozen=True)
class EncoderDecoderConfig(ModelConfig):
    arch: str = field("mlp", help="network type", choices=("mlp", "conv"))
    hidden: tuple[int, ...] = field((500,), help="MLP hidden layer sizes (decoder mirrors them)")
    activation: str = field("tanh", help="MLP activation", choices=("tanh", "relu", "softplus", "elu"))
    latent_dim: int = field(50, help="size of the latent code")
    conv_channels: tuple[int, ...] = field((32, 64, 64, 64), help="conv encoder channels (2nd has stride 2)")
    conv_dense: int = field(32, help="dense layer after the conv encoder")

    def __post_init__(self):
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")


def build_encoder(cfg: EncoderDecoderConfig, out_dim: int):
    if cfg.arch == "mlp":
        return MLPEncoder(cfg.shape, cfg.hidden, out_dim, cfg.activation)
    return ConvEncoder(cfg.shape, cfg.conv_channels, cfg.conv_dense, out_dim)


def build_decoder(cfg: EncoderDecoderConfig, maps_per_channel: int = 1):
    if cfg.arch == "mlp":
        return MLPDecoder(cfg.latent_dim, cfg.hidden, cfg.shape, cfg.activation, maps_per_channel)
    return ConvDecoder(cfg.latent_dim, cfg.shape, cfg.conv_channels, maps_per_channel)
