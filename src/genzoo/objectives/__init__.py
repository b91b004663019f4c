"""Training objectives, one class each (see :mod:`genzoo.objectives.base`).

Every module in this package is imported here, so a new objective registers itself by
being a module of this package that uses :func:`genzoo.registry.register_objective`.
"""

from genzoo._discover import import_submodules
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig

import_submodules(__name__)

__all__ = ["Batch", "Objective", "ObjectiveConfig"]
