"""IS-NLL speed on the CPU: genzoo's importance-sampled log-likelihood against pythae's ``get_nll``
and the machine's multiply ceiling, same nets, same weights, same test images, one thread.

The VAE (784-500-50 tanh MLPs, Bernoulli decoder) is first trained for ``--train-steps`` steps by
genzoo's trainer, so the estimates are of a real model; then, in interleaved rounds (medians):

* ``genzoo``: ``model.log_prob(x, k=k)`` on batches of 100 images (what ``genzoo eval`` runs):
  the encoder once per image, the decoder in blocks of about ``BLOCK_ROWS`` rows, the
  log-sum-exp streamed (:mod:`genzoo.evaluation.importance`);
* ``genzoo-unblocked``: the estimator before issue 15 (every chunk of 500 samples through the
  decoder at once, 50,000 rows for 100 images, and the log-weights stacked);
* ``pythae``: pythae 0.1.2's ``VAE.get_nll(x, n_samples=k, batch_size=100)`` on a pythae VAE with
  the same nets and weights (its default batch size: the encoder is run for every 100 samples);
* ``ceiling``: only the multiplies the estimator cannot avoid (the decoder for k x N samples in
  blocks of ``BLOCK_ROWS`` rows, the encoder once per image);
* ``genzoo-b<rows>`` (``--blocks``): genzoo's estimator with other decoder block sizes;
* ``genzoo-bce`` (``--bce``): genzoo's estimator with the Bernoulli log-density as the family
  computed it before session 7 (BCE with logits, :func:`bce_density`), for what the leaner
  no-gradient formula (x . l - sum softplus(l), now the family's) saves;
* ``genzoo-compiled`` (``--compiled``): ``model.log_prob(x, k=k, compile=True)``, a block's
  log-weights (the decoder, its log-density, the prior and q terms) compiled (``torch.compile``,
  inductor), compiled (one estimate) before the timed rounds, the compile time reported apart;
  ``genzoo-compiled-b<rows>`` (``--compiled-blocks``) the same with other block sizes;
* ``ceiling-b<rows>``: the ceiling at the block shapes of every other block size measured (the
  multiplies are faster at some shapes than at others: each path is also set against the fastest
  ceiling, ``x best ceiling``).

Each path's minor page faults per call are reported too (fresh large tensors that the allocator
maps and the kernel zero-fills are a cost the preallocated ceiling does not pay). ``--parts`` and
``--profile`` only profile one decoder block's parts or one estimate op by op, then stop.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/perf_nll.py --images 200 --k 5000 --repeats 3
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/perf_nll.py --images 40 --k 5000 --repeats 5 --no-unblocked \
        --bce --blocks 512 --compiled --compiled-blocks 512   # issue 15, session 7
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from limits import MatmulOp, interleaved_times, machine, threads  # noqa: E402
from perf_train import DATA_DIR, make_model, pythae_model  # noqa: E402

from genzoo.evaluation.importance import (  # noqa: E402
    BLOCK_ROWS,
    balanced_block_sizes,
    importance_sampled_log_prob,
)
from genzoo.objectives.variational import log_weights  # noqa: E402

BATCH = 100  # images per call, as genzoo eval's evaluate_likelihood


def trained_model(data_dir: str, steps: int):
    """The benchmark VAE after ``steps`` Adam steps of batch 100 by genzoo's trainer, and the
    binarized MNIST test images."""
    from genzoo.data import DataConfig, load_dataset
    from genzoo.training import TrainConfig, Trainer
    from genzoo.training.run import build_objective

    data = load_dataset(DataConfig(name="binarized-mnist", data_dir=data_dir))
    model = make_model(data.shape)
    cfg = TrainConfig(epochs=1, batch_size=100, progress=False, validate=False, sample_every=0, device="cpu",
                      max_steps=steps)
    Trainer(model, build_objective("elbo"), data, cfg, log=lambda m: None).fit()
    return model.eval(), data.test.x


@torch.no_grad()
def genzoo_nll(model, x, k: int, seed: int = 0, compile: bool = False) -> torch.Tensor:
    """``-model.log_prob`` on batches of :data:`BATCH` images, as ``genzoo eval [--compile]``."""
    g = torch.Generator().manual_seed(seed)
    kw = {"compile": True} if compile else {}
    return -torch.cat([model.log_prob(xb, k=k, generator=g, **kw) for xb in x.split(BATCH)])


@torch.no_grad()
def blocked_nll(model, x, k: int, block_rows: int, seed: int = 0, density=None, compile: bool = False
                ) -> torch.Tensor:
    """genzoo's estimator with another decoder block size, or with ``density`` (a function of the
    decoder's logits and the images) in place of the Bernoulli family's log-density; same draws."""
    g = torch.Generator().manual_seed(seed)
    m = model if density is None else _OtherDensity(model, density)
    return -torch.cat([importance_sampled_log_prob(m, xb, k=k, generator=g, block_rows=block_rows, compile=compile)
                       for xb in x.split(BATCH)])


def bce_density(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(x | sigmoid(l)) summed over the pixels as the family computed it before
    session 7 (and still does with a gradient): -BCE-with-logits against x expanded to the logits'
    shape, several element-wise passes over the (rows, 784) logits."""
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").flatten(-3).sum(-1)


