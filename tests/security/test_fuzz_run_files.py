"""Fuzzing the loading path (hypothesis, derandomized so CI sees the same examples every run).

Each example copies a valid tiny VAE run, mutates its files (config.json: any JSON value for any
field of any section, deleted keys, the whole file replaced by JSON or bytes; model.safetensors and
checkpoint.pt: random bytes, truncations, flipped bytes) and checks that loading either succeeds
or raises the one-line error type (:class:`ConfigError` / :class:`RunFileError`), nothing else,
and writes nothing in the run directory. One CLI path (``genzoo sample RUN``) is fuzzed the same
way: exit code 0, or 2 with a single ``genzoo: error:`` line on stderr.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genzoo
from genzoo.cli.main import main
from genzoo.errors import ConfigError, RunFileError
from genzoo.training import checkpoint as ckpt

SECTIONS = (None, "model_config", "data", "train", "objective_config")

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2, 70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)


def mutate_config(data, run: Path) -> None:
    path = run / ckpt.CONFIG_FILE
    info = json.loads(path.read_text())
    kind = data.draw(st.sampled_from(["set", "set", "set", "delete", "json file", "bytes file"]))
    if kind == "json file":
        path.write_text(json.dumps(data.draw(json_values)))
        return
    if kind == "bytes file":
        path.write_bytes(data.draw(st.binary(max_size=64)))
        return
    section = data.draw(st.sampled_from(SECTIONS))
    target = info if section is None else info[section]
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
    if kind == "delete":
        target.pop(key, None)
    else:
        target[key] = data.draw(json_values)
    path.write_text(json.dumps(info))


def mutate_bytes(data, path: Path) -> None:
    raw = bytearray(path.read_bytes())
    kind = data.draw(st.sampled_from(["random", "truncate", "flip", "flip header"]))
    if kind == "random":
        raw = bytearray(data.draw(st.binary(max_size=256)))
    elif kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        top = min(len(raw), 400) if kind == "flip header" else len(raw)
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, top - 1))
            raw[i] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw))


def mutated_copy(data, source: Path, folder: Path) -> Path:
    run = folder / "run"
    shutil.copytree(source, run)
    target = data.draw(st.sampled_from(["config", "config", "weights", "checkpoint"]))
    if target == "config":
        mutate_config(data, run)
    elif target == "weights":
        mutate_bytes(data, run / ckpt.WEIGHTS_FILE)
    else:
        mutate_bytes(data, run / ckpt.CHECKPOINT_FILE)
    return run


def listing(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


FUZZ = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(data=st.data())
def test_fuzz_load_and_checkpoint(trained_run, data):
    with tempfile.TemporaryDirectory() as tmp:
        run = mutated_copy(data, trained_run, Path(tmp))
        before = listing(run)
        for load in (genzoo.load, lambda r: ckpt.load_checkpoint(r / ckpt.CHECKPOINT_FILE)):
            try:
                load(run)
            except (ConfigError, RunFileError) as e:
                assert "\n" not in str(e) and str(run) in str(e)
        assert listing(run) == before


@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_fuzz_cli_sample(trained_run, data, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        run = mutated_copy(data, trained_run, Path(tmp))
        before = listing(run)
        capsys.readouterr()
        code = main(["sample", str(run), "-n", "2", "--out", str(Path(tmp) / "s.png"), "--device", "cpu"])
        err = capsys.readouterr().err
        assert code == 0 or (code == 2 and err.count("\n") == 1 and err.startswith("genzoo: error: ")), err
        assert listing(run) == before
