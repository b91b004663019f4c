"""Crash injection through the CLI: train, SIGKILL, resume, many times; count corrupted runs.

A tiny VAE on scikit-learn's digits is trained once without interruption (the reference), then
again while being killed with SIGKILL -- the whole process group, as a power cut would -- either
at a seeded random time or at a write site named by ``GENZOO_TEST_KILL_AT`` (while a file's
temporary copy is complete but not yet renamed, between the side files and the checkpoint, just
after the checkpoint). After every kill the run directory is checked as a user would find it
(every file readable; metrics.csv rows unique and at most one epoch ahead of checkpoint.pt); then
the run is resumed (``--resume``; a fresh ``--overwrite`` start when no epoch was checkpointed).
When a crashed run completes, it is corrupted unless its weights are bitwise those of the
reference, its metrics rows (timing columns aside) are the reference's, and no temporary file
is left. Runs repeat until ``--kills`` kills have been made.

    OMP_NUM_THREADS=1 python benchmarks/crash_injection.py --nproc 1 --kills 30
    OMP_NUM_THREADS=1 python benchmarks/crash_injection.py --nproc 2 --kills 10   # torchrun, gloo
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

SITES = ("rename:config.json", "rename:checkpoint.pt", "rename:metrics.csv", "rename:model.safetensors",
         "rename:samples.png", "before_checkpoint", "after_checkpoint")
TIMING = ("seconds", "images_per_s")
TRAIN = ["vae", "--data", "digits", "--binarize", "static", "--hidden", "16", "--latent-dim", "2",
         "--batch-size", "50", "--progress", "false", "--sample-history", "true", "--device", "cpu"]


def command(nproc: int, run: Path, epochs: int, mode: str) -> list[str]:
    launcher = [sys.executable, "-m", "genzoo"] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "genzoo"]
    if mode == "resume":
        return [*launcher, "train", "vae", "--out", str(run), "--resume"]
    extra = ["--overwrite"] if mode == "overwrite" else []
    return [*launcher, "train", *TRAIN, "--epochs", str(epochs), "--out", str(run), *extra]


def launch(cmd: list[str], site: str | None, delay: float | None, log: Path) -> tuple[bool, str]:
    """Run ``cmd``; kill its process group after ``delay`` s, or let GENZOO_TEST_KILL_AT=``site`` kill
    it. Returns (finished normally, stderr)."""
    ok, err, _ = launch_timed(cmd, site, delay, log)
    return ok, err


def launch_timed(cmd: list[str], site: str | None, delay: float | None, log: Path) -> tuple[bool, str, float]:
    """:func:`launch`, also returning the seconds until training printed its first steps' time."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GENZOO_TEST_KILL_AT", None)
    if site:
        env["GENZOO_TEST_KILL_AT"] = site
    with open(log, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True)
        started = None
        while proc.poll() is None:
            if started is None and "first " in log.read_text():
                started = time.perf_counter() - t0
            if delay is not None and time.perf_counter() - t0 >= delay:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        rc = proc.wait()
    try:  # torchrun's workers share its process group; make sure none outlives a kill
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return rc == 0, log.read_text(), started if started is not None else 0.0


def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)]


def check_after_kill(run: Path) -> list[str]:
    """What a user would find broken in the directory right after a kill (empty: nothing)."""
    from PIL import Image

    problems = []
    epoch = 0
    if (run / "checkpoint.pt").exists():
        try:
            epoch = torch.load(run / "checkpoint.pt", weights_only=True)["epoch"]
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            problems.append(f"checkpoint.pt unreadable: {e}")
    if (run / "config.json").exists():
        try:
            json.loads((run / "config.json").read_text())
        except ValueError as e:
            problems.append(f"config.json unreadable: {e}")
    if (run / "metrics.csv").exists():
        try:
            epochs = [int(r["epoch"]) for r in rows(run)]
            if len(set(epochs)) != len(epochs) or (epochs and max(epochs) > epoch + 1):
                problems.append(f"metrics.csv epochs {epochs} against checkpoint epoch {epoch}")
        except (ValueError, KeyError) as e:
            problems.append(f"metrics.csv unreadable: {e}")
    for png in [run / "samples.png", *sorted((run / "samples").glob("*.png"))]:
        if png.exists():
            try:
                Image.open(png).load()
            except Exception as e:  # noqa: BLE001
                problems.append(f"{png.name} unreadable: {e}")
    return problems


