"""Fixtures shared by every test folder."""

import pytest

from genzoo.data import DataConfig


@pytest.fixture
def tiny_data():
    """sklearn's 8x8 digits, statically binarized, 400 training examples: seconds per run."""
    return DataConfig(name="digits", binarize="static", limit=400)
