"""Text encoders for text-conditioned models: a list of strings -> an embedding tensor.

The plug-in contract is :class:`TextEncoder`: any object with a ``dim`` and a call
``encoder(texts) -> (n, dim)`` tensor. genzoo ships one that learns from the training captions,
so everything works offline:

* :class:`WordTextEncoder` -- bag of words over a vocabulary built from the training captions
  only (:func:`build_vocabulary`), each word's vector being its learned embedding plus the mean of
  the embeddings of its hashed character trigrams (fastText, Bojanowski et al. 2017, Sec. 3.2;
  ``buckets`` of them), averaged over the words, then a linear layer and LeakyReLU. A word the
  vocabulary lacks maps to ``<unk>`` plus its own trigrams, so "apples" or "cactus" still get a
  vector near the words they share pieces with (``strict=True`` refuses them instead, listing the
  vocabulary: right for a closed, generated vocabulary). The vocabulary is plain strings (a
  model's config.json); the embeddings are tensors (model.safetensors). Trigram ids come from
  ``zlib.crc32``, the same in every process (Python's ``hash`` of a string is not).
* :class:`ExternalTextEncoder` -- wraps a pretrained sentence embedder the user already has (a
  function or callable object texts -> (n, D) array or tensor), frozen, with a learned linear
  layer to the model's embedding size. genzoo never downloads one and never imports one named in a
  file: the caller passes the object (see :mod:`genzoo.code`).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import nn

PAD, UNK = 0, 1
SPECIALS = ("<pad>", "<unk>")
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits (any script); punctuation and '_' split


@runtime_checkable
class TextEncoder(Protocol):
    """What a text-conditioned model needs from a text encoder."""

    dim: int

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """(n,) strings -> (n, dim) float tensor."""
        ...


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``: "Grinning face (grinning_face)" -> [grinning, face, grinning, face]."""
    return _WORD.findall(text.lower())


def check_texts(texts, what: str = "text") -> list[str]:
    """``texts`` (one string or a sequence of strings) as a list; ValueError otherwise."""
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{what} must be a string or a list of strings, got {type(texts).__name__}")
    return list(texts)


def build_vocabulary(texts: Iterable[str], min_count: int = 1, max_size: int | None = None) -> tuple[str, ...]:
    """The words of ``texts`` seen at least ``min_count`` times, most frequent first (ties in
    alphabetical order, so the result does not depend on the order of ``texts``), at most ``max_size``."""
    counts = Counter(w for t in texts for w in words(t))
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return tuple(kept[:max_size] if max_size is not None else kept)


def trigrams(word: str, buckets: int) -> list[int]:
    """Bucket ids of the character trigrams of ``<word>`` (the brackets mark its ends)."""
    w = f"<{word}>"
    return [zlib.crc32(w[i:i + 3].encode("utf-8")) % buckets for i in range(len(w) - 2)]


class WordTextEncoder(nn.Module):
    """texts -> (n, out_dim): mean over words of (word embedding + mean trigram embedding),
    then Linear + LeakyReLU(0.2). See the module docstring."""

    def __init__(self, vocabulary: Sequence[str], word_dim: int, out_dim: int, *, buckets: int = 0,
                 strict: bool = False):
        super().__init__()
        self.vocabulary = tuple(vocabulary)
        bad = [w for w in self.vocabulary if words(w) != [w]]
        if bad or len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError(f"vocabulary: entries must be distinct lower-case words, got {bad[:3] or 'repeats'}")
        if buckets < 0:
            raise ValueError(f"buckets must be >= 0, got {buckets}")
        self.index = {w: i + len(SPECIALS) for i, w in enumerate(self.vocabulary)}
        self.dim, self.buckets, self.strict = out_dim, buckets, strict
        self.words = nn.Embedding(len(self.vocabulary) + len(SPECIALS), word_dim, padding_idx=PAD)
        self.grams = nn.EmbeddingBag(buckets, word_dim, mode="mean") if buckets else None
        self.proj = nn.Sequential(nn.Linear(word_dim, out_dim), nn.LeakyReLU(0.2))

    def unknown(self, text: str) -> list[str]:
        """The words of ``text`` that the vocabulary lacks."""
        return [w for w in words(text) if w not in self.index]

    def _ids(self, texts: list[str]) -> tuple[list[int], list[int], list[int], list[int]]:
        """(word ids (T,), owner sentence of each word (T,), trigram ids (G,), offsets (T,))."""
        ids, owner, grams, offsets = [], [], [], []
        for i, text in enumerate(texts):
            ws = words(text)
            if self.strict:
                unknown = [w for w in ws if w not in self.index]
                if unknown:
                    raise ValueError(f"unknown word(s) {', '.join(map(repr, unknown))} in caption {text!r}; "
                                     f"the vocabulary is: {' '.join(self.vocabulary)}")
                if not ws:
                    raise ValueError("empty caption")
            for w in ws or [""]:  # an empty caption is one <unk>
                ids.append(self.index.get(w, UNK))
                owner.append(i)
                offsets.append(len(grams))
                if self.buckets and w:
                    grams.extend(trigrams(w, self.buckets))
        return ids, owner, grams, offsets

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        texts = check_texts(texts)
        ids, owner, grams, offsets = self._ids(texts)
        dev = self.words.weight.device
        vec = self.words(torch.tensor(ids, device=dev))  # (T, word_dim)
        if self.grams is not None and grams:
            # empty bags (no trigrams: the <unk> of an empty caption) give zeros
            vec = vec + self.grams(torch.tensor(grams, device=dev), torch.tensor(offsets, device=dev))
        own = torch.tensor(owner, device=dev)
        total = vec.new_zeros(len(texts), vec.shape[1]).index_add_(0, own, vec)  # (n, word_dim)
        count = torch.bincount(own, minlength=len(texts)).to(vec.dtype).unsqueeze(1)  # (n, 1)
        return self.proj(total / count)  # (n, out_dim)


class ExternalTextEncoder(nn.Module):
    """A user's pretrained sentence embedder ``fn(texts) -> (n, in_dim)`` (kept frozen, outside the
    state dict: it is not saved with the model) followed by a learned Linear + LeakyReLU(0.2) to
    ``out_dim``, the only part that trains and is saved."""

    def __init__(self, fn: Callable, in_dim: int, out_dim: int, name: str = "text_encoder"):
        super().__init__()
        if not callable(fn):
            raise ValueError(f"{name} must be callable (texts -> (n, {in_dim}) tensor), got {type(fn).__name__}")
        if in_dim < 1:
            raise ValueError(f"{name}: give the size of the vectors it returns (text_encoder_dim), got {in_dim}")
        self._fn = (fn,)  # a tuple: an nn.Module embedder must not join this model's parameters or state
        self.name, self.in_dim, self.dim = name, in_dim, out_dim
        self.proj = nn.Sequential(nn.Linear(in_dim, out_dim), nn.LeakyReLU(0.2))

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        texts = check_texts(texts)
        with torch.no_grad():
            e = torch.as_tensor(self._fn[0](texts))
        if e.dim() != 2 or tuple(e.shape) != (len(texts), self.in_dim):
            raise ValueError(f"{self.name} returned shape {tuple(e.shape)} for {len(texts)} texts, "
                             f"expected ({len(texts)}, {self.in_dim})")
        w = self.proj[0].weight
        return self.proj(e.detach().to(device=w.device, dtype=w.dtype))  # (n, out_dim)
