"""Run directories under the served root: finding them safely and summarising them for the table.

Nothing here imports torch or loads weights: the runs table reads ``config.json``, ``metrics.csv``
and ``eval_*.json`` only. Every path a request names goes through :func:`resolve_run` or
:func:`run_file`, which refuse anything that does not stay under the root (``..``, absolute
paths, symlinks that point outside).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
#: files of a run directory the app serves, by suffix
SERVED_SUFFIXES = {".png": "image/png", ".json": "application/json", ".csv": "text/csv"}
MAX_DEPTH = 4  # how deep under the root run directories are looked for


class NotFound(ValueError):
    """A run or file that does not exist under the root (HTTP 404)."""


class BadRequest(ValueError):
    """A request the app refuses (HTTP 400), with a one-line message."""


def find_runs(root: Path) -> list[str]:
    """Ids (paths relative to ``root``, '/'-separated) of every directory holding a config.json,
    at most :data:`MAX_DEPTH` levels down, sorted."""
    root = root.resolve()
    out = []

    def walk(d: Path, depth: int) -> None:
        try:
            entries = sorted(d.iterdir())
        except OSError:
            return
        if (d / CONFIG_FILE).is_file() and d != root:
            out.append(d.relative_to(root).as_posix())
        if depth >= MAX_DEPTH:
            return
        for e in entries:
            if e.is_dir() and not e.name.startswith(".") and _inside(e, root):
                walk(e, depth + 1)

    walk(root, 0)
    return out


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (ValueError, OSError):
        return False


def resolve_run(root: Path, run_id: str | None) -> Path:
    """The run directory named by ``run_id`` under ``root``; BadRequest for ids that leave the root,
    NotFound for ids that name no run."""
    if not run_id:
        raise BadRequest("missing parameter 'run'")
    parts = run_id.split("/")
    if run_id.startswith("/") or "\\" in run_id or any(p in ("", ".", "..") for p in parts) or "\x00" in run_id:
        raise BadRequest(f"run {run_id!r}: not a run id (a path relative to the served directory)")
    root = root.resolve()
    path = root.joinpath(*parts)
    if not _inside(path, root):
        raise BadRequest(f"run {run_id!r}: outside the served directory")
    if not (path / CONFIG_FILE).is_file():
        raise NotFound(f"run {run_id!r}: no such run (no {CONFIG_FILE})")
    return path.resolve()


def run_file(run_dir: Path, name: str | None) -> Path:
    """A file directly inside ``run_dir`` with a served suffix (PNG, JSON, CSV)."""
    if not name:
        raise BadRequest("missing parameter 'name'")
    if "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise BadRequest(f"file {name!r}: only plain file names inside the run directory are served")
    if Path(name).suffix.lower() not in SERVED_SUFFIXES:
        raise BadRequest(f"file {name!r}: only {', '.join(SERVED_SUFFIXES)} files are served")
    path = run_dir / name
    if not path.is_file() or not _inside(path, run_dir):
        raise NotFound(f"file {name!r}: not in this run")
    return path


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_metrics(run_dir: Path) -> dict[str, list]:
    """metrics.csv as columns: {name: [value or None per row]} (numbers where they parse)."""
    path = run_dir / METRICS_FILE
    cols: dict[str, list] = {}
    try:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                for k, v in row.items():
                    if k is None:
                        continue
                    cols.setdefault(k, []).append(_number(v))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    return cols


def _number(v):
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except ValueError:
        return v
    return f if math.isfinite(f) else None


def summarize(root: Path, run_id: str) -> dict:
    """One row of the runs table."""
    run_dir = root.resolve().joinpath(*run_id.split("/"))
    cfg = read_json(run_dir / CONFIG_FILE) or {}
    metrics = read_metrics(run_dir)
    train = cfg.get("train") if isinstance(cfg.get("train"), dict) else {}
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    epochs = metrics.get("epoch") or []
    valid_key = next((k for k in ("valid_loss",) if k in metrics), None)
    best = None
    if valid_key:
        vals = [v for v in metrics[valid_key] if isinstance(v, float)]
        best = min(vals) if vals else None
    seconds = [v for v in metrics.get("seconds", []) if isinstance(v, float)]
    evals = {}
    for f in sorted(run_dir.glob("eval_*.json")):
        d = read_json(f) or {}
        evals[f.stem[len("eval_"):]] = {k: v for k, v in d.items() if isinstance(v, (int, float)) and
                                        not isinstance(v, bool)}
    return {
        "id": run_id, "model": cfg.get("model"), "objective": cfg.get("objective"),
        "data": data.get("name"), "epochs": int(epochs[-1]) if epochs and isinstance(epochs[-1], float) else 0,
        "epochs_planned": train.get("epochs"),
        "best_valid_loss": best, "valid_metric": valid_key, "train_seconds": sum(seconds) if seconds else None,
        "evals": evals, "modified": (run_dir / CONFIG_FILE).stat().st_mtime,
    }


def run_details(root: Path, run_id: str) -> dict:
    """Everything the run page shows that needs no model: config, metrics, pictures, eval JSON."""
    run_dir = resolve_run(root, run_id)
    files = sorted(p.name for p in run_dir.iterdir() if p.is_file() and p.suffix.lower() in SERVED_SUFFIXES
                   and not p.name.startswith("."))
    return {
        "summary": summarize(root, run_id), "config": read_json(run_dir / CONFIG_FILE),
        "metrics": read_metrics(run_dir), "images": [f for f in files if f.endswith(".png")],
        "evals": {f[len("eval_"):-len(".json")]: read_json(run_dir / f) for f in files
                  if f.startswith("eval_") and f.endswith(".json")},
        "files": files,
    }
