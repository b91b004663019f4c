"""Datasets, file formats, preprocessing and downloads for genzoo.

``load_dataset(DataConfig(...))`` returns a whole in-memory :class:`ImageDataset` (float32 tensors,
train/valid/test) for a named dataset (:data:`DATASETS`), a ``.npz``/``.npy`` file or a folder of
images. ``make_batch_transform(cfg)`` gives the per-batch randomness (dynamic binarization or
uniform dequantization) that the trainer applies to each batch. :class:`DataSpec` (``dataset.spec``)
records what the data are (binary / quantized / continuous, levels, range, binarization,
dequantization, shape); models, objectives and evaluators check it before training or reporting. Every bad input raises
:class:`DataError`, a ``ValueError`` whose one-line message names the file or option.
"""

from genzoo.data.datasets import DATASETS, DataConfig, ImageDataset, Split, default_data_dir, load_dataset
from genzoo.data.errors import DataError
from genzoo.data.spec import DataSpec
from genzoo.data.transforms import BatchTransform, make_batch_transform

__all__ = [
    "DATASETS",
    "BatchTransform",
    "DataConfig",
    "DataError",
    "DataSpec",
    "ImageDataset",
    "Split",
    "default_data_dir",
    "load_dataset",
    "make_batch_transform",
]
