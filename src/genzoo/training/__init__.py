"""The model-agnostic trainer, checkpoints, run directories and distributed helpers."""

from genzoo.training.trainer import NonFiniteLossError, TrainConfig, Trainer

__all__ = ["NonFiniteLossError", "Trainer", "TrainConfig"]
