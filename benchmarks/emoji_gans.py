"""The adversarial family on emoji (Google Noto, 32x32 RGB): one ``genzoo compare`` table in the
features of genzoo's emoji category classifier, a real-vs-real reference, InfoGAN's codes against
the categories, and a DCGAN ablation (spectral norm / generator EMA / hinge loss).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/emoji_gans.py --data-dir ../shared/data \\
        --steps 100 --out runs/emoji-gans [--only dcgan cgan ...]

Every run is a plain ``genzoo train`` command (recorded in its config.json and in the table) with
the same step budget, batch 64, Adam at each model's defaults, then all runs are measured together
by :func:`genzoo.evaluation.compare.compare_runs`: true samples (as many as there are test images)
against the test split, in the 128-d features of the emoji classifier
(:func:`genzoo.evaluation.features.emoji_classifier`, trained on the same split's training images).
For scale, the same metrics of the real training images against the test images (real vs real;
the finite-sample floor of FID-style, KID and the ceiling of precision/recall at this sample size).

InfoGAN: its categorical code (10 values) against the 10 emoji categories, matched one-to-one by the
Hungarian algorithm (:func:`genzoo.evaluation.clustering.clustering_accuracy`), two ways: Q's code
of each real test emoji against its category, and the classifier's category of samples against the
code they were drawn with. Continuous codes: the correlation between each drawn code and Q's
estimate of it on the generated image (how much of the code survives in the picture).
Results go to OUT/results.json and OUT/table.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

WIDTH = "32"  # conv width of G and D: a quarter of DCGAN's compute, so the runs fit a CPU budget
#: name -> (model, extra options); the dcgan-* runs differ from "dcgan" in exactly one option
RUNS: dict[str, tuple[str, list[str]]] = {
    "dcgan": ("dcgan", ["--width", WIDTH]),
    "dcgan-sn": ("dcgan", ["--width", WIDTH, "--spectral-norm"]),
    # decay 0.995: an averaging window of ~200 steps, so after a 1,200-step run 0.995^1200 = 0.2% of the
    # average is still the initial generator (with the default 0.999 it would be 30%)
    "dcgan-ema": ("dcgan", ["--width", WIDTH, "--ema", "--ema-decay", "0.995"]),
    "dcgan-hinge": ("dcgan", ["--width", WIDTH, "--adversarial-loss", "hinge"]),
    "cgan": ("cgan", ["--arch", "conv", "--width", WIDTH]),
    "infogan": ("infogan", ["--width", WIDTH, "--fc", "256"]),
    "aae": ("aae", []),
}


def _child_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def train_command(name: str, out: Path, data_dir: str, steps: int, seed: int = 0) -> list[str]:
    model, extra = RUNS[name]
    return [sys.executable, "-m", "genzoo", "train", model, "--data", "emoji", "--data-dir", data_dir,
            "--size", "32", "--batch-size", "64", "--epochs", "1000", "--max-steps", str(steps),
            "--device", "cpu", "--progress", "false", "--sample-every", "0", "--validate", "false",
            "--seed", str(seed), "--out", str(out / name), "--overwrite", *extra]


def real_reference(data_dir: str, extractor, n: int, seed: int = 0) -> dict:
    """The metrics of real training images (n of them) against the test images: real vs real."""
    from genzoo.data import DataConfig, load_dataset
    from genzoo.evaluation.metrics import sample_quality

    data = load_dataset(DataConfig(name="emoji", data_dir=data_dir, size=32))
    g = torch.Generator().manual_seed(seed)
    train = data.train.x[torch.randperm(len(data.train.x), generator=g)[:n]]
    out = sample_quality(data.test.x[:n], train, extractor, kid_subsets=50, kid_subset_size=1000,
                         generator=torch.Generator().manual_seed(seed))
    return {"run": "real train vs test", **out, "n_samples": len(train)}


def nmi(table: torch.Tensor) -> float:
    """Normalised mutual information I(X; Y) / sqrt(H(X) H(Y)) of a contingency table (rows X,
    columns Y); 0 when either variable is constant (a constant code then scores 0, whereas the
    one-to-one matched accuracy of a constant code is the majority category's rate)."""
    p = table.double() / table.sum()
    px, py = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * (p[nz] / (px[:, None] * py[None, :])[nz]).log()).sum())
    hx, hy = (float(-(q[q > 0] * q[q > 0].log()).sum()) for q in (px, py))
    return mi / (hx * hy) ** 0.5 if hx > 0 and hy > 0 else 0.0


