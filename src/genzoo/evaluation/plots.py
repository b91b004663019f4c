"""Pictures a person can look at: image grids, latent manifolds, code scatter plots, interpolations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def grid_array(images: torch.Tensor, nrow: int | None = None, value_range=(0.0, 1.0), pad: int = 2) -> np.ndarray:
    """(N, C, H, W) -> uint8 (rows*H', cols*W', C) mosaic with ``pad`` pixels between tiles."""
    images = images.detach().float().cpu()
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    lo, hi = value_range
    images = ((images - lo) / (hi - lo)).clamp(0, 1)
    n, c, h, w = images.shape
    ncol = nrow or max(1, int(math.ceil(math.sqrt(n))))
    nrows = int(math.ceil(n / ncol))
    out = torch.ones(c, nrows * (h + pad) + pad, ncol * (w + pad) + pad) * 0.5
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        out[:, top:top + h, left:left + w] = images[i]
    return (out.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, value_range=(0.0, 1.0),
              scale: int = 2) -> Path:
    """Save a grid of images as a PNG (enlarged ``scale`` times, nearest neighbour)."""
    arr = grid_array(images, nrow, value_range)
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")  # explicit: atomic writers pass a .tmp name
    return path


def manifold_codes(n: int = 20, eps: float = 0.05) -> torch.Tensor:
    """An n x n grid of 2-D codes through the inverse Gaussian CDF of an even grid on
    [eps, 1-eps]^2 (AEVB, figure 4): (n*n, 2), row-major, top row = high z2."""
    p = torch.linspace(eps, 1 - eps, n)
    v = torch.distributions.Normal(0.0, 1.0).icdf(p)
    z1, z2 = torch.meshgrid(v, v.flip(0), indexing="xy")
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)


def interpolate_codes(z0: torch.Tensor, z1: torch.Tensor, steps: int = 10, spherical: bool = False) -> torch.Tensor:
    """Codes on the path from z0 to z1 (linear, or slerp): (steps, D)."""
    t = torch.linspace(0, 1, steps, device=z0.device).unsqueeze(1)
    if not spherical:
        return (1 - t) * z0 + t * z1
    a, b = z0 / z0.norm(), z1 / z1.norm()
    omega = torch.arccos((a * b).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


def project_2d(codes: torch.Tensor, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D view of codes: as they are when 2-D, else PCA or t-SNE (scikit-learn)."""
    x = codes.detach().float().cpu().numpy()
    if x.shape[1] == 2:
        return x, "z"
    if x.shape[1] == 1:
        return np.concatenate([x, np.zeros_like(x)], 1), "z"
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, max(2.0, (len(x) - 1) / 3))
        return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(x), "t-SNE"
    if method != "pca":
        raise ValueError(f"unknown projection {method!r}; choose pca or tsne")
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(x), "PCA"


def _figure(size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size, dpi=100)


def _save(fig, path: str | Path, *, layout: bool = True) -> Path:
    """Write ``fig`` to ``path`` (folders made) and close it; ``layout=False`` keeps the caller's layout."""
    import matplotlib.pyplot as plt

    if layout:
        fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_scatter(points: np.ndarray, labels, path: str | Path, title: str = "", axis: str = "z") -> Path:
    fig, ax = _figure((6, 5))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
    else:
        sc = ax.scatter(points[:, 0], points[:, 1], c=np.asarray(labels), cmap="tab10", s=4, alpha=0.8)
        fig.colorbar(sc, ax=ax, label="label")
    ax.set_xlabel(f"{axis} 1")
    ax.set_ylabel(f"{axis} 2")
    ax.set_title(title)
    return _save(fig, path)


def save_curves(rows: list[dict], keys: list[str], path: str | Path, title: str = "") -> Path:
    """Line plot of metrics.csv columns against epoch."""
    fig, ax = _figure((6, 4))
    epochs = [int(r["epoch"]) for r in rows]
    for k in keys:
        ys = [float(r[k]) if r.get(k) not in (None, "") else np.nan for r in rows]
        ax.plot(epochs, ys, label=k)
    ax.set_xlabel("epoch")
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


CURVE_X = ("epoch", "step", "samples", "time")


