"""Atomic file writes and the run-directory files (config.json, model.safetensors, checkpoint.pt)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from genzoo.errors import RunFileError, first_line

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.csv"


TMP_SUFFIX = ".tmp"
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask once, at import


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write) -> None:
    """Write via a temporary file in the same folder, fsync it, rename it over ``path`` and fsync the
    folder: after a crash at any point ``path`` holds either the old or the new content, complete.
    A crash before the rename can leave a ``.NAME.*.tmp`` file, which :func:`remove_leftovers`
    deletes when the run is next opened."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        crash_point(f"rename:{path.name}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def crash_point(site: str) -> None:
    """Crash-injection hook for tests: ``GENZOO_TEST_KILL_AT=SITE[@N]`` kills this process with
    SIGKILL the N-th time (default: the first) it passes ``SITE`` (``rename:FILE`` just before a
    file is renamed into place; the trainer adds ``before_checkpoint`` and ``after_checkpoint``).
    Unset, it does nothing."""
    target = os.environ.get("GENZOO_TEST_KILL_AT")
    if not target:
        return
    name, _, nth = target.partition("@")
    if name != site:
        return
    _KILL_COUNTS[site] = _KILL_COUNTS.get(site, 0) + 1
    if _KILL_COUNTS[site] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_KILL_COUNTS: dict[str, int] = {}


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files an interrupted :func:`atomic_write` left in ``folder`` (and in
    its ``samples/``); returns them. Call only while holding the run's lock."""
    removed = []
    for sub in (Path(folder), Path(folder) / "samples"):
        if sub.is_dir():
            for p in sub.glob(f".*{TMP_SUFFIX}"):
                if p.is_file():
                    p.unlink()
                    removed.append(p)
    return removed


def write_json(path: Path, data: dict) -> None:
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")

    atomic_write(path, w)


#: config.json files larger than this are refused before parsing (a real one is a few kB)
MAX_JSON_BYTES = 1 << 24


def read_json(path: Path) -> dict:
    """Parse a JSON file genzoo wrote (config.json); any malformed content is a one-line
    :class:`~genzoo.errors.RunFileError` naming the file. The caller checks the fields."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (is this a genzoo run directory?)")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise RunFileError(f"{path}: {path.stat().st_size} bytes is too large for a genzoo config file")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RunFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise RunFileError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise RunFileError(f"{path}: JSON nested too deeply") from None


def save_weights(path: Path, module: torch.nn.Module) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))


def load_weights(path: Path, module: torch.nn.Module) -> None:
    """Load a safetensors file into ``module``: every tensor must be there, with its shape and kind
    (floating point or integer); one-line :class:`~genzoo.errors.RunFileError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        state = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise RunFileError(f"{path}: cannot read weights ({first_line(e)})") from None
    expected = module.state_dict()
    for k, v in state.items():
        if k in expected and v.dtype.is_floating_point != expected[k].dtype.is_floating_point:
            raise RunFileError(f"{path}: tensor {k!r} has dtype {v.dtype}, the model needs {expected[k].dtype}")
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except (RuntimeError, ValueError) as e:  # a shape mismatch, or a value a model's load hook refuses
        raise RunFileError(f"{path}: {first_line(e)}") from None
    if missing or unexpected:
        raise RunFileError(f"{path}: weights do not match the model (missing {list(missing)[:3]}, "
                           f"unexpected {list(unexpected)[:3]})")


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, map_location="cpu", required: tuple[str, ...] = ()) -> dict:
    """Read a training checkpoint with ``torch.load(weights_only=True)``: tensors, numbers, strings
    and containers only. A pickle of other objects is refused, and any malformed file (or one
    without the ``required`` entries) is a one-line :class:`~genzoo.errors.RunFileError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        if "Unsupported global" in text or "GLOBAL " in text:  # torch's weights-only unpickler refused
            raise RunFileError(f"{path}: {path.name} is not a weights-only checkpoint "
                               "(pickled objects are refused)") from None
        detail = text.split("WeightsUnpickler error:", 1)[-1]  # torch wraps the reason in advice
        raise RunFileError(f"{path}: corrupt checkpoint ({first_line(detail)})") from None
    except Exception as e:  # torch's zip reader and unpickler raise many types for corrupt files
        raise RunFileError(f"{path}: corrupt checkpoint ({type(e).__name__}: {first_line(e)})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise RunFileError(f"{path}: a checkpoint must hold a dict of named entries, got {type(state).__name__}")
    missing = [k for k in required if k not in state]
    if missing:
        raise RunFileError(f"{path}: checkpoint has no {', '.join(map(repr, missing))} entry")
    return state
