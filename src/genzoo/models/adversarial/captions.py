"""Captions for digit images, written from the label and from attributes measured on the image,
for the text-to-image GAN (the offline stand-in for the captioned datasets of Reed et al. 2016).

Measured attributes (on the ink mask ``x > 0.5`` / the grey-level ink mass, images in [0, 1]):

* thickness: 2 * area / perimeter of the ink mask. A stroke of length L and width w has area ~ L w
  and perimeter ~ 2 L, so this estimates w (ink mass over a skeleton-length proxy) in pixels.
* slant: -cov(row, col) / var(row) of the ink mass, the shear that makes the digit upright
  (rows grow downwards, so a digit whose top leans right has positive slant).
* size: area of the ink's bounding box as a fraction of the image.

Words: "thin" / "thick" below / above the thickness thresholds; "upright" when |slant| is below
its threshold, "slanted" when slant is above the other; "small" / "large" from the size thresholds;
nothing in between. A caption reads "a thick, slanted seven" (adjectives in that order).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo.nn import random as rng

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADJECTIVES = (("thin", "thick"), ("upright", "slanted"), ("small", "large"))
#: token ids of the generated captions (index 0 is padding), turned into strings by :func:`detokenize`;
#: the text encoder reads the strings (:class:`genzoo.nn.text.WordTextEncoder`)
VOCAB = ("<pad>", "a", "thin", "thick", "upright", "slanted", "small", "large", *DIGITS)
WORD_ID = {w: i for i, w in enumerate(VOCAB)}
MAX_WORDS = 5  # "a" + three adjectives + the digit


@dataclass(frozen=True)
class Thresholds:
    """Attribute thresholds (the defaults are the 1/3 and 2/3 quantiles measured on mnist5k's
    training split, see ``CaptionThresholds`` in :mod:`.text2image`)."""

    thin_below: float
    thick_above: float
    upright_below: float
    slanted_above: float
    small_below: float
    large_above: float


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x[:, :1].float().clamp(0, 1)  # first channel, (B, 1, H, W)


def thickness(x: torch.Tensor) -> torch.Tensor:
    """Stroke width estimate 2 * area / perimeter of the ink mask, (B,) pixels (0 for blank images)."""
    m = (_unit(x) > 0.5).float()
    m = F.pad(m, (1, 1, 1, 1))  # (B, 1, H+2, W+2): the border counts as background
    area = m.flatten(1).sum(1)
    perim = (m[..., 1:, :] != m[..., :-1, :]).flatten(1).sum(1) + (m[..., :, 1:] != m[..., :, :-1]).flatten(1).sum(1)
    return torch.where(perim > 0, 2 * area / perim.clamp(min=1), torch.zeros_like(area))


def slant(x: torch.Tensor) -> torch.Tensor:
    """-cov(row, col) / var(row) of the ink mass, (B,): > 0 when the top leans right."""
    w = _unit(x)[:, 0]  # (B, H, W)
    b, h, wd = w.shape
    mass = w.flatten(1).sum(1).clamp(min=1e-6)  # (B,)
    rows = torch.arange(h, dtype=w.dtype, device=w.device).view(1, h, 1)
    cols = torch.arange(wd, dtype=w.dtype, device=w.device).view(1, 1, wd)
    mr = (w * rows).flatten(1).sum(1) / mass  # (B,)
    mc = (w * cols).flatten(1).sum(1) / mass
    dr = rows - mr.view(b, 1, 1)  # (B, H, 1)
    dc = cols - mc.view(b, 1, 1)  # (B, 1, W)
    var_r = (w * dr**2).flatten(1).sum(1) / mass
    cov = (w * dr * dc).flatten(1).sum(1) / mass
    return -cov / var_r.clamp(min=1e-6)


def size(x: torch.Tensor) -> torch.Tensor:
    """Area of the ink mask's bounding box as a fraction of the image, (B,)."""
    m = _unit(x)[:, 0] > 0.5  # (B, H, W)
    h, w = m.shape[1:]
    rows, cols = m.any(2), m.any(1)  # (B, H), (B, W)

    def extent(v: torch.Tensor) -> torch.Tensor:
        idx = torch.arange(v.shape[1], device=v.device).expand_as(v)
        first = torch.where(v, idx, v.shape[1]).min(1).values
        last = torch.where(v, idx, -1).max(1).values
        return (last - first + 1).clamp(min=0).float()

    return extent(rows) * extent(cols) / (h * w)


def attributes(x: torch.Tensor, t: Thresholds) -> torch.Tensor:
    """(B, 3) ints per attribute (thickness, slant, size): 0 = first word, 1 = second, -1 = none."""
    th, sl, sz = thickness(x), slant(x), size(x)

    def pick(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        out = torch.full(first.shape, -1, dtype=torch.long, device=x.device)
        out[first] = 0
        out[second & ~first] = 1
        return out

    return torch.stack([pick(th < t.thin_below, th > t.thick_above),
                        pick(sl.abs() < t.upright_below, sl > t.slanted_above),
                        pick(sz < t.small_below, sz > t.large_above)], dim=1)


def tokens_from(labels: torch.Tensor, attrs: torch.Tensor) -> torch.Tensor:
    """Labels (B,) and attribute codes (B, 3) -> token ids (B, MAX_WORDS), 0-padded in place of
    missing adjectives."""
    b = labels.shape[0]
    tok = torch.zeros(b, MAX_WORDS, dtype=torch.long, device=labels.device)
    tok[:, 0] = WORD_ID["a"]
    for j, (w0, w1) in enumerate(ADJECTIVES):
        a = attrs[:, j]
        tok[:, 1 + j] = torch.where(a == 0, WORD_ID[w0], torch.where(a == 1, WORD_ID[w1], 0))
    tok[:, -1] = labels.long() + WORD_ID[DIGITS[0]]
    return tok


def caption_tokens(x: torch.Tensor, labels: torch.Tensor, t: Thresholds) -> torch.Tensor:
    """Token ids (B, MAX_WORDS) of the captions of images x (in [0, 1]) with labels (B,)."""
    return tokens_from(labels, attributes(x, t))


def detokenize(tokens: torch.Tensor) -> list[str]:
    """Token ids (B, L) -> caption strings, e.g. "a thick, slanted seven"."""
    out = []
    for row in tokens.tolist():
        words = [VOCAB[i] for i in row if i != 0]
        adjs = [w for w in words if w not in ("a", *DIGITS)]
        rest = [w for w in words if w in DIGITS]
        first = (adjs or rest or [""])[0]
        article = "an" if first[:1] in ("a", "e", "i", "o", "u") else "a"
        out.append(" ".join([article, ", ".join(adjs), *rest] if adjs else [article, *rest]))
    return out


def describe(x: torch.Tensor, labels: torch.Tensor, t: Thresholds) -> list[str]:
    """Captions of images x (B, C, H, W) in [0, 1] with labels (B,)."""
    return detokenize(caption_tokens(x, labels, t))


def random_tokens(n: int, generator: torch.Generator | None = None, num_classes: int = 10) -> torch.Tensor:
    """n random captions (uniform label, each adjective slot uniform over {first, second, none})."""
    labels = rng.randint(num_classes, (n,), generator=generator)  # on the generator's device
    attrs = rng.randint(3, (n, 3), generator=generator) - 1  # (n, 3) in {-1, 0, 1}
    return tokens_from(labels, attrs)
