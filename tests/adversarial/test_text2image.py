"""Digit captions measured from constructed images, their closed vocabulary, and text conditioning."""

from __future__ import annotations

import pytest
import torch

from genzoo.models.adversarial import captions as C
from genzoo.registry import get_model

T = get_model("text2image").config_cls().thresholds


def canvas(n: int = 1) -> torch.Tensor:
    return torch.zeros(n, 1, 28, 28)


def bar(width: int) -> torch.Tensor:
    x = canvas()
    x[0, 0, 4:24, 14:14 + width] = 1.0  # vertical stroke, 20 px tall
    return x


def slanted_stroke() -> torch.Tensor:
    x = canvas()
    for r in range(4, 24):
        c = 20 - (r - 4) // 2  # one column left every two rows down: the top leans right
        x[0, 0, r, c:c + 2] = 1.0
    return x


def test_thickness_estimates_stroke_width():
    for w in (1, 2, 4):
        est = float(C.thickness(bar(w)))
        assert abs(est - w) < 0.25 * w + 0.1, (w, est)


def test_slant_sign_and_size():
    assert abs(float(C.slant(bar(2)))) < 1e-6
    assert abs(float(C.slant(slanted_stroke())) - 0.5) < 0.05
    mirrored = slanted_stroke().flip(-1)
    assert abs(float(C.slant(mirrored)) + 0.5) < 0.05
    assert abs(float(C.size(bar(2))) - 40 / 784) < 1e-6


def test_captions_of_constructed_images():
    box = canvas()
    box[0, 0, 2:26, 2:26] = 1.0
    box[0, 0, 5:23, 5:23] = 0.0  # a large ring, 3 px thick
    x = torch.cat([bar(1), bar(4), slanted_stroke(), box])
    y = torch.tensor([1, 1, 7, 0])
    assert C.describe(x, y, T) == ["a thin, upright, small one", "a thick, upright, small one",
                                   "a thin, slanted, small seven", "a thick, upright, large zero"]


def test_caption_strings_and_unknown_words():
    tok = C.tokens_from(torch.tensor([7, 8]), torch.tensor([[1, 1, -1], [-1, 0, -1]]))
    assert C.detokenize(tok) == ["a thick, slanted seven", "an upright eight"]
    entry = get_model("text2image")
    model = entry.model_cls(entry.config_cls(shape=(1, 8, 8), noise_dim=4, width=4, word_dim=4, text_dim=4))
    assert model.vocabulary[:4] == ("a", "an", "thin", "thick")
    with pytest.raises(ValueError, match="vocabulary is: a an thin thick"):
        model.embed_text(["a purple two"])
    with pytest.raises(ValueError, match="empty caption"):
        model.embed_text([", ."])


def test_mnist_captions_cover_every_word():
    from genzoo.data import DataConfig, load_dataset

    d = load_dataset(DataConfig(name="mnist5k"))
    tok = C.caption_tokens(d.valid.x, d.valid.y, T)  # 500 images
    counts = torch.bincount(tok.flatten(), minlength=len(C.VOCAB))
    adjectives = counts[2:8].float() / len(tok)
    # thresholds are the training split's terciles: each word should describe about a third of the images
    assert ((adjectives > 0.2) & (adjectives < 0.47)).all(), adjectives


def test_output_changes_with_text_and_not_with_seed_reuse():
    entry = get_model("text2image")
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(shape=(1, 8, 8), noise_dim=4, width=4, word_dim=4, text_dim=4)).eval()
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    a = model.sample(3, condition="a thin two", noise=z)
    b = model.sample(3, condition="a thick, slanted seven", noise=z)
    assert not torch.allclose(a, b, atol=1e-4)
    assert torch.equal(a, model.sample(3, condition="a thin two", noise=z))
    # word order does not matter to the mean-of-embeddings encoder
    assert torch.allclose(model.sample(3, condition="a slanted thick seven", noise=z), b)
    with pytest.raises(ValueError, match="vocabulary"):
        model.sample(2, condition="a blue two")
