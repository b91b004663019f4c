"""Transfer learning: how useful are a model's codes for classification with few labels?

The encoder is frozen (``model.encode(x)``: the code, the posterior mean for a VAE), a linear
classifier (multinomial logistic regression on standardised features) is fitted on the codes of a
class-balanced, seeded draw of 100 / 1000 / all labelled training examples, and the test error is
reported beside two baselines of the same budget: raw pixels, and PCA with as many components as
the code has dimensions. ``finetune=True`` also trains the whole encoder with a linear head for a
few epochs on the labelled draw.

Published semi-supervised MNIST test errors with 100 labels, for orientation (not comparable to a
linear probe, and measured on the full 60k MNIST): Kingma et al. 2014 (table 1) M1+TSVM 11.82%,
M1+M2 3.33%; Makhzani et al. 2016 (AAE, table 2) 1.90%.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genzoo.nn.random import seeded_generator


@torch.no_grad()
def encode_all(model, x: torch.Tensor, *, batch_size: int = 500, spec=None, seed: int = 0) -> torch.Tensor:
    """Codes (N, D) of ``x`` under the frozen encoder ``model.encode``. With the run's ``spec``
    (:class:`~genzoo.data.DataSpec`) the inputs get the transform training applied (uniform
    dequantization, seeded by ``seed``) before encoding."""
    if not callable(getattr(model, "encode", None)):
        raise ValueError(f"{type(model).__name__} has no encoder (encode); a probe needs one")
    model.eval()
    device = next(model.parameters(), torch.zeros(0)).device
    g = seeded_generator(seed, device)

    def prepare(b):
        return b if spec is None else spec.eval_transform(b, g)

    return torch.cat([model.encode(prepare(x[i:i + batch_size].to(device))).flatten(1).float().cpu()
                      for i in range(0, len(x), batch_size)])


def balanced_indices(labels, n: int | None, *, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` examples with every class as equally represented as possible (classes
    with too few examples give what they have; the remainder is drawn from the rest), or of all
    examples when ``n`` is None or not smaller than the set. Deterministic given ``seed``."""
    y = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if n is None or n >= len(y):
        return np.arange(len(y))
    classes = np.unique(y)
    if n < len(classes):
        raise ValueError(f"{n} labels cannot cover {len(classes)} classes")
    rng = np.random.default_rng(seed)
    per = n // len(classes)
    chosen, rest = [], []
    for c in classes:
        idx = rng.permutation(np.flatnonzero(y == c))
        chosen.append(idx[:per])
        rest.append(idx[per:])
    chosen = np.concatenate(chosen)
    rest = rng.permutation(np.concatenate(rest))
    chosen = np.concatenate([chosen, rest[:n - len(chosen)]])
    return np.sort(chosen)


def linear_probe_error(train_f, train_y, test_f, test_y, *, C: float = 1.0, max_iter: int = 1000,
                       seed: int = 0) -> float:
    """Test error (fraction, in [0, 1]) of logistic regression fitted on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def np_(a):
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    xtr, ytr, xte, yte = np_(train_f), np_(train_y), np_(test_f), np_(test_y)
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    if len(np.unique(ytr)) < 2:
        raise ValueError("the labelled draw holds a single class; a classifier needs at least two")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    clf.fit(xtr, ytr)
    return float((clf.predict(xte) != yte).mean())


def finetune_error(model, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                   y_test: torch.Tensor, *, epochs: int = 5, lr: float = 1e-3, batch_size: int = 64,
                   min_steps: int = 200, seed: int = 0) -> float:
    """Fine-tune a copy of the encoder with a linear head (cross-entropy, Adam) on the labelled
    examples for ``epochs`` epochs but at least ``min_steps`` steps (100 labels are only 2 batches
    an epoch); return the test error. The caller's model is left untouched."""
    enc = copy.deepcopy(model).train()
    device = next(enc.parameters()).device
    with torch.no_grad():
        d = enc.encode(x_train[:2].to(device)).flatten(1).shape[1]
    k = int(max(y_train.max(), y_test.max())) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(d, k).to(device)
    params = [p for p in enc.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    y_train = y_train.long()
    epochs = max(epochs, math.ceil(min_steps / math.ceil(len(x_train) / batch_size)))
    for _ in range(epochs):
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            logits = head(enc.encode(x_train[idx].to(device)).flatten(1))  # (b, K)
            loss = F.cross_entropy(logits, y_train[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
    enc.eval()
    with torch.no_grad():
        pred = torch.cat([head(enc.encode(x_test[i:i + 500].to(device)).flatten(1)).argmax(-1).cpu()
                          for i in range(0, len(x_test), 500)])
    return float((pred != y_test.cpu()).double().mean())


def probe(model, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
          *, label_counts: tuple[int | None, ...] = (100, 1000, None), seed: int = 0,
          baselines: bool = True, finetune: bool = False, finetune_epochs: int = 5, spec=None) -> list[dict]:
    """Linear-probe test error of ``model``'s codes (and the pixel and PCA baselines) for each
    labelled budget in ``label_counts`` (None = all); ``spec``: the run's data contract, whose
    training transform the encoder inputs get (see :func:`encode_all`). One dict per (features, budget):
    ``{"features", "dim", "labels", "test_error"}``; errors are fractions in [0, 1]."""
    from sklearn.decomposition import PCA

    codes_tr = encode_all(model, x_train, spec=spec, seed=seed)
    codes_te = encode_all(model, x_test, spec=spec, seed=seed + 1)
    d = codes_tr.shape[1]
    feats = {"codes": (codes_tr, codes_te)}
    if baselines:
        px_tr, px_te = x_train.flatten(1).float(), x_test.flatten(1).float()
        feats["pixels"] = (px_tr, px_te)
        n_comp = min(d, px_tr.shape[0], px_tr.shape[1])
        pca = PCA(n_components=n_comp, random_state=seed).fit(px_tr.numpy())  # unsupervised, all train
        feats[f"pca{n_comp}"] = (pca.transform(px_tr.numpy()), pca.transform(px_te.numpy()))
    rows = []
    for n in label_counts:
        idx = balanced_indices(y_train, n, seed=seed)
        for name, (ftr, fte) in feats.items():
            err = linear_probe_error(ftr[idx], y_train[idx], fte, y_test, seed=seed)
            dim = ftr.shape[1] if ftr.ndim == 2 else math.prod(ftr.shape[1:])
            rows.append({"features": name, "dim": int(dim), "labels": len(idx), "test_error": err})
        if finetune:
            t = torch.as_tensor(idx)
            err = finetune_error(model, x_train[t], y_train[t], x_test, y_test, epochs=finetune_epochs,
                                 seed=seed)
            rows.append({"features": "finetuned", "dim": d, "labels": len(idx), "test_error": err})
    return rows


def format_probe_table(rows: list[dict]) -> str:
    """Markdown table: one row per feature set, one column per labelled budget (test error %)."""
    budgets = sorted({r["labels"] for r in rows})
    names = list(dict.fromkeys(r["features"] for r in rows))
    lines = ["| features | dim | " + " | ".join(f"{b} labels" for b in budgets) + " |",
             "|---|---|" + "---|" * len(budgets)]
    for name in names:
        mine = {r["labels"]: r for r in rows if r["features"] == name}
        dim = next(iter(mine.values()))["dim"]
        cells = [f"{100 * mine[b]['test_error']:.2f}%" if b in mine else "" for b in budgets]
        lines.append(f"| {name} | {dim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
