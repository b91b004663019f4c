"""CycleGAN between two emoji vendors (Google Noto <-> Twitter Twemoji), measured against the truth.

    OMP_NUM_THREADS=1 python benchmarks/emoji_cyclegan.py --data-dir ../shared/data/emoji --size 32 \\
        --minutes 6 --paired-minutes 3 --out runs/emoji-cyclegan --picture docs/img/emoji_cyclegan.png

Data: the emoji both vendors draw, aligned by ``unified`` id (:func:`paired_emoji`), split by base
emoji with the reader's 80/10/10 split (:func:`genzoo.data.emoji.emoji_split`, skin-tone variants
stay together). The training base emoji are halved at random: domain A (google) trains on the first
half, domain B (twitter) on the second, so the unpaired model never sees one emoji drawn by both
vendors (:func:`unpaired_split`).

Because each test emoji's counterpart exists, translation is measured directly: per test emoji,
L1 (mean absolute difference per channel value, [0, 1] scale) and PSNR (10 log10(1 / MSE), dB,
averaged over images) between G(x_google) and the true twitter drawing, and F(x_twitter) against
the true google one; the identity baseline scores x itself against the truth. The paired upper bound
trains the same model and objective plus the pix2pix L1 term on the training pairs (``paired_l1``;
domain B marked ``paired`` so the trainer draws row i of B with row i of A), for a shorter budget.
Results go to OUT/results.json; the picture shows rows of test google / G(google) / true twitter /
test twitter / F(twitter) / true google.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path

import numpy as np
import torch
from limits import Stopwatch

from genzoo.data.datasets import ImageDataset, Split
from genzoo.data.emoji import emoji_split, read_emoji
from genzoo.objectives.cycle import CycleConfig, CycleGANObjective
from genzoo.registry import get_model
from genzoo.training.trainer import TrainConfig, Trainer


def paired_emoji(folder, size: int, counts: dict | None = None):
    """(ids, google uint8 (N, 3, S, S), twitter uint8 (N, 3, S, S), groups (N,)): the emoji both
    vendors draw, row i of each array being emoji ``ids[i]``; ``groups`` is the base emoji.
    ``counts``, when given, receives the number of images of each vendor."""
    google, twitter = read_emoji(folder, "google", size), read_emoji(folder, "twitter", size)
    if counts is not None:
        counts.update(google=len(google), twitter=len(twitter))
    where = {uid: i for i, uid in enumerate(twitter.ids)}
    gi = np.array([i for i, uid in enumerate(google.ids) if uid in where], dtype=np.int64)
    ti = np.array([where[google.ids[i]] for i in gi], dtype=np.int64)
    return [google.ids[i] for i in gi], google.images[gi], twitter.images[ti], google.groups[gi]


def unpaired_split(groups: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Row indices: ``train_a`` / ``train_b`` (the training base emoji halved at random, disjoint),
    ``train`` (both halves, for the paired bound), ``valid`` and ``test`` (the reader's split)."""
    parts = emoji_split(groups, seed)
    train_groups = np.unique(groups[parts["train"]])
    perm = np.random.default_rng([seed, 13]).permutation(train_groups)
    half_a = perm[: len(perm) // 2]
    in_a = np.isin(groups[parts["train"]], half_a)
    return {"train_a": parts["train"][in_a], "train_b": parts["train"][~in_a], "train": parts["train"],
            "valid": parts["valid"], "test": parts["test"]}


def as_float(codes: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(codes.astype(np.float32) / 255.0)  # (N, 3, S, S) in [0, 1]


def dataset(name: str, x: torch.Tensor, valid: torch.Tensor, paired: bool = False) -> ImageDataset:
    return ImageDataset(name, Split(x), Split(valid), Split(valid), tuple(x.shape[1:]), False, None, 256,
                        paired=paired)


def per_image(pred: torch.Tensor, truth: torch.Tensor, extractor=None) -> dict[str, torch.Tensor]:
    """Per test image (N,): L1 (mean absolute difference), PSNR (dB) and, with ``extractor``, the
    Euclidean distance between the features of the prediction and of its truth."""
    out = {"l1": (pred - truth).abs().flatten(1).mean(1).double(),
           "psnr": 10 * torch.log10(1.0 / (pred - truth).pow(2).flatten(1).mean(1).double().clamp_min(1e-10))}
    if extractor is not None:
        out["feat"] = (extractor(pred.clamp(0, 1)) - extractor(truth)).norm(dim=1).double()
    return out


def _mean_se(v: torch.Tensor) -> tuple[float, float]:
    return float(v.mean()), float(v.std() / math.sqrt(len(v))) if len(v) > 1 else 0.0


def distances(pred: torch.Tensor, truth: torch.Tensor, extractor=None) -> dict[str, float]:
    """L1 (mean over images of the mean absolute difference) and PSNR (dB, mean over images), with
    the standard error over images of each; with ``extractor`` also the feature distance: the mean
    Euclidean distance between the features of each prediction and of its truth."""
    out: dict[str, float] = {}
    for name, v in per_image(pred, truth, extractor).items():
        out[name], out[f"{name}_se"] = _mean_se(v)
    return out


def versus(pred: torch.Tensor, baseline: torch.Tensor, truth: torch.Tensor, extractor=None) -> dict[str, float]:
    """The paired difference, image by image, of each distance of ``pred`` minus that of
    ``baseline`` (both scored against ``truth``): mean and standard error over images. Both are
    scored on the same images, so this is far more precise than comparing the two means' errors."""
    a, b = per_image(pred, truth, extractor), per_image(baseline, truth, extractor)
    out: dict[str, float] = {}
    for name in a:
        out[name], out[f"{name}_se"] = _mean_se(a[name] - b[name])
    return out


def train_cyclegan(xa, xb, valid_a, valid_b, *, minutes: float, paired: bool, args, log,
                   steps: int | None = None) -> tuple:
    """Train for ``steps`` (when given) or for about ``minutes`` (turned into steps by a timing probe)."""
    entry = get_model("cyclegan")
    torch.manual_seed(args.seed)
    model = entry.model_cls(entry.config_cls(shape=tuple(xa.shape[1:]), width=args.width, res_blocks=args.res_blocks,
                                             residual=args.residual))
    data = dataset("emoji-google", xa, valid_a)
    data.domain_b = dataset("emoji-twitter", xb, valid_b, paired=paired)
    objective = CycleGANObjective(CycleConfig(paired_l1=args.paired_weight if paired else 0.0))
    probed = 0
    if steps is None:  # time the first steps to turn the budget into a step count
        probe = TrainConfig(epochs=1, batch_size=args.batch_size, max_steps=3, lr=2e-4, betas=(0.5, 0.999),
                            validate=False, sample_every=0, progress=False, seed=args.seed)
        said: list[str] = []
        t0 = time.perf_counter()
        Trainer(model, objective, data, probe, log=said.append).fit()
        per_step = (time.perf_counter() - t0) / 3
        timed = [re.search(r"first \d+ step\(s\): ([0-9.e+-]+) s per step", m) for m in said]
        per_step = next((float(m.group(1)) for m in timed if m), per_step)  # the trainer's own timing
        steps, probed = max(1, int(minutes * 60 / per_step)), 3
        log(f"{per_step:.2f} s/step")
    steps_per_epoch = math.ceil(len(xa) / args.batch_size)
    epochs = math.ceil(steps / steps_per_epoch)
    log(f"{'paired' if paired else 'unpaired'}: {steps} steps ({epochs} epochs of {steps_per_epoch})")
    cfg = TrainConfig(epochs=epochs, batch_size=args.batch_size, max_steps=steps, lr=2e-4, betas=(0.5, 0.999),
                      validate=False, sample_every=0, progress=False, seed=args.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    Trainer(model, objective, data, cfg, log=log).fit()
    return model, {"steps": steps + probed, "seconds": round(time.perf_counter() - t0, 1),
                   "cpu_seconds": round(time.process_time() - c0, 1)}


@torch.no_grad()
def measure(model, test_a, test_b, extractor=None) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Distances of both directions' translations to the truth, and (``minus_identity``) their
    paired differences from the identity baseline's (negative: closer to the truth than x itself)."""
    model.eval()
    fa = model.translate(test_a, "a2b")
    fb = model.translate(test_b, "b2a")
    return ({"google->twitter": distances(fa, test_b, extractor),
             "twitter->google": distances(fb, test_a, extractor),
             "minus_identity": {"google->twitter": versus(fa, test_a, test_b, extractor),
                                "twitter->google": versus(fb, test_b, test_a, extractor)}}, fa, fb)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data/emoji")
    p.add_argument("--size", type=int, default=32, choices=(16, 32, 64))
    p.add_argument("--minutes", type=float, default=6.0, help="training budget of the unpaired CycleGAN")
    p.add_argument("--paired-minutes", type=float, default=3.0, help="budget of the paired bound")
    p.add_argument("--paired", action=argparse.BooleanOptionalAction, default=True,
                   help="also train the pix2pix-style paired upper bound (the same model + paired L1 on the "
                        "training pairs)")
    p.add_argument("--steps", type=int, default=None, help="train each model this many steps instead of "
                                                            "--minutes / --paired-minutes")
    p.add_argument("--paired-steps", type=int, default=None, help="the paired bound's step budget (default: --steps)")
    p.add_argument("--identity-only", action="store_true", help="measure the identity baseline only (no training)")
    p.add_argument("--residual", action="store_true", help="residual generators (start as the identity)")
    p.add_argument("--features", action=argparse.BooleanOptionalAction, default=True,
                   help="feature distance in genzoo's emoji classifier (google, trained on the same split's "
                        "training images; trained and cached on first use)")
    p.add_argument("--paired-weight", type=float, default=10.0)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--res-blocks", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/emoji-cyclegan")
    p.add_argument("--picture", default=None, help="PNG of 8 test emoji and their translations")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    watch = Stopwatch()
    log = watch.log

    counts: dict = {}
    ids, google, twitter, groups = paired_emoji(args.data_dir, args.size, counts)
    n_google = counts["google"]
    split = unpaired_split(groups, args.seed)
    a, b = as_float(google), as_float(twitter)
    log(f"{len(ids)} paired emoji; unpaired train A {len(split['train_a'])} / B {len(split['train_b'])} "
        f"(disjoint base emoji), test {len(split['test'])}")
    test_a, test_b = a[split["test"]], b[split["test"]]
    ext = None
    if args.features:
        from genzoo.evaluation.features import emoji_classifier

        # the classifier trains on the training split of *all* google images with this seed; it is the
        # split here (so it never saw a test emoji) when every google image has a twitter counterpart
        if len(ids) != n_google:
            raise SystemExit(f"{n_google - len(ids)} google emoji lack a twitter drawing: the feature "
                             "network's split would differ from this one (use --no-features)")
        ext = emoji_classifier(data_dir=args.data_dir, data_seed=args.seed, log=log)
    results = {"size": args.size, "n_test": len(split["test"]), "n_train_a": len(split["train_a"]),
               "n_train_b": len(split["train_b"]), "args": vars(args),
               "features": None if ext is None else ext.name,
               "identity": {"google->twitter": distances(test_a, test_b, ext),
                            "twitter->google": distances(test_b, test_a, ext)}}
    if args.identity_only:
        (out / "results.json").write_text(json.dumps(results, indent=2))
        log(json.dumps(results["identity"], indent=2))
        return 0
    cyc, results["cyclegan_budget"] = train_cyclegan(
        a[split["train_a"]], b[split["train_b"]], a[split["valid"]], b[split["valid"]],
        minutes=args.minutes, paired=False, args=args, log=log, steps=args.steps)
    results["cyclegan"], fa, fb = measure(cyc, test_a, test_b, ext)
    cyc.save_pretrained(out / "cyclegan")  # to measure again later
    rows = None
    if args.paired:
        pair, results["paired_budget"] = train_cyclegan(
            a[split["train"]], b[split["train"]], a[split["valid"]], b[split["valid"]],
            minutes=args.paired_minutes, paired=True, args=args, log=log,
            steps=args.paired_steps if args.paired_steps is not None else args.steps)
        results["paired"], pa, pb = measure(pair, test_a, test_b, ext)
        pair.save_pretrained(out / "paired")
        rows = (pa, pb)
    results["wall_seconds"] = round(watch.elapsed(), 1)
    results["cpu_seconds"] = round(time.process_time(), 1)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    for name in ("identity", "cyclegan", "paired"):
        if name in results:
            for d, r in results[name].items():
                if d == "minus_identity":
                    log(f"{name:9s} minus identity, paired over images: {json.dumps(r)}")
                    continue
                feat = f"  feature dist. {r['feat']:.3f} ± {r['feat_se']:.3f}" if "feat" in r else ""
                log(f"{name:9s} {d}: L1 {r['l1']:.4f} ± {r['l1_se']:.4f}  PSNR {r['psnr']:.2f} ± {r['psnr_se']:.2f} dB"
                    + feat)
    if args.picture:
        from genzoo.evaluation.plots import save_grid

        k = torch.linspace(0, len(test_a) - 1, 8).long()
        parts = [test_a[k], fa[k], test_b[k], test_b[k], fb[k], test_a[k]]
        if rows is not None:
            parts = [test_a[k], fa[k], rows[0][k], test_b[k], test_b[k], fb[k], rows[1][k], test_a[k]]
        save_grid(torch.cat(parts).clamp(0, 1), args.picture, nrow=8, scale=1)
        log(f"picture -> {args.picture}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
