"""genzoo: deep generative models in PyTorch behind one interface.

>>> import genzoo
>>> model = genzoo.load("runs/vae")          # config.json + model.safetensors, no pickle, no code
>>> x = model.sample(16)                      # (16, 1, 28, 28)
"""

__version__ = "0.1.0"


def load(run_dir, device="cpu", weights="model.safetensors", *, trust_code=False, **code):
    """Rebuild the model saved in a run directory or a model directory (``model.save_pretrained``).

    Every file is checked as untrusted input and nothing it names is imported: a model whose config
    names Python code (an AAE's custom ``prior_fn``) needs the function, ``load(run, prior_fn=f)``,
    or an explicit ``trust_code=True``. See :func:`genzoo.training.loading.load`."""
    from genzoo.training.loading import load as _load

    return _load(run_dir, device=device, weights=weights, trust_code=trust_code, **code)


def train(model_name, **kw):
    """Train a registered model and write a run directory (see :func:`genzoo.training.run.train`)."""
    from genzoo.training.run import train as _train

    return _train(model_name, **kw)


__all__ = ["__version__", "load", "train"]