def compare(run: Path, ref: Path) -> list[str]:
    problems = []
    a = torch.load(ref / "checkpoint.pt", weights_only=True)
    b = torch.load(run / "checkpoint.pt", weights_only=True)
    if a["epoch"] != b["epoch"] or any(not torch.equal(a["model"][k], b["model"][k]) for k in a["model"]):
        problems.append("weights differ from the uninterrupted run")
    if rows(run) != rows(ref):
        problems.append("metrics rows differ from the uninterrupted run")
    leftovers = [p.name for p in run.rglob("*.tmp")]
    if leftovers:
        problems.append(f"leftovers {leftovers}")
    if sorted(p.name for p in (run / "samples").iterdir()) != sorted(p.name for p in (ref / "samples").iterdir()):
        problems.append("samples/ differs")
    return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nproc", type=int, default=1, help="processes (2: torchrun with gloo)")
    p.add_argument("--kills", type=int, default=30, help="kills to make in all")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default="runs/crash_injection")
    args = p.parse_args()
    rng = random.Random(args.seed)
    work = Path(args.workdir) / f"nproc{args.nproc}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t_start = time.perf_counter()
    ref = work / "reference"
    t0 = time.perf_counter()
    ok, err, t_train = launch_timed(command(args.nproc, ref, args.epochs, "new"), None, None,
                                    work / "reference.log")
    if not ok:
        print(err[-3000:], file=sys.stderr)
        return 1
    t_ref = time.perf_counter() - t0
    kills = site_kills = timed_kills = timed_in_training = attempts = runs = corrupted = 0
    findings: list[str] = []
    while kills < args.kills:
        runs += 1
        run = work / f"run{runs}"
        broken: list[str] = []
        mode = "new"
        while True:
            attempts += 1
            kill_now = kills < args.kills
            site = delay = None
            if kill_now and rng.random() < 0.5:
                site = f"{rng.choice(SITES)}@{rng.choice((1, 1, 2))}"
            elif kill_now:
                delay = rng.uniform(0.8 * t_train, t_ref)  # mostly after start-up (imports, data)
            ok, err = launch(command(args.nproc, run, args.epochs, mode), site, delay, work / "attempt.log")
            if ok:
                break
            if "error:" in err and "Traceback" not in err and "is in use" in err:
                time.sleep(1.0)  # a killed torchrun worker still exiting: try again
                continue
            if not kill_now:
                broken.append(f"resume failed: {err.strip().splitlines()[-1:]}")
                break
            kills += 1
            site_kills += site is not None
            timed_kills += delay is not None
            timed_in_training += delay is not None and "first " in err
            broken += check_after_kill(run)
            mode = "resume" if (run / "checkpoint.pt").exists() else "overwrite"
        if (run / "checkpoint.pt").exists():
            broken += compare(run, ref)
        else:
            broken.append("no checkpoint at the end")
        corrupted += bool(broken)
        findings += [f"run{runs}: {b}" for b in broken]
        print(f"run {runs}: kills so far {kills}, {'CORRUPTED ' + '; '.join(broken) if broken else 'ok'}",
              file=sys.stderr)
    result = {"nproc": args.nproc, "kills": kills, "site_kills": site_kills, "timed_kills": timed_kills,
              "timed_kills_after_training_started": timed_in_training, "launches": attempts + 1,
              "runs": runs, "runs_corrupted": corrupted, "findings": findings[:10],
              "reference_seconds": round(t_ref, 1), "reference_startup_seconds": round(t_train, 1),
              "total_seconds": round(time.perf_counter() - t_start, 1),
              "epochs": args.epochs, "seed": args.seed, "torch": torch.__version__}
    print(json.dumps(result, indent=2))
    return 0 if corrupted == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