@torch.no_grad()
def infogan_codes(run_dir: Path, data_dir: str, extractor, n: int = 2000, seed: int = 0) -> dict:
    """Hungarian-matched accuracy of the categorical code vs category (both directions) and the
    recovery of the continuous codes (see the module docstring)."""
    import genzoo
    from genzoo.data import DataConfig, load_dataset
    from genzoo.evaluation.clustering import clustering_accuracy

    model = genzoo.load(run_dir, device="cpu").eval()
    test = load_dataset(DataConfig(name="emoji", data_dir=data_dir, size=32)).test
    q_cat = torch.cat([model.infer_codes(x)[0] for x in test.x.split(500)])
    g = torch.Generator().manual_seed(seed)
    z, cat, cont = model.latents(n, g)
    images = model.generate(z, cat, cont)
    predicted = extractor.predict(images)
    _, q_mu = model.infer_codes(images)
    corr = [float(torch.corrcoef(torch.stack([cont[:, j], q_mu[:, j]]))[0, 1]) for j in range(cont.shape[1])]
    majority = float(torch.bincount(test.y).max()) / len(test.y)
    table = torch.zeros(model.config.categories, int(test.y.max()) + 1, dtype=torch.long)  # code x category
    table.index_put_((q_cat.long(), test.y.long()), torch.ones(len(q_cat), dtype=torch.long), accumulate=True)
    return {"q_code_by_category": table.tolist(), "q_code_category_nmi": nmi(table),
            "q_code_vs_category_acc": clustering_accuracy(q_cat, test.y, one_to_one=True),
            "n_test": len(test.y), "majority_category_rate": majority,
            "sample_code_vs_classified_category_acc": clustering_accuracy(cat, predicted, one_to_one=True),
            "n_samples": n, "continuous_code_corr": corr}


@torch.no_grad()
def save_picture(runs: list[Path], data_dir: str, path: str, n: int = 10) -> None:
    import genzoo
    from genzoo.data import DataConfig, load_dataset
    from genzoo.evaluation.plots import save_grid

    g = torch.Generator().manual_seed(0)
    rows = [genzoo.load(r, device="cpu").eval().sample(n, generator=g) for r in runs]
    test = load_dataset(DataConfig(name="emoji", data_dir=data_dir, size=32)).test.x
    rows.append(test[torch.linspace(0, len(test) - 1, n).long()])
    save_grid(torch.cat(rows).clamp(0, 1), path, nrow=n, scale=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="folder holding emoji/ (emoji.json, img/google/64/)")
    p.add_argument("--steps", type=int, default=100, help="training steps of every run (batch 64)")
    p.add_argument("--out", default="runs/emoji-gans")
    p.add_argument("--only", nargs="+", choices=sorted(RUNS), help="train only these runs")
    p.add_argument("--skip-train", action="store_true", help="measure the runs already in OUT")
    p.add_argument("--picture", default=None, help="PNG: a row of 10 samples per run (run order), then 10 "
                                                   "real test emoji")
    p.add_argument("--train-only", action="store_true", help="train, do not measure (to train in parallel)")
    p.add_argument("--seed", type=int, default=0, help="training seed of every run (use one OUT per seed)")
    args = p.parse_args(argv)
    from genzoo.evaluation.compare import CompareConfig, compare_runs, format_table, machine_description
    from genzoo.evaluation.features import emoji_classifier

    out = Path(args.out)
    names = args.only or list(RUNS)
    results: dict = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else {}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for name in names:
        if args.skip_train:
            break
        cmd = train_command(name, out, args.data_dir, args.steps, args.seed)
        t0, c0 = time.time(), _child_cpu()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        wall, cpu = time.time() - t0, _child_cpu() - c0
        results.setdefault("train_time", {})[name] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                                                      "command": " ".join(cmd[1:])}
        print(f"{name}: {wall:.0f} s wall, {cpu:.0f} s CPU", file=sys.stderr)
    if args.train_only:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        return 0
    import functools

    import genzoo.data.colour as colour

    # every run reads the same 3,786 PNGs: read them once in this process (the arrays are only indexed)
    colour.read_emoji = functools.lru_cache(maxsize=2)(colour.read_emoji)
    ext = emoji_classifier(data_dir=args.data_dir)
    runs = [out / n for n in RUNS if (out / n / "config.json").is_file()]
    cfg = CompareConfig(samples=1000, kid_subsets=50, kid_subset_size=1000, device="cpu")
    rows = compare_runs(runs, cfg, extractor=ext)
    ref = real_reference(args.data_dir, ext, n=min(r["n_samples"] for r in rows if "n_samples" in r))
    results.update({"rows": rows, "real_reference": ref, "classifier": ext.name,
                    "classifier_test_accuracy": ext.accuracy, "steps": args.steps})
    if (out / "infogan" / "config.json").is_file():
        results["infogan_codes"] = infogan_codes(out / "infogan", args.data_dir, ext)
    if args.picture:
        save_picture(runs, args.data_dir, args.picture)
        if (out / "infogan" / "config.json").is_file():  # rows: one z each; columns: code values 0..9
            import genzoo
            from genzoo.evaluation.plots import save_grid

            info = genzoo.load(out / "infogan", device="cpu").eval()
            sweep = info.sample(80, vary="cat", generator=torch.Generator().manual_seed(0))
            path = Path(args.picture)
            save_grid(sweep.clamp(0, 1), str(path.with_name(path.stem + "_infogan_codes.png")),
                      nrow=info.vary_columns(80, "cat"), scale=1)
    table = format_table(rows + [ref], markdown=True, machine=machine_description("cpu"))
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table)
    print(json.dumps({k: results[k] for k in ("real_reference", "infogan_codes") if k in results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
