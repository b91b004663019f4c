"""Adversarial (implicit-density) models: gan, dcgan, cgan, infogan, aae, cyclegan, text2image.

Each model holds its networks only; the losses live in :mod:`genzoo.objectives.adversarial`
(``gan``, ``infogan``, ``gan-cls``), :mod:`genzoo.objectives.aae` and :mod:`genzoo.objectives.cycle`.
Shared networks and the implicit-model base class are in :mod:`._nets`; captions for the
text-to-image model in :mod:`.captions`.
"""
