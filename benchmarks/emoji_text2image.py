"""Text-to-image from emoji names (GAN-CLS + GAN-INT), scored on names held out from training.

    OMP_NUM_THREADS=1 python benchmarks/emoji_text2image.py --data-dir ../shared/data/emoji \\
        --minutes 8 --cgan-minutes 8 --out runs/emoji-t2i --pictures docs/img

``--models text2image`` / ``--models cgan`` with ``--train-only`` trains and saves one model (two
processes can train one each into the same --out); ``--reuse`` then evaluates those saved in --out.

Data: emoji google at 32x32 (``genzoo.data``: split by base emoji, 80/10/10, skin-tone variants kept
together), so every test caption ("name (short names)[, skin tone]") names an emoji no training
image shows. The ``text2image`` model learns its word vocabulary from the training captions only;
test words it never saw map to ``<unk>`` plus their character trigrams.

Measure: for each test image's caption, K samples; the emoji category classifier that genzoo trains
on the same split's training images (:func:`genzoo.evaluation.features.emoji_classifier`) labels
them, and category accuracy is the fraction labelled with the caption's category. Standard errors
are over base emoji (the skin-tone variants of one emoji share a category, so they are one cluster).
References, all on the same test images and classifier:

* chance: uniform (1 / number of categories) and majority (always the training split's most
  frequent category);
* shuffled captions: the same model and noise, each test image given another test image's caption
  (how much of the accuracy comes from the text, rather than from what the classifier says about any
  sample);
* cGAN on category: ``cgan`` (same conv nets, same step budget in minutes) sampled for the test
  images' categories, i.e. told the category outright;
* training names: the text model on training captions (seen names);
* real test images: the classifier's own accuracy.

Copies: for every held-out-name sample, the RMS pixel distance to its nearest training image,
against the same figure for the real test images (held-out drawings, not copies by construction);
the pictures show samples beside their nearest training images in pixel and in classifier-feature
space, and samples with their captions. Results go to OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from dataclasses import replace
from pathlib import Path

import torch
from limits import Stopwatch

import genzoo
from genzoo.data import DataConfig, load_dataset
from genzoo.data.emoji import SKIN_TONES
from genzoo.evaluation.plots import grid_array
from genzoo.objectives.adversarial import GANCLSConfig, GANCLSObjective, GANLossConfig, GANObjective
from genzoo.registry import get_model
from genzoo.training.run import fit_config_to_data
from genzoo.training.trainer import TrainConfig, Trainer

_TONE = re.compile(r", (?:" + "|".join(re.escape(t) for t in SKIN_TONES.values()) + r")(?:, .*)?$")


def base_name(caption: str) -> str:
    """The caption without its skin tone(s): the cluster key of the base emoji."""
    return _TONE.sub("", caption)


def train_for(model, objective, data, *, minutes: float, batch_size: int, seed: int, log,
              steps: int | None = None) -> dict:
    """Train with the trainer for ``steps`` when given, else for about ``minutes``: 3 steps whose time
    the trainer reports (its own timing, free of one-off setup such as imports), then the step count
    that time implies."""
    def config(steps: int) -> TrainConfig:
        epochs = math.ceil(steps / math.ceil(len(data.train) / batch_size))
        return TrainConfig(epochs=epochs, batch_size=batch_size, max_steps=steps, lr=2e-4, betas=(0.5, 0.999),
                           validate=False, sample_every=0, progress=False, seed=seed, device="cpu")

    t0 = time.perf_counter()
    if steps is not None:
        Trainer(model, objective, data, config(steps), log=lambda m: None).fit()
        return {"steps": steps, "seconds": round(time.perf_counter() - t0, 1)}
    said: list[str] = []
    Trainer(model, objective, data, config(3), log=said.append).fit()
    timed = [re.search(r"first \d+ step\(s\): ([0-9.e+-]+) s per step", m) for m in said]
    per_step = next((float(m.group(1)) for m in timed if m), (time.perf_counter() - t0) / 3)
    steps = max(1, int(minutes * 60 / per_step) - 3)
    log(f"{type(model).__name__}: {per_step:.2f} s/step -> {steps} more steps")
    Trainer(model, objective, data, config(steps), log=lambda m: None).fit()
    return {"steps": steps + 3, "seconds": round(time.perf_counter() - t0, 1)}


def accuracy(pred: torch.Tensor, labels: torch.Tensor, groups: list[str]) -> dict:
    """Category accuracy of ``pred`` (N, K) (each image's K samples averaged): ``accuracy`` over
    images, with the standard error over the clusters ``groups`` (base emoji: skin-tone variants
    share a category), and ``per_name`` giving every base emoji the same weight (± SE over them)."""
    hit = (pred == labels.view(-1, 1)).double().mean(1)  # (N,)
    mean = float(hit.mean())
    keys = sorted(set(groups))
    index = torch.tensor([keys.index(g) for g in groups])
    g = len(keys)
    s = torch.zeros(g, dtype=torch.double).index_add_(0, index, hit - mean)
    se = float(s.pow(2).sum().sqrt() / len(hit) * math.sqrt(g / max(1, g - 1)))  # cluster-robust
    per = torch.zeros(g, dtype=torch.double).index_add_(0, index, hit) / torch.bincount(index, minlength=g)
    return {"accuracy": mean, "se": se, "per_name": float(per.mean()),
            "per_name_se": float(per.std() / math.sqrt(g)) if g > 1 else 0.0, "images": len(hit), "clusters": g}


@torch.no_grad()
def draw(model, k: int, conditions: list, seed: int, chunk: int = 256) -> torch.Tensor:
    """(N, K, C, H, W): K samples for each condition (caption or label), seeded."""
    g = torch.Generator().manual_seed(seed)
    flat = [c for c in conditions for _ in range(k)]
    out = [model.sample(len(flat[i:i + chunk]), generator=g, condition=flat[i:i + chunk])
           for i in range(0, len(flat), chunk)]
    return torch.cat(out).view(len(conditions), k, *out[0].shape[1:]).clamp(0, 1)


def nearest(queries: torch.Tensor, bank: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances (N, k), indices (N, k)) of the k nearest rows of ``bank`` (RMS per coordinate)."""
    d = torch.cdist(queries.flatten(1).double(), bank.flatten(1).double()) / math.sqrt(queries[0].numel())
    return d.topk(k, largest=False)


def captioned_picture(rows: list[tuple[str, torch.Tensor]], path: Path, *, header: str = "", scale: int = 2,
                      text_width: int = 230) -> None:
    """One row per (caption, images (K, C, H, W)): the caption on the left, the images after it;
    ``header`` on a first line."""
    from PIL import Image, ImageDraw

    tiles = [grid_array(images, nrow=len(images)) for _, images in rows]
    h, w = tiles[0].shape[0] * scale, tiles[0].shape[1] * scale
    top = 16 if header else 0
    canvas = Image.new("RGB", (text_width + w, top + h * len(rows)), "white")
    pen = ImageDraw.Draw(canvas)
    if header:
        pen.text((4, 2), header, fill="black")
    for r, ((caption, _), tile) in enumerate(zip(rows, tiles)):
        img = Image.fromarray(tile).resize((w, h), Image.NEAREST)
        canvas.paste(img, (text_width, top + r * h))
        text = caption if len(caption) <= 38 else caption[:36] + ".."
        pen.text((4, top + r * h + h // 2 - 6), text, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG")


def train_models(data, data_cfg, args, out: Path, log) -> dict:
    """Train text2image and the category cGAN (those ``--models`` names) for their budgets; save each
    to OUT/<name> with OUT/budget-<name>.json. With ``--reuse`` a previous call's models are kept.
    Returns every budget file's contents found in OUT."""
    for name in args.models.split(","):
        if name == "cgan" and args.cgan_run:
            continue
        budget_file = out / f"budget-{name}.json"
        if args.reuse and budget_file.is_file():
            log(f"reusing {out / name}")
            continue
        entry = get_model(name)
        if name == "text2image":
            cfg = fit_config_to_data(replace(entry.default_config(), width=args.width), data, data_cfg)
            objective, minutes, steps = GANCLSObjective(GANCLSConfig()), args.minutes, args.steps
        elif name == "cgan":
            cfg = replace(entry.default_config(), shape=tuple(data.shape), arch="conv", width=args.width,
                          num_classes=data.num_classes)
            objective, minutes, steps = GANObjective(GANLossConfig()), args.cgan_minutes, args.cgan_steps
        else:
            raise ValueError(f"--models: {name!r} is not text2image or cgan")
        torch.manual_seed(args.seed)
        model = entry.model_cls(cfg)
        model.registry_name = name
        budget = {"parameters": sum(p.numel() for p in model.parameters()), "minutes": minutes}
        log(f"{name}: {budget['parameters']} parameters")
        cpu0 = time.process_time()
        budget.update(train_for(model, objective, data, minutes=minutes, batch_size=args.batch_size,
                                seed=args.seed, log=log, steps=steps))
        budget["cpu_seconds"] = round(time.process_time() - cpu0, 1)
        model.save_pretrained(out / name)
        budget_file.write_text(json.dumps(budget, indent=2))
    return {f.stem.removeprefix("budget-"): json.loads(f.read_text()) for f in sorted(out.glob("budget-*.json"))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default="../shared/data/emoji")
    p.add_argument("--minutes", type=float, default=8.0, help="training budget of text2image")
    p.add_argument("--cgan-minutes", type=float, default=8.0, help="training budget of the category cGAN (0: skip)")
    p.add_argument("--steps", type=int, default=None, help="train text2image this many steps (not --minutes)")
    p.add_argument("--cgan-steps", type=int, default=None, help="train the cGAN this many steps (not --cgan-minutes)")
    p.add_argument("--cgan-run", default=None, help="use this trained category cGAN (a run directory, e.g. "
                   "`genzoo train cgan --data emoji ...` of benchmarks/emoji_gans.py) instead of training one")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--samples", type=int, default=4, help="K: samples per test caption")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/emoji-t2i")
    p.add_argument("--models", default="text2image,cgan", help="which models to train (comma-separated); "
                   "two processes with --train-only may train one each, then --reuse evaluates both")
    p.add_argument("--reuse", action="store_true", help="evaluate the models a previous run saved in --out")
    p.add_argument("--train-only", action="store_true", help="train and save the models, evaluate later")
    p.add_argument("--pictures", default=None, help="folder for emoji_t2i_samples.png / emoji_t2i_neighbours.png")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    watch = Stopwatch()
    log = watch.log

    torch.set_num_threads(1)
    data_cfg = DataConfig(name="emoji", data_dir=args.data_dir, size=32, seed=args.seed)
    data = load_dataset(data_cfg)
    test_text, test_y = list(data.test.text), data.test.y
    groups = [base_name(t) for t in test_text]
    log(f"{data.describe()}; {len(set(groups))} held-out base emoji in test")
    budgets = train_models(data, data_cfg, args, out, log)
    if args.train_only:
        return 0

    from genzoo.evaluation.features import emoji_classifier
    from genzoo.nn.text import words

    ext = emoji_classifier(data_dir=args.data_dir, data_seed=args.seed, log=log)
    log(f"classifier: test accuracy {ext.accuracy}")
    t2i = genzoo.load(out / "text2image")
    vocab = set(t2i.vocabulary)
    test_words = [w for t in test_text for w in words(t)]
    unseen = sum(w not in vocab for w in test_words) / len(test_words)
    log(f"{unseen:.1%} of the test captions' words are not in the vocabulary")
    results: dict = {"args": vars(args), "budgets": budgets, "n_train": len(data.train), "n_test": len(test_text),
                     "test_clusters": len(set(groups)), "vocabulary": len(vocab), "unseen_test_words": unseen,
                     "classifier_test_accuracy": ext.accuracy}

    k = args.samples
    held = draw(t2i, k, test_text, args.seed + 1)  # (N, K, 3, 32, 32)
    pred = ext.predict(held.flatten(0, 1)).view(len(test_text), k)
    perm = torch.randperm(len(test_text), generator=torch.Generator().manual_seed(args.seed + 2))
    shuffled = draw(t2i, k, [test_text[i] for i in perm.tolist()], args.seed + 1)
    g_train = torch.Generator().manual_seed(args.seed + 3)
    train_pick = torch.randperm(len(data.train), generator=g_train)[:len(test_text)]
    train_text = [data.train.text[i] for i in train_pick.tolist()]
    seen = draw(t2i, k, train_text, args.seed + 1)
    majority = int(torch.bincount(data.train.y).argmax())
    results["accuracy"] = {
        "text2image_held_out_names": accuracy(pred, test_y, groups),
        "text2image_shuffled_captions": accuracy(ext.predict(shuffled.flatten(0, 1)).view(-1, k), test_y, groups),
        "text2image_training_names": accuracy(ext.predict(seen.flatten(0, 1)).view(-1, k), data.train.y[train_pick],
                                              [base_name(t) for t in train_text]),
        "chance_uniform": {"accuracy": 1.0 / data.num_classes, "per_name": 1.0 / data.num_classes},
        "chance_majority": accuracy(torch.full((len(test_y), 1), majority), test_y, groups),
        "real_test_images": accuracy(ext.predict(data.test.x).view(-1, 1), test_y, groups),
    }
    results["predicted_category_histogram"] = torch.bincount(pred.flatten(), minlength=data.num_classes).tolist()
    results["majority_category"] = majority
    cgan_dir = Path(args.cgan_run) if args.cgan_run else out / "cgan"
    if cgan_dir.is_dir():
        results["cgan_run"] = str(cgan_dir)
        by_label = draw(genzoo.load(cgan_dir), k, test_y.tolist(), args.seed + 1)
        results["accuracy"]["cgan_same_categories"] = accuracy(
            ext.predict(by_label.flatten(0, 1)).view(-1, k), test_y, groups)

    # copies? nearest training image of every held-out-name sample vs of every real test image
    bank = data.train.x
    d_gen, _ = nearest(held[:, 0], bank, 1)
    d_real, _ = nearest(data.test.x, bank, 1)
    results["nearest_train_rms"] = {"samples_median": float(d_gen.median()), "samples_min": float(d_gen.min()),
                                    "real_test_median": float(d_real.median()), "real_test_min": float(d_real.min())}
    results["wall_seconds"] = round(watch.elapsed(), 1)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    for name, r in results["accuracy"].items():
        extra = f" ± {r['se']:.3f}; per name {r['per_name']:.3f} ± {r['per_name_se']:.3f}" if "se" in r else ""
        log(f"{name:30s} {r['accuracy']:.3f}{extra}")
    log(f"nearest training image (RMS per pixel): {results['nearest_train_rms']}")

    if args.pictures:
        folder = Path(args.pictures)
        first = {}  # one test image per held-out base emoji, spread over the test split
        for i, g in enumerate(groups):
            first.setdefault(g, i)
        pick = list(first.values())[:: max(1, len(first) // 8)][:8]
        captioned_picture([(test_text[i], held[i]) for i in pick], folder / "emoji_t2i_samples.png",
                          header=f"held-out name: {k} samples")
        q = held[pick, 0]
        _, pix = nearest(q, bank, 3)
        _, feat = nearest(ext(q), ext(bank), 3)
        rows = [torch.cat([q[j:j + 1], bank[pix[j]], bank[feat[j]]]) for j in range(len(pick))]
        captioned_picture([(test_text[i], r) for i, r in zip(pick, rows)], folder / "emoji_t2i_neighbours.png",
                          header="sample | 3 nearest training images in pixels | 3 nearest in classifier features")
        log(f"pictures -> {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
