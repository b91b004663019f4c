"""Every call the web app makes into a model, in one place.

The app never touches a model directly: it asks this module what a model offers
(:func:`describe`) and calls the functions below, which use only the public model interface
(``sample``, ``encode``/``decode``, ``log_prob``/``pixel_log_probs``, ``forward``, InfoGAN's
``latents``/``generate``, CycleGAN's ``translate``) and :mod:`genzoo.evaluation.anomaly`. When a
model API changes, this is the file to adapt.

All functions take images in the model's data space, (B, C, H, W), and run under
``torch.inference_mode``. Randomness always comes from a ``torch.Generator`` made for the request
(:func:`generator`), never from a generator shared across requests, so a seed gives the same picture
whoever asks and however many requests run at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

MAX_SAMPLES = 64


def generator(seed: int) -> torch.Generator:
    """A fresh CPU generator for one request."""
    return torch.Generator().manual_seed(int(seed))


def family(model) -> str:
    from genzoo.registry import get_model

    try:
        return get_model(model.registry_name).family
    except ValueError:
        return ""


def latent_dim(model) -> int | None:
    if not getattr(model, "has_latent", False) or not callable(getattr(model, "decode", None)):
        return None
    d = getattr(model, "latent_dim", None) or getattr(model.config, "latent_dim", None)
    return int(d) if d else None


def is_infogan(model) -> bool:
    return all(callable(getattr(model, n, None)) for n in ("latents", "generate")) and \
        hasattr(model.config, "categories") and hasattr(model.config, "continuous")


def is_text(model) -> bool:
    return hasattr(model, "vocabulary") and hasattr(model, "describe")


def num_labels(model) -> int:
    """Number of classes ``sample(label=...)`` accepts (0: unconditional)."""
    n = int(getattr(model, "num_classes", 0) or 0)
    if not n and getattr(model, "condition_type", None) == "label":  # e.g. the conditional gated PixelCNN
        n = int(getattr(model.config, "classes", 0) or 0)
    if n and is_text(model):
        return 0
    if n and hasattr(model.config, "conditional_prior") and not model.config.conditional_prior:
        return 0
    return n


def is_autoregressive(model) -> bool:
    return callable(getattr(model, "pixel_log_probs", None))


def streams_live(model) -> bool:
    """True when the model samples in raster order with the shared autoregressive sampler, so that
    :func:`stream_rows` reproduces ``model.sample`` row by row from ``forward`` alone."""
    from genzoo.models.autoregressive._common import AutoregressiveModel

    return isinstance(model, AutoregressiveModel) and type(model).sample is AutoregressiveModel.sample


def can_sample(model) -> bool:
    """Whether the model draws samples (a plain autoencoder and the CycleGAN do not)."""
    return bool(getattr(model, "can_sample", False)) and not can_translate(model)


def can_translate(model) -> bool:
    return callable(getattr(model, "translate", None))


def input_shape(model, direction: str = "a2b") -> tuple[int, int, int]:
    """(C, H, W) of the images a view feeds the model: domain B's for a CycleGAN's b2a."""
    shape_b = getattr(model.config, "shape_b", None)
    return tuple(shape_b) if direction == "b2a" and shape_b else tuple(model.config.shape)


def anomaly_score_name(model) -> str | None:
    """The preferred anomaly score of :mod:`genzoo.evaluation.anomaly` that an upload alone can answer:
    the discriminator score is left out for the CycleGAN (two discriminators, one per domain) and for
    conditional models (their discriminators need the label or caption, which an upload lacks)."""
    from genzoo.evaluation.anomaly import available_scores

    if can_translate(model):
        return None
    conditional = bool(num_labels(model)) or is_text(model)
    s = [name for name in available_scores(model) if not (name == "disc" and conditional)]
    return s[0] if s else None


def describe(model) -> dict:
    """What the app can show for ``model``: its kind and the interactive views that apply."""
    c, h, w = model.config.shape
    ld = latent_dim(model)
    views = ["sample"] if can_sample(model) else []
    info: dict = {"model": model.registry_name, "family": family(model), "shape": [c, h, w],
                  "class": type(model).__name__, "latent_dim": ld}
    if ld:
        views += ["latent", "interpolate", "reconstruct"]
    if is_infogan(model):
        views.append("infogan")
        info["categories"] = int(model.config.categories)
        info["continuous"] = int(model.config.continuous)
    if num_labels(model):
        views.append("label")
        info["num_classes"] = num_labels(model)
    if is_text(model):
        views.append("text")
        info["vocabulary"] = list(model.vocabulary)
    if is_autoregressive(model):
        views += ["stream", "logprob"]
        info["live_stream"] = streams_live(model)
    if can_translate(model):
        views.append("translate")
    score = anomaly_score_name(model)
    if score:
        views.append("anomaly")
        info["anomaly_score"] = score
    info["views"] = views
    return info


@torch.inference_mode()
def encode(model, x: torch.Tensor) -> torch.Tensor:
    """Codes (B, L): the posterior mean for a VAE, the encoder output for an AE/AAE."""
    return model.encode(x.to(model.device)).flatten(1).float().cpu()


@torch.inference_mode()
def decode(model, z: torch.Tensor) -> torch.Tensor:
    """Decoder means (B, C, H, W) of codes z (B, L)."""
    return model.decode(z.to(model.device)).float().cpu()


@torch.inference_mode()
def reconstruct(model, x: torch.Tensor) -> torch.Tensor:
    return decode(model, encode(model, x))


@torch.inference_mode()
def interpolate(model, xa: torch.Tensor, xb: torch.Tensor, steps: int) -> torch.Tensor:
    """Decoded codes on the line between the codes of xa and xb (1, C, H, W): (steps, C, H, W)."""
    za, zb = encode(model, xa), encode(model, xb)  # (1, L)
    t = torch.linspace(0, 1, steps).unsqueeze(1)  # (steps, 1)
    return decode(model, (1 - t) * za + t * zb)


@torch.inference_mode()
def sample(model, n: int, seed: int, *, label: int | None = None, text: str | None = None) -> torch.Tensor:
    """n samples (n, C, H, W), with a class label or a caption for the conditional models (the one
    ``condition=`` of every model's ``sample``)."""
    condition = int(label) if label is not None else text
    return model.sample(n, generator=generator(seed), condition=condition).float().cpu()


@torch.inference_mode()
def infogan(model, seed: int, category: int, continuous: list[float]) -> torch.Tensor:
    """InfoGAN image (1, C, H, W) for the noise z drawn from ``seed`` and the given codes."""
    z, _, _ = model.latents(1, generator(seed))
    cat = torch.tensor([int(category)], device=model.device)
    cont = torch.tensor([continuous], dtype=z.dtype, device=model.device).reshape(1, -1)
    return model.generate(z, cat, cont).float().cpu()


@torch.inference_mode()
def pixel_log_probs(model, x: torch.Tensor) -> torch.Tensor:
    """log p(x_i | x_<i) per pixel, summed over channels: (B, H, W) nats."""
    return model.pixel_log_probs(x.to(model.device)).sum(1).float().cpu()


@torch.inference_mode()
def log_prob(model, x: torch.Tensor) -> torch.Tensor:
    """log p(x) in nats, (B,): exact for the autoregressive models (an ensemble over orderings for an
    order-agnostic NADE with several)."""
    return model.log_prob(x.to(model.device)).float().cpu()


@torch.inference_mode()
def translate(model, x: torch.Tensor, direction: str) -> torch.Tensor:
    return model.translate(x.to(model.device), direction).float().cpu()


def anomaly_scores(model, x: torch.Tensor, reference: torch.Tensor | None, seed: int, k: int) -> tuple[str, list]:
    """(score name, scores) of images x under the model's preferred anomaly score."""
    from genzoo.evaluation.anomaly import anomaly_scores as scores

    name = anomaly_score_name(model)
    with torch.inference_mode():
        out = scores(model, x.to(model.device), name, k=k, reference=reference, generator=generator(seed))
    return name, [float(v) for v in out]


@torch.inference_mode()
def stream_rows(model, seed: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Ancestral sampling of one image in raster order, yielding (row index, row (C, W) in data space)
    as each row is complete.

    For models where :func:`streams_live` holds this draws the same uniform noise as
    ``model.sample(1, generator=generator(seed))`` and uses the same inverse-CDF rule on the
    teacher-forced logits of ``forward`` (one network pass per pixel), so for data in [0, 1] the
    streamed image equals that sample (a test checks it; data in [-1, 1] go through one more
    rescaling and may differ in rare draws).
    Other models are sampled whole and then sent row by row."""
    c_, h, w = model.config.shape
    if not streams_live(model):
        x = sample(model, 1, seed)[0]
        for r in range(h):
            yield r, x[:, r]
        return
    dtype = next(model.parameters()).dtype
    noise = torch.rand(1, h, w, c_, generator=generator(seed), dtype=dtype).to(model.device)
    canvas = torch.zeros(1, c_, h, w, dtype=dtype, device=model.device)  # [0, 1]
    categorical = model.categorical
    levels = model.config.levels
    for r in range(h):
        for c in range(w):
            for ch in range(c_):
                logits = model(model.from_unit(canvas))  # (1, C, H, W) or (1, levels, C, H, W)
                u = noise[:, r, c, ch]
                if categorical:
                    cdf = torch.softmax(logits[:, :, ch, r, c], dim=-1).cumsum(-1)  # (1, levels)
                    k = (cdf < u.unsqueeze(-1)).sum(-1).clamp(max=levels - 1)
                    canvas[:, ch, r, c] = k.to(dtype) / (levels - 1)
                else:
                    canvas[:, ch, r, c] = (u < torch.sigmoid(logits[:, ch, r, c])).to(dtype)
        yield r, model.from_unit(canvas)[0, :, r].float().cpu()
