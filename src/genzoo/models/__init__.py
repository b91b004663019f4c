"""Every genzoo model. Importing this package imports every module below it, which registers
each model (see :func:`genzoo.registry.register_model`): a new model is a new module."""

from genzoo._discover import import_submodules
from genzoo.models.base import GenerativeModel, LatentVariableModel, ModelConfig

import_submodules(__name__)

__all__ = ["GenerativeModel", "LatentVariableModel", "ModelConfig"]
