"""Test NLL (nats and bits/dim of the 8-bit data) and a sample grid for a run trained on emoji.

Usage (after `genzoo train ... --out runs/X`, see BENCHMARKS.md "Colour"):

    python benchmarks/colour_emoji.py runs/X --grid docs/img/colour_X.png [--samples 16]

Conditional models (``classes`` > 0) are scored with each test image's own label,
log p(x | y), and sampled one row per class. Latent-variable models (the conv VAE with the
discretized logistic decoder) are scored by :func:`genzoo.evaluation.likelihood.evaluate_likelihood`:
an importance-sampled estimate of the NLL with ``--k`` samples (its standard error over the test
images; the -ELBO, a bound, beside it). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from genzoo.evaluation.likelihood import evaluate_likelihood, run_data_spec
from genzoo.evaluation.plots import save_grid
from genzoo.models.base import bits_per_dim
from genzoo.training.run import load, load_run_data


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--grid", help="PNG to write the samples to")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=20, help="importance samples (latent-variable models; a CPU-sized 20)")
    args = p.parse_args()
    model = load(args.run_dir)
    data = load_run_data(args.run_dir)
    x, y = data.test.x, data.test.y
    conditional = getattr(model, "conditional", False)
    start = time.time()
    if not model.exact_likelihood:  # IS-NLL of the discrete data, labelled, with k and standard errors
        res = evaluate_likelihood(model, x, run_data_spec(args.run_dir, data, None), k=args.k,
                                  batch_size=2, seed=args.seed)
        out = {"run": args.run_dir, "model": getattr(model, "registry_name", type(model).__name__),
               "likelihood": model.likelihood_type, "n_test": res["n"], "label": res["label"], "k": res["k"],
               "nll_nats": round(res["nll_nats"], 2), "nll_stderr": round(res["nll_stderr"], 2),
               "bits_per_dim": round(res["bits_per_dim"], 4), "neg_elbo_nats": round(res["neg_elbo_nats"], 2),
               "neg_elbo_stderr": round(res["neg_elbo_stderr"], 2),
               "elbo_bits_per_dim": round(res["elbo_bits_per_dim"], 4), "eval_seconds": round(time.time() - start, 1)}
        if args.grid:
            g = torch.Generator().manual_seed(args.seed)
            save_grid(model.sample(args.samples, generator=g), args.grid, value_range=(0.0, 1.0), scale=1)
        print(json.dumps(out))
        return
    nll = []
    for i in range(0, len(x), args.batch_size):
        kw = {"condition": y[i: i + args.batch_size]} if conditional else {}
        nll.append(-model.log_prob(x[i: i + args.batch_size], **kw))
    nll = torch.cat(nll).double()
    dim = math.prod(x.shape[1:])
    mean, se = nll.mean().item(), (nll.std() / math.sqrt(len(nll))).item()
    out = {"run": args.run_dir, "model": getattr(model, "registry_name", type(model).__name__),
           "likelihood": model.config.likelihood, "n_test": len(nll), "nll_nats": round(mean, 2),
           "nll_stderr": round(se, 2), "bits_per_dim": round(bits_per_dim(mean, dim), 4),
           "eval_seconds": round(time.time() - start, 1)}
    if args.grid:
        start = time.time()
        g = torch.Generator().manual_seed(args.seed)
        if conditional and model.config.classes:
            per = max(1, args.samples // model.config.classes)
            labels = torch.arange(model.config.classes).repeat_interleave(per)
            images = model.sample(len(labels), generator=g, condition=labels)
            nrow = per
        else:
            images, nrow = model.sample(args.samples, generator=g), None
        save_grid(images, args.grid, nrow=nrow, value_range=(0.0, 1.0), scale=1)
        out["sample_seconds"] = round(time.time() - start, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
