"""How much the VampPrior's float32 density moved a trained model's importance-sampled NLL.

Loads a VampPrior VAE run, reports the posterior log-variances of q(z|x) on test images and of
the prior's components q(z|u_k), then estimates the test NLL twice with the same importance
samples (same seed): with the mixture density evaluated in float64 (genzoo's computation) and in
float32 (the computation before the fix, which expands the quadratic form in float32).

    OMP_NUM_THREADS=1 python benchmarks/vamp_precision.py runs/vamp300-e10 --k 1000 --test-limit 500
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--test-limit", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import genzoo
    from genzoo import distributions
    from genzoo.evaluation.likelihood import evaluate_likelihood, random_subset
    from genzoo.training.run import load_run_data

    model = genzoo.load(args.run)
    if not model.learnt_prior:
        raise SystemExit(f"{args.run}: not a VampPrior run")
    x = random_subset(load_run_data(args.run).test.x, args.test_limit, args.seed)
    with torch.no_grad():
        q_lv = torch.cat([model.posterior(c).logvar for c in x.split(500)])
        prior = model.prior()
    quant = torch.tensor([0.01, 0.5, 0.99])
    out = {"run": args.run, "k": args.k, "n": len(x),
           "posterior_logvar_q01_q50_q99": [round(float(v), 2) for v in q_lv.flatten().quantile(quant)],
           "component_logvar_q01_q50_q99": [round(float(v), 2) for v in prior.logvars.flatten().quantile(quant)]}
    original = distributions.GaussianMixture.log_prob
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        def log_prob(self, z, dtype=dtype):
            return distributions.mixture_log_prob(z, self.means, self.logvars, compute_dtype=dtype)

        distributions.GaussianMixture.log_prob = log_prob
        t0 = time.time()
        res = evaluate_likelihood(model, x, k=args.k, batch_size=args.batch_size, seed=args.seed)
        out[f"nll_{name}"] = round(res["nll_nats"], 3)
        out[f"nll_stderr_{name}"] = round(res["nll_stderr"], 3)
        out[f"seconds_{name}"] = round(time.time() - t0, 1)
    distributions.GaussianMixture.log_prob = original
    out["nll_float32_minus_float64"] = round(out["nll_float32"] - out["nll_float64"], 3)
    out["command"] = "python " + " ".join(sys.argv)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
