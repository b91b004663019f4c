"""Models loaded on first use, kept in a bounded LRU cache, with the run's test data beside them.

A model is loaded only through :func:`genzoo.load` (config.json + safetensors, no pickle). A run
whose model fails to load raises :class:`ModelLoadError` with a one-line message; the failure is not
cached (fix the run and reload the page), and a model whose weights file changed since it was loaded
(a run still training) is loaded again. Loads of different runs proceed in parallel; two requests
for the same run wait for one load. Inference needs no lock: the models are in eval mode and are
only read (no buffers change, and every random draw uses a per-request generator).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch

from genzoo.data.transforms import from_unit
from genzoo.serve import adapter
from genzoo.serve.runs import read_json

#: test images kept per run for the codes, pictures and anomaly references
MAX_TEST = 1000


class ModelLoadError(RuntimeError):
    """The run's model could not be loaded; the message is one line."""


class Served:
    """A loaded model with what the views need: its description, data scale and (lazily) test data."""

    def __init__(self, run_id: str, run_dir: Path, model, stamp=None):
        self.run_id, self.run_dir, self.model = run_id, run_dir, model
        self.stamp = stamp  # the weights file's (mtime, size) when loaded
        cfg = read_json(run_dir / "config.json") or {}
        data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
        self.scale = data.get("scale", "01")
        self.levels = cfg.get("levels") if isinstance(cfg.get("levels"), int) else None
        self.info = adapter.describe(model)
        self._lock = threading.Lock()
        self._data = None
        self._data_error: str | None = None
        self.memo: dict = {}  # per-run results computed once (codes, PCA, reference scores)

    def data(self):
        """(test x, test y or None, train x) as CPU tensors, at most MAX_TEST rows each; ValueError with
        the reason when the run's data cannot be loaded."""
        with self._lock:
            if self._data is None and self._data_error is None:
                try:
                    from genzoo.training.run import load_run_data

                    d = load_run_data(self.run_dir)
                    y = None if d.test.y is None else d.test.y[:MAX_TEST].cpu()
                    self._data = (d.test.x[:MAX_TEST].cpu().float(), y, d.train.x[:MAX_TEST].cpu().float())
                except Exception as e:  # noqa: BLE001 (any data problem becomes the view's message)
                    self._data_error = f"the run's data could not be loaded: {_one_line(e)}"
            if self._data_error:
                raise ValueError(self._data_error)
            return self._data

    def to_data_space(self, x_unit: torch.Tensor) -> torch.Tensor:
        """Uploaded images in [0, 1] -> the model's data space (binarized / quantized / [-1, 1])."""
        x = x_unit
        if self.levels == 2:
            x = (x > 0.5).float()
        elif self.levels and self.levels > 2:
            x = torch.round(x * (self.levels - 1)) / (self.levels - 1)
        return from_unit(x, self.scale)

    def memoized(self, key, compute):
        with self._lock:
            if key in self.memo:
                return self.memo[key]
        value = compute()
        with self._lock:
            self.memo[key] = value
        return value


def weights_stamp(run_dir: Path):
    """(mtime_ns, size) of the run's weights, None when absent."""
    try:
        st = (run_dir / "model.safetensors").stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if len(msg) < 400 else msg[:397] + "..."


class ModelCache:
    """At most ``capacity`` loaded models, least recently used evicted first."""

    def __init__(self, capacity: int = 4, device: str = "cpu"):
        if capacity < 1:
            raise ValueError(f"--max-models must be at least 1, got {capacity}")
        self.capacity, self.device = capacity, device
        self._models: OrderedDict[str, Served] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def get(self, run_id: str, run_dir: Path) -> Served:
        """The loaded model of a run; loaded again when its weights file changed (a run still training)."""
        stamp = weights_stamp(run_dir)
        with self._lock:
            if run_id in self._models and self._models[run_id].stamp == stamp:
                self._models.move_to_end(run_id)
                return self._models[run_id]
            load_lock = self._loading.setdefault(run_id, threading.Lock())
        with load_lock:
            with self._lock:
                if run_id in self._models and self._models[run_id].stamp == stamp:
                    self._models.move_to_end(run_id)
                    return self._models[run_id]
            served = self._load(run_id, run_dir)
            with self._lock:
                self._models[run_id] = served
                while len(self._models) > self.capacity:
                    self._models.popitem(last=False)
                self._loading.pop(run_id, None)
            return served

    def _load(self, run_id: str, run_dir: Path) -> Served:
        import genzoo

        try:
            stamp = weights_stamp(run_dir)
            model = genzoo.load(run_dir, device=self.device)
            return Served(run_id, run_dir, model, stamp)
        except Exception as e:  # noqa: BLE001 (a broken run must not take the app down)
            with self._lock:
                self._loading.pop(run_id, None)
            raise ModelLoadError(f"could not load the model of run {run_id!r}: {_one_line(e)}") from None