def run_curve(run_dir: str | Path, metric: str, x: str = "epoch") -> tuple[np.ndarray, np.ndarray]:
    """One column of a run's ``metrics.csv`` against ``x``: ``epoch``, ``step``, ``samples`` (steps
    times the recorded batch size, which is per process: under torchrun multiply by the process
    count) or ``time`` (cumulative training seconds). Rows without the metric are skipped."""
    import csv

    from genzoo.training import checkpoint as ckpt

    if x not in CURVE_X:
        raise ValueError(f"unknown x axis {x!r}; choose from {', '.join(CURVE_X)}")
    path = Path(run_dir) / ckpt.METRICS_FILE
    if not path.is_file():
        raise ValueError(f"{path}: not found; is {run_dir} a genzoo run directory with finished epochs?")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or metric not in rows[0]:
        cols = ", ".join(k for k in (rows[0] if rows else {}) if k not in ("epoch", "step"))
        raise ValueError(f"{path}: no column {metric!r}; it has {cols or 'no rows'}")
    if x == "samples":
        batch = ckpt.read_json(Path(run_dir) / ckpt.CONFIG_FILE).get("train", {}).get("batch_size")
        if not batch:
            raise ValueError(f"{Path(run_dir) / ckpt.CONFIG_FILE}: no train.batch_size to count samples with")
    xs, ys, elapsed = [], [], 0.0
    for r in rows:
        elapsed += float(r.get("seconds") or 0.0)
        if r.get(metric) in (None, ""):
            continue
        xs.append({"epoch": float(r["epoch"]), "step": float(r["step"]), "time": elapsed,
                   "samples": float(r["step"]) * (batch if x == "samples" else 0)}[x])
        ys.append(float(r[metric]))
    return np.asarray(xs), np.asarray(ys)


def save_curve_panels(panels: list[dict], path: str | Path, *, xlabel: str, ylabel: str = "",
                      logx: bool = False, logy: bool = False, ylim: tuple[float, float] | None = None,
                      ncols: int | None = None) -> Path:
    """Learning curves in side-by-side panels sharing the axes' meaning (AEVB figure 2 style).

    ``panels``: ``[{"title": str, "curves": [{"x", "y", "label", optional "color", "linestyle",
    "marker"}]}]``; one legend with every label once, one x range for all panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("no curves to plot")
    ncols = ncols or min(len(panels), 5)
    nrows = int(math.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.9 * nrows + 0.5), dpi=80, squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        for c in panel["curves"]:
            ax.plot(c["x"], c["y"], label=c.get("label"), color=c.get("color"),
                    linestyle=c.get("linestyle", "-"), marker=c.get("marker", "."), markersize=3)
        ax.set_xscale("log" if logx else "linear")
        ax.set_yscale("log" if logy else "linear")
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_title(panel.get("title", ""), fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    xs = [float(v) for p in panels for c in p["curves"] for v in np.asarray(c["x"], dtype=float).ravel()]
    xs = [v for v in xs if np.isfinite(v) and (v > 0 or not logx)]
    if len(set(xs)) > 1:  # one x range for every panel, so the panels compare at a glance
        pad = (max(xs) / min(xs)) ** 0.04 if logx else 0.0
        lo, hi = (min(xs) / pad, max(xs) * pad) if logx else (min(xs), max(xs))
        for ax in axes.flat[:len(panels)]:
            ax.set_xlim(lo, hi)
    if logx:
        from matplotlib.ticker import NullFormatter

        for ax in axes.flat[:len(panels)]:
            ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].set_ylabel(ylabel, fontsize=9)
    seen: dict[str, object] = {}  # the legend: every label once, in order of appearance
    for ax in axes.flat[:len(panels)]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    handles, labels = list(seen.values()), list(seen)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 2 * ncols), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.1 if nrows == 1 else 0.05, 1, 1))
    else:
        fig.tight_layout()
    return _save(fig, path, layout=False)


def save_run_curves(runs: list[str | Path], metrics: list[str], path: str | Path, *, x: str = "epoch",
                    labels: list[str] | None = None, logx: bool = False, logy: bool = False) -> Path:
    """Overlay the learning curves of several runs: one panel per metric, one line per run."""
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"--labels gives {len(labels)} names for {len(runs)} runs")
    names = labels or [Path(r).name or str(r) for r in runs]
    panels = []
    for m in metrics:
        curves = []
        for run, name in zip(runs, names):
            xs, ys = run_curve(run, m, x)
            curves.append({"x": xs, "y": ys, "label": name})
        panels.append({"title": m, "curves": curves})
    xlabel = {"time": "training seconds", "samples": "training samples"}.get(x, x)
    return save_curve_panels(panels, path, xlabel=xlabel, logx=logx, logy=logy)
