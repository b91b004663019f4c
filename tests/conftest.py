"""Fixtures shared by every test folder."""

import importlib.util
import sys
from pathlib import Path

import pytest

from genzoo.data import DataConfig


@pytest.fixture
def tiny_data():
    """sklearn's 8x8 digits, statically binarized, 400 training examples: seconds per run."""
    return DataConfig(name="digits", binarize="static", limit=400)


@pytest.fixture
def benchmark_script():
    """Load ``benchmarks/NAME.py`` as a module (the scripts are not a package): ``load(NAME)``.
    Registered in ``sys.modules`` while the test runs (dataclasses look their module up there)."""
    loaded = []
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(folder))  # the scripts import their siblings (limits), as when run directly

    def load(name: str):
        path = folder / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        loaded.append(spec.name)
        spec.loader.exec_module(module)
        return module

    yield load
    sys.path.remove(str(folder))
    for name in loaded:
        sys.modules.pop(name, None)
