"""genzoo: deep generative models in PyTorch behind one interface.

>>> import genzoo
>>> model = genzoo.load("runs/vae")          # config.json + model.safetensors, no pickle
>>> x = model.sample(16)                      # (16, 1, 28, 28)
"""

__version__ = "0.1.0"


def load(run_dir, device="cpu", weights="model.safetensors"):
    """Rebuild the model saved in a run directory (see :func:`genzoo.training.run.load`)."""
    from genzoo.training.run import load as _load

    return _load(run_dir, device=device, weights=weights)


def train(model_name, **kw):
    """Train a registered model and write a run directory (see :func:`genzoo.training.run.train`)."""
    from genzoo.training.run import train as _train

    return _train(model_name, **kw)


__all__ = ["__version__", "load", "train"]