class _OtherDensity:
    """The model with its decoder's Bernoulli log-density replaced by ``density(logits, x)``."""

    def __init__(self, model, density):
        self.model, self.density = model, density

    def posterior(self, x):
        return self.model.posterior(x)

    def prior(self):
        return self.model.prior()

    def likelihood(self, z):
        logits = self.model.likelihood(z).logits
        density = self.density

        class _D:
            def log_prob(self, x):
                return density(logits, x)
        return _D()


@torch.no_grad()
def unblocked_nll(model, x, k: int, seed: int = 0, chunk: int = 500) -> torch.Tensor:
    """The estimator as it was before issue 15 (evaluation/importance.py at 3a6fbec)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for xb in x.split(BATCH):
        prior = model.prior()
        parts = [torch.logsumexp(log_weights(model, xb, min(chunk, k - s), g, prior=prior), dim=0)
                 for s in range(0, k, chunk)]
        out.append(-(torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)))
    return torch.cat(out)


def ceiling_ops(n_images: int, k: int, block_rows: int = BLOCK_ROWS, chunk: int = 500
                ) -> list[tuple[MatmulOp, int]]:
    """(multiply, how many times) of the estimator's unavoidable work: the decoder's two layers for
    every block of samples (the blocks :func:`importance_sampled_log_prob` makes with
    ``block_rows``), the encoder once."""
    counts: dict[int, int] = {}
    for b in [BATCH] * (n_images // BATCH) + ([n_images % BATCH] if n_images % BATCH else []):
        per_block = max(1, block_rows // b)
        for start in range(0, k, chunk):
            for s in balanced_block_sizes(min(chunk, k - start), per_block):
                counts[s * b] = counts.get(s * b, 0) + 1
    ops = [(MatmulOp(rows, d_in, d_out, tb=True), n) for rows, n in counts.items() for d_in, d_out in ((50, 500),
                                                                                                   (500, 784))]
    return ops + [(MatmulOp(n_images, 784, 500, tb=True), 1), (MatmulOp(n_images, 500, 100, tb=True), 1)]


@torch.no_grad()
def block_parts(model, rows_list: list[int], repeats: int) -> None:
    """Microseconds per sample-row of the parts of one decoder block (untimed set-up; each part
    repeated over about 20,000 rows per call, CPU-time medians of interleaved calls): the two
    multiplies and the tanh into preallocated outputs, the decoder as the model runs it (fresh
    tensors), the Bernoulli log-density as the family computes it without a gradient
    (x . l - sum softplus(l)) and as it did before (BCE with logits), the prior and q
    log-densities, and the whole block's log-weights, eager and compiled
    (:func:`genzoo.evaluation.importance.compiled_block_log_weights`)."""
    from limits import interleaved_medians

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(BATCH, 1, 28, 28, generator=g) < 0.2).float()
    for rows in rows_list:
        parts, n = _block_parts(model, x, max(1, rows // BATCH), g)
        med = interleaved_medians(parts, repeats, clock="cpu")
        per_row = "  ".join(f"{k} {1e6 * t / n:.2f}" for k, t in med.items())
        print(f"block of {max(1, rows // BATCH) * BATCH} rows: {per_row}  (us per sample-row)", flush=True)


def _block_parts(model, x, s: int, g):
    """(callables, rows they cover): each part of a block of s samples x the images, looped."""
    from genzoo.distributions import Bernoulli
    from genzoo.evaluation.importance import block_log_weights, compiled_block_log_weights

    b, latent = x.shape[0], 50
    first, second = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)]
    q, prior = model.posterior(x), model.prior()
    z = torch.randn(s, b, latent, generator=g)
    zf = z.view(-1, latent)
    h = torch.tanh(first(zf))
    logits = second(h).view(s, b, 1, 28, 28)
    pre, hid, out = torch.empty_like(h), torch.empty_like(h), torch.empty(s * b, 784)
    reps = max(1, 20000 // (s * b))
    compiled = compiled_block_log_weights()
    compiled(model, prior, q, z, x)  # compiled here, untimed
    parts = {
        "mm1": lambda: torch.addmm(first.bias, zf, first.weight.t(), out=pre),
        "tanh": lambda: torch.tanh(pre, out=hid),
        "mm2": lambda: torch.addmm(second.bias, h, second.weight.t(), out=out),
        "decoder": lambda: model.likelihood(z),
        "density": lambda: Bernoulli(logits, event_dims=3).log_prob(x),
        "bce": lambda: bce_density(logits, x),
        "prior+q": lambda: prior.log_prob(z) - q.log_prob(z),
        "block": lambda: block_log_weights(model, prior, q, z, x),
        "compiled": lambda: compiled(model, prior, q, z, x),
    }
    return {k: (lambda f=f: [f() for _ in range(reps)]) for k, f in parts.items()}, reps * s * b


@torch.no_grad()
def op_profile(k: int, rows: int = 14) -> None:
    """``torch.profiler`` tables (self CPU time by op) of one estimate on 100 random binary
    images, eager and with ``compile=True`` (compiled, untimed, first); the copies (``aten::copy_``)
    by shape, which shows the bias that ``addmm`` copies into its output before the multiply."""
    from torch.profiler import ProfilerActivity, profile

    model = make_model((1, 28, 28)).eval()
    x = (torch.rand(BATCH, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    for compile in (False, True):
        model.log_prob(x, k=k, generator=torch.Generator().manual_seed(0), compile=compile)  # warm / compile
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            model.log_prob(x, k=k, generator=torch.Generator().manual_seed(0), compile=compile)
        print(f"# compile={compile}: {BATCH} images x k={k}")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40))
        for e in prof.key_averages(group_by_input_shape=True):
            if e.key == "aten::copy_" and e.self_cpu_time_total > 1000:
                print(f"aten::copy_ {e.input_shapes[0]}: {e.count} calls, {e.self_cpu_time_total / 1e3:.1f} ms")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--images", type=int, default=200, help="test images (the first N)")
    p.add_argument("--k", type=int, default=5000, help="importance samples per image")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are reported")
    p.add_argument("--train-steps", type=int, default=300, help="training steps before measuring")
    p.add_argument("--clock", default="cpu", choices=("cpu", "wall"))
    p.add_argument("--no-unblocked", action="store_true", help="skip the pre-issue-15 estimator")
    p.add_argument("--no-pythae", action="store_true", help="skip pythae's get_nll")
    p.add_argument("--blocks", type=int, nargs="*", default=[],
                   help="also genzoo's estimator with these decoder block sizes (rows)")
    p.add_argument("--parts", type=int, nargs="*", default=None,
                   help="only profile the parts of one decoder block of these sizes (rows), then stop")
    p.add_argument("--profile", action="store_true",
                   help="only print torch.profiler tables of one estimate (100 images, eager and compiled), then stop")
    p.add_argument("--compiled", action="store_true",
                   help="also genzoo's estimator with compile=True (the decoder and its density compiled per "
                        "block, torch.compile); compiled before the timed rounds, the compile time reported apart")
    p.add_argument("--compiled-blocks", type=int, nargs="*", default=[],
                   help="also the compiled estimator with these decoder block sizes (rows)")
    p.add_argument("--bce", action="store_true",
                   help="also genzoo's estimator with the Bernoulli log-density as BCE with logits (before session 7)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.profile:
        op_profile(args.k)
        return 0
    if args.parts is not None:
        block_parts(make_model((1, 28, 28)).eval(), args.parts or [BLOCK_ROWS], args.repeats)
        return 0
    model, test = trained_model(args.data_dir, args.train_steps)
    x = test[: args.images].contiguous()
    values: dict[str, torch.Tensor] = {}
    block_of = {"genzoo": BLOCK_ROWS}  # decoder block rows of each path

    def path(name: str, fn, block_rows: int = BLOCK_ROWS):
        fns[name] = lambda: values.__setitem__(name, fn())
        block_of[name] = block_rows

    fns: dict[str, object] = {}
    path("genzoo", lambda: genzoo_nll(model, x, args.k))
    if not args.no_unblocked:
        path("genzoo-unblocked", lambda: unblocked_nll(model, x, args.k), 0)
    for r in args.blocks:
        path(f"genzoo-b{r}", lambda r=r: blocked_nll(model, x, args.k, r), r)
    if args.bce:
        path("genzoo-bce", lambda: blocked_nll(model, x, args.k, BLOCK_ROWS, density=bce_density))
    notes = {}
    compiled = ([("genzoo-compiled", BLOCK_ROWS)] if args.compiled else []) + \
        [(f"genzoo-compiled-b{r}", r) for r in args.compiled_blocks]
    for name, r in compiled:
        t0 = time.thread_time()
        blocked_nll(model, x, args.k, r, compile=True)  # compiles for every block shape the run meets
        notes[name] = f"compiled in {time.thread_time() - t0:.1f} s CPU (with one estimate)"
        if r == BLOCK_ROWS:  # what genzoo eval --compile runs
            path(name, lambda: genzoo_nll(model, x, args.k, compile=True))
        else:
            path(name, lambda r=r: blocked_nll(model, x, args.k, r, compile=True), r)
    try:
        if args.no_pythae:
            raise RuntimeError("skipped (--no-pythae)")
        pmodel = pythae_model(model).eval()
        torch.manual_seed(0)

        def pythae():
            with torch.no_grad():
                values["pythae"] = torch.tensor(-pmodel.get_nll(x, n_samples=args.k, batch_size=100))
        fns["pythae"] = pythae
    except Exception as e:  # pythae missing, or not importable under this torch
        notes["pythae"] = f"not run: {type(e).__name__}: {e}"
    ceilings = {}  # name -> the multiplies at the block shapes of block_rows
    for r in sorted({r for r in block_of.values() if r}, key=lambda r: r != BLOCK_ROWS):
        ops = [(*op.operands(), n) for op, n in ceiling_ops(len(x), args.k, r)]

        def ceiling(ops=ops):
            for a, b, out, n in ops:
                for _ in range(n):
                    torch.mm(a, b, out=out)
        ceilings["ceiling" if r == BLOCK_ROWS else f"ceiling-b{r}"] = (ceiling, r)
    fns = {**{k: f for k, (f, _) in ceilings.items()}, **fns}
    faults: dict[str, list[int]] = {k: [] for k in fns}  # minor page faults per call

    def counted(name, fn):
        def run():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            fn()
            faults[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        return run
    fns = {k: counted(k, f) for k, f in fns.items()}
    with threads(1):
        t0 = time.perf_counter()
        times = interleaved_times(fns, args.repeats, warmup=0, clock=args.clock)
        wall = time.perf_counter() - t0
    med = {k: statistics.median(v) for k, v in times.items()}
    best = min(med[c] for c in ceilings)
    gflops = {c: sum(op.flops * n for op, n in ceiling_ops(len(x), args.k, r)) / med[c] / 1e9
              for c, (_, r) in ceilings.items()}
    rows = {k: {"seconds": round(t, 2), "all_seconds": [round(v, 2) for v in times[k]],
                "of_ceiling": round(med["ceiling"] / t, 3), "times_ceiling": round(t / med["ceiling"], 2),
                "times_best_ceiling": round(t / best, 2), "genzoo_speedup": round(t / med["genzoo"], 2),
                "minor_page_faults": int(statistics.median(faults[k]))} for k, t in med.items()}
    for c, gf in gflops.items():
        rows[c]["gflops"] = round(gf, 1)
    for k, r in block_of.items():
        if k in rows and k != "genzoo-unblocked":
            rows[k]["block_rows"] = r
    for k, v in values.items():
        if v.dim():  # per image
            rows[k]["mean_nll"] = round(float(v.mean()), 3)
            rows[k]["stderr_over_images"] = round(float(v.std() / math.sqrt(len(v))), 3)
        else:
            rows[k]["mean_nll"] = round(float(v), 3)
    for k in values:  # the same draws as genzoo's: equal up to float rounding
        if k.startswith("genzoo-"):
            rows[k]["max_abs_diff_to_genzoo"] = float((values["genzoo"] - values[k]).abs().max())
    res = {"benchmark": "is-nll", "images": len(x), "k": args.k, "batch": BATCH, "block_rows": BLOCK_ROWS,
           "repeats": args.repeats, "clock": args.clock, "train_steps": args.train_steps, "machine": machine(),
           "ceiling_gflops": round(gflops["ceiling"], 2), "rows": rows, "notes": notes,
           "wall_seconds": round(wall, 1), "command": "python " + " ".join(sys.argv)}
    print(f"# {res['machine']}")
    print(f"# IS-NLL, k={args.k}, {len(x)} binarized-MNIST test images, 1 thread, medians of {args.repeats} "
          f"interleaved rounds, clock {args.clock}; ceiling {res['ceiling_gflops']} GFLOP/s")
    print(f"{'path':<24}{'seconds':>9}{'x ceiling':>11}{'x best':>9}{'genzoo is':>11}{'mean NLL':>10}"
          f"{'max diff':>10}{'page faults':>13}")
    for k, r in rows.items():
        nll = f"{r['mean_nll']:.2f}" if "mean_nll" in r else ""
        diff = f"{r['max_abs_diff_to_genzoo']:.1e}" if "max_abs_diff_to_genzoo" in r else ""
        print(f"{k:<24}{r['seconds']:>9.2f}{r['times_ceiling']:>10.2f}x{r['times_best_ceiling']:>8.2f}x"
              f"{r['genzoo_speedup']:>10.2f}x{nll:>10}{diff:>10}{r['minor_page_faults']:>13}")
    for k, v in notes.items():
        print(f"# {k}: {v}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
