"""CPU hot paths of the autoregressive models (issue 15), timed in interleaved rounds at one thread
(medians of the timing thread's CPU time, ``limits.interleaved_medians(..., clock="cpu")``).

* ``nade``: one NADE training step (H=500, 784 binary pixels, sigmoid units; forward, mean
  Bernoulli NLL, backward) at several batch sizes, three ways: genzoo's tiled pass
  (:func:`genzoo.models.autoregressive.nade.nade_logits`), the previous genzoo pass (blocks of 16
  pixels by autograd, written out below) and a per-pixel loop (pytorch-generative's formulation,
  written here: a running pre-activation a += W[:, i] x_i and one output dot product per pixel).
  The ceiling: NADE's multiply-adds, 5 B D H per step (forward: the running sum and the output dot
  products; backward: dV, dh, dW), i.e. 10 B D H FLOPs, at this machine's matmul rate for a
  784 -> 500 linear layer at the same batch (``limits.matmul_ceiling``). Beside it, the sigmoid
  floor: one sigmoid of each of the step's B x D x H hidden activations and nothing else
  (:func:`sigmoid_floor`), the element-wise work any exact NADE step must do at least.
* ``sample``: naive (the whole network for every sub-pixel) against fast (incremental) sampling of
  every autoregressive model at 1x28x28 with the default, paper-sized configs, untrained weights.
  The naive sampler of the convolutional and deep models takes minutes at 28x28, so by default it
  is timed as D times one full forward pass of the batch (``--naive-full`` runs it whole; the
  forward pass is the naive sampler's per-pixel cost, less the draw, so the ratio is a slight
  underestimate). Order-agnostic NADE's forward is D masked passes of its MLP (one per
  conditional), so it also gets a row against D x one masked pass; the mixture of Bernoullis has
  no pixel-by-pixel sampler and is timed alone.
* ``categorical``: the 256-way output of a colour PixelCNN at 3x32x32, batch 16: the log-prob's
  cross-entropy on the (B, 256, C, H, W) logits, forward and backward, against an explicit
  log_softmax + one-hot (the reference it must equal).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/perf_ar.py nade --batch 100 512
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/perf_ar.py sample --n 16
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/perf_ar.py categorical
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from limits import MatmulOp, interleaved_medians, machine, matmul_ceiling  # noqa: E402

from genzoo.models.autoregressive.nade import nade_logits  # noqa: E402
from genzoo.registry import get_model  # noqa: E402

SAMPLERS = ("independent", "mob", "fvsbn", "nade", "nade-oa", "made", "pixelcnn", "pixelcnn-gated", "pixelrnn-row",
            "pixelrnn-diag")


# ---- NADE training step ---------------------------------------------------------------------------
def blocked16_logits(v, W, c, V, block: int = 16):
    """The previous genzoo pass: blocks of 16 pixels, masked matmul inside, running sum across,
    all by autograd (keeps every (B, 16, H) activation for the backward pass). (B, D)."""
    wt, carry, outs = W.t(), c.expand(v.shape[0], -1), []
    for s in range(0, v.shape[1], block):
        xs, ws = v[:, s:s + block], wt[s:s + block]
        n = xs.shape[1]
        below = torch.ones(n, n, dtype=v.dtype).tril(-1)
        h = torch.sigmoid(carry.unsqueeze(1) + (xs.unsqueeze(1) * below) @ ws)  # (B, n, H)
        carry = carry + xs @ ws
        outs.append(torch.einsum("bdh,dh->bd", h, V[s:s + n]))
    return torch.cat(outs, 1)


def per_pixel_logits(v, W, c, V):
    """A per-pixel loop: a_0 = c, logit_i = V_i . sigmoid(a_i), a_{i+1} = a_i + x_i W[:, i]. (B, D)."""
    a, outs = c.expand(v.shape[0], -1), []
    for i in range(v.shape[1]):
        outs.append(torch.sigmoid(a) @ V[i : i + 1].t())  # (B, 1)
        a = a + v[:, i : i + 1] * W[:, i]
    return torch.cat(outs, 1)


def nade_step(path: str, v, params) -> None:
    W, c, V, b = params
    for p in params:
        p.grad = None
    if path == "genzoo":
        logits = nade_logits(v, W, c, V.unsqueeze(1))[..., 0]
    elif path == "blocked-16":
        logits = blocked16_logits(v, W, c, V)
    else:
        logits = per_pixel_logits(v, W, c, V)
    F.binary_cross_entropy_with_logits(logits + b, v, reduction="none").sum(1).mean().backward()


def sigmoid_floor(batch: int, d: int, hid: int):
    """The element-wise work no exact NADE step can skip: one sigmoid of each of its B x D x H
    hidden pre-activations (the forward alone; the backward needs their derivatives too), over
    tiles of 8 pixels x up to 125 examples that stay in the cache, into a reused buffer."""
    rows = min(batch, 125)
    src, out = torch.randn(rows, 8, hid), torch.empty(rows, 8, hid)
    tiles = -(-batch * d // (rows * 8))

    def run():
        for _ in range(tiles):
            torch.sigmoid(src, out=out)
    return run


def run_nade(args) -> None:
    d, hid = 784, args.hidden
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(hid, d, generator=g) * 0.01, torch.zeros(hid), torch.randn(d, hid, generator=g) * 0.01,
              torch.zeros(d)]
    params = [p.requires_grad_() for p in params]
    print(f"# {machine()}; {torch.get_num_threads()} thread(s)")
    print(f"# NADE train step, H={hid}, D={d}; medians of {args.repeats} interleaved rounds")
    print(f"{'batch':>6} {'path':<11} {'seconds':>9} {'vs per-pixel':>13} {'GFLOP/s':>9} {'of ceiling':>11}")
    for batch in args.batch:
        v = (torch.rand(batch, d, generator=g) < 0.3).float()
        paths = {p: (lambda p=p, v=v: nade_step(p, v, params)) for p in args.paths}
        paths["sigmoid floor"] = sigmoid_floor(batch, d, hid)
        med = interleaved_medians(paths, args.repeats, clock="cpu")
        flops = 10 * batch * d * hid
        ceil = matmul_ceiling([MatmulOp(batch, d, hid, label="x W^T"), MatmulOp(batch, hid, d, label="g W"),
                               MatmulOp(hid, batch, d, ta=True, label="g^T x")], repeats=args.repeats)
        for p in args.paths:
            rate = flops / med[p] / 1e9
            print(f"{batch:>6} {p:<11} {med[p]:>9.4f} {med['per-pixel'] / med[p] if 'per-pixel' in med else 0:>12.2f}x "
                  f"{rate:>9.1f} {rate / ceil.gflops:>10.1%}")
        print(f"{batch:>6} {'ceiling':<11} {flops / ceil.gflops / 1e9:>9.4f}   (matmul {ceil.gflops:.1f} GFLOP/s, "
              f"{flops / 1e9:.2f} GFLOP per step)")
        floor = med["sigmoid floor"]
        print(f"{batch:>6} {'sigmoid floor':<11} {floor:>7.4f}   (one sigmoid per hidden activation, B D H = "
              f"{batch * d * hid / 1e6:.0f}M: {floor / (flops / ceil.gflops / 1e9):.1f}x the ceiling's time)")


# ---- sampling -------------------------------------------------------------------------------------
#: models whose naive sampler is timed whole by default (it takes seconds, not minutes, at 28x28)
NAIVE_WHOLE = ("independent", "fvsbn", "nade", "made")


def _sizes(config) -> str:
    """The architecture fields of a config (those beyond the shared autoregressive ones)."""
    from dataclasses import fields

    from genzoo.models.autoregressive._common import AutoregressiveConfig

    shared = {f.name for f in fields(AutoregressiveConfig)}
    return ", ".join(f"{f.name}={getattr(config, f.name)}" for f in fields(config) if f.name not in shared)


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run_sample(args) -> None:
    print(f"# {machine()} (at the start); {torch.get_num_threads()} thread(s)")
    print(f"# sampling {args.n} images of 1x{args.size}x{args.size} (binary), default configs, untrained; "
          f"medians of {args.repeats} interleaved rounds after one warm-up, CPU time of this thread")
    print(f"{'model':<15} {'naive s':>9} {'fast s':>9} {'speed-up':>9}  naive timed as")
    d = args.size * args.size
    sizes = []
    for name in args.models:
        entry = get_model(name)
        torch.manual_seed(args.seed)
        model = entry.model_cls(entry.default_config(shape=(1, args.size, args.size))).eval()
        sizes.append(f"#   {name}: {_sizes(model.config)}")
        x = torch.zeros(args.n, 1, args.size, args.size)

        def fast(model=model):
            return model.sample(args.n, generator=torch.Generator().manual_seed(args.seed), fast=True)

        if name == "mob":  # no pixel-by-pixel sampler: a component, then every pixel at once
            med = interleaved_medians({"fast": fast}, args.repeats, clock="cpu")
            print(f"{name:<15} {'-':>9} {med['fast']:>9.4f} {'-':>9}  (no naive/fast pair: draws all pixels at once)")
            continue
        fns = {"fast": fast}
        if args.naive_full or name in NAIVE_WHOLE:
            how, scale = "the whole naive sampler", 1

            def naive(model=model):
                return model.sample(args.n, generator=torch.Generator().manual_seed(args.seed), fast=False)
        else:
            how, scale = f"{d} x one forward pass", d

            def naive(model=model, x=x):
                with torch.no_grad():
                    return model(x)
        fns["naive"] = naive
        if name == "nade-oa":  # its forward is D masked passes; also: one masked pass of the MLP per pixel
            v, mask = x.flatten(1), torch.zeros(args.n, d)
            mask[:, : d // 2] = 1

            def one_pass(model=model, v=v, mask=mask):
                with torch.no_grad():
                    return model.masked_logits(v, mask)
            fns["one-pass"] = one_pass
        med = interleaved_medians(fns, args.repeats, clock="cpu")
        t_naive = med["naive"] * scale
        print(f"{name:<15} {t_naive:>9.3f} {med['fast']:>9.3f} {t_naive / med['fast']:>8.1f}x  {how}", flush=True)
        if "one-pass" in med:
            t_one = med["one-pass"] * d
            print(f"{name + ' (1 pass)':<15} {t_one:>9.3f} {med['fast']:>9.3f} {t_one / med['fast']:>8.1f}x  "
                  f"{d} x one masked pass of the MLP (all outputs, half the pixels observed)", flush=True)
    print("# configs:")
    print("\n".join(sizes))
    print(f"# load average {_loadavg()} at the end")


# ---- categorical output ---------------------------------------------------------------------------
def run_categorical(args) -> None:
    """The 256-way output: log-probs of the targets from the head's (B, 256, C, H, W) view, forward
    and backward, three ways (the model's path is ``cross-entropy``)."""
    torch.manual_seed(0)
    b, levels, (ch, hh, ww) = args.batch_cat, 256, (3, 32, 32)
    raw = torch.randn(b, ch * levels, hh, ww, requires_grad=True)  # a 1x1 conv's output, channel-major
    target = torch.randint(0, levels, (b, ch, hh, ww))

    def view():  # what MaskedHead returns: (B, 256, C, H, W), a transposed view
        return raw.view(b, ch, levels, hh, ww).transpose(1, 2)

    def cross_entropy():
        raw.grad = None
        (-F.cross_entropy(view(), target, reduction="none")).sum().backward()

    def last_dim():
        raw.grad = None
        lp = torch.log_softmax(raw.view(b, ch, levels, hh, ww).permute(0, 1, 3, 4, 2), -1)  # (B, C, H, W, 256)
        lp.gather(-1, target.unsqueeze(-1)).sum().backward()

    raw_last = raw.detach().permute(0, 2, 3, 1).contiguous().requires_grad_()  # (B, H, W, C * 256)

    def last_dim_p_last():  # the head writing the 256 outputs of a sub-pixel contiguously
        raw_last.grad = None
        lp = torch.log_softmax(raw_last.view(b, hh, ww, ch, levels), -1)
        lp.gather(-1, target.permute(0, 2, 3, 1).unsqueeze(-1)).sum().backward()

    def one_hot():
        raw.grad = None
        (torch.log_softmax(view(), 1) * F.one_hot(target, levels).movedim(-1, 1)).sum().backward()

    fns = {"cross-entropy": cross_entropy, "last-dim": last_dim, "P-last": last_dim_p_last, "one-hot": one_hot}
    med = interleaved_medians(fns, args.repeats, clock="cpu")
    print(f"# {machine()}; {torch.get_num_threads()} thread(s)")
    print(f"# 256-way log-prob + backward, logits (B={b}, 256, 3, 32, 32); medians of {args.repeats} rounds")
    for k, t in med.items():
        print(f"{k:<14} {t:>9.4f} s  {med['one-hot'] / t:>6.2f}x the one-hot reference")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    n = sub.add_parser("nade")
    n.add_argument("--batch", type=int, nargs="+", default=[100, 512])
    n.add_argument("--hidden", type=int, default=500)
    n.add_argument("--paths", nargs="+", default=["genzoo", "blocked-16", "per-pixel"],
                   choices=["genzoo", "blocked-16", "per-pixel"])
    s = sub.add_parser("sample")
    s.add_argument("--models", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    s.add_argument("--size", type=int, default=28)
    s.add_argument("--n", type=int, default=16)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--naive-full", action="store_true", help="run every naive sampler whole (slow)")
    c = sub.add_parser("categorical")
    c.add_argument("--batch-cat", type=int, default=16)
    for q in (n, s, c):
        q.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    {"nade": run_nade, "sample": run_sample, "categorical": run_categorical}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
