"""Unsupervised clustering accuracy: how well discrete codes (InfoGAN's categorical code, an AAE's
cluster head, k-means on latent codes) recover the class labels up to a relabelling.

With as many clusters as classes, clusters are matched to classes one-to-one by the Hungarian
algorithm (Kuhn 1955) on the contingency table, the "unsupervised clustering accuracy" of Xie et
al. 2016 (DEC, eq. 10) used by InfoGAN (Chen et al. 2016, sec. 7.1). With more clusters than
classes, each cluster takes its majority label, as in AAE (Makhzani et al. 2016, sec. 6: 16 and 30
clusters on MNIST give 9.55% and 4.10% error).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def _labels(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-d array of integer ids, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not np.all(a == np.round(a)):
            raise ValueError(f"{name} must hold integer ids")
        a = a.astype(np.int64)
    return a


def cluster_to_label_map(pred_clusters, labels, *, one_to_one: bool | None = None
                         ) -> dict[int, int | None]:
    """Best mapping cluster id -> label. ``one_to_one`` (default: when there are no more clusters
    than classes) uses the Hungarian assignment (clusters left unmatched map to None); otherwise
    each cluster takes its majority label."""
    pred, lab = _labels(pred_clusters, "pred_clusters"), _labels(labels, "labels")
    if pred.shape != lab.shape:
        raise ValueError(f"pred_clusters and labels differ in length: {pred.shape[0]} vs {lab.shape[0]}")
    clusters, pi = np.unique(pred, return_inverse=True)
    classes, li = np.unique(lab, return_inverse=True)
    table = np.zeros((len(clusters), len(classes)), dtype=np.int64)  # (clusters, classes) counts
    np.add.at(table, (pi, li), 1)
    if one_to_one is None:
        one_to_one = len(clusters) <= len(classes)
    if one_to_one:
        rows, cols = linear_sum_assignment(-table)
        mapping: dict[int, int | None] = {int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols)}
        # clusters left unmatched (only when one_to_one is forced with more clusters than classes)
        # map to no label: their examples count as errors
        for r in range(len(clusters)):
            mapping.setdefault(int(clusters[r]), None)
        return mapping
    return {int(clusters[r]): int(classes[table[r].argmax()]) for r in range(len(clusters))}


def clustering_accuracy(pred_clusters, labels, *, one_to_one: bool | None = None) -> float:
    """Fraction of examples whose cluster maps to their label under the best mapping
    (see :func:`cluster_to_label_map`). A relabelled perfect clustering scores 1."""
    pred, lab = _labels(pred_clusters, "pred_clusters"), _labels(labels, "labels")
    if pred.size == 0:
        raise ValueError("no examples")
    mapping = cluster_to_label_map(pred, lab, one_to_one=one_to_one)
    hits = [mapping[int(c)] is not None and mapping[int(c)] == int(t) for c, t in zip(pred, lab)]
    return float(np.mean(hits))


def kmeans_clusters(codes, n_clusters: int, *, seed: int = 0, n_init: int = 10) -> np.ndarray:
    """k-means (sklearn, k-means++ init) on codes (N, D); returns the cluster id of each row."""
    from sklearn.cluster import KMeans

    z = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    z = z.reshape(len(z), -1)
    if n_clusters < 1 or n_clusters > len(z):
        raise ValueError(f"n_clusters={n_clusters} must lie between 1 and the number of codes ({len(z)})")
    return KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit_predict(z)


def code_clustering_accuracy(codes, labels, n_clusters: int | None = None, *, seed: int = 0) -> float:
    """Cluster latent codes with k-means (``n_clusters`` defaults to the number of classes) and
    report :func:`clustering_accuracy` against ``labels``."""
    lab = _labels(labels, "labels")
    k = int(n_clusters or len(np.unique(lab)))
    return clustering_accuracy(kmeans_clusters(codes, k, seed=seed), lab)


@torch.no_grad()
def encoded_clustering_accuracy(model, x: torch.Tensor, labels, n_clusters: int | None = None, *,
                                seed: int = 0, batch_size: int = 500) -> float:
    """k-means clustering accuracy of ``model.encode(x)`` (any latent-variable model). Models with
    a discrete code are scored on that code directly: InfoGAN's ``infer_codes(x)`` (Q's categorical
    guess first) or a ``predict_code(x)`` returning cluster ids (e.g. an AAE cluster head)."""
    model.eval()
    device = next(model.parameters()).device
    for name in ("infer_codes", "predict_code"):
        fn = getattr(model, name, None)
        if callable(fn):
            def first(out):
                return out[0] if isinstance(out, tuple) else out
            pred = torch.cat([first(fn(x[i:i + batch_size].to(device))).cpu()
                              for i in range(0, len(x), batch_size)])
            return clustering_accuracy(pred, labels)
    if not hasattr(model, "encode"):
        raise ValueError(f"{type(model).__name__} has no encoder (encode) or discrete code (predict_code)")
    codes = torch.cat([model.encode(x[i:i + batch_size].to(device)).flatten(1).cpu()
                       for i in range(0, len(x), batch_size)])
    return code_clustering_accuracy(codes, labels, n_clusters, seed=seed)
