import pytest
import torch

from genzoo.data import DataConfig


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.fixture
def tiny_data():
    """sklearn's 8x8 digits, statically binarized, 400 training examples: seconds per run."""
    return DataConfig(name="digits", binarize="static", limit=400)
