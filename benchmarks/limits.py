"""This machine's own ceilings, for judging a hot path against what the hardware can do.

* matrix multiplies at the shapes genzoo's models use (GFLOP/s, one thread and all threads): a
  training step of an MLP is its linear layers' multiplies (forward ``x @ W^T``, backward
  ``gy @ W`` and ``gy^T @ x``), so the time of those multiplies alone is the fastest the step can
  be; :func:`linear_step_ceiling` measures it;
* memory bandwidth (GB/s) of a large copy and a large add, the ceiling of element-wise work.

The functions are meant to be imported by other benchmarks (``from limits import ...`` with
``benchmarks/`` on the path): :func:`interleaved_medians` times several callables in interleaved
rounds (so slow drifts of a shared machine's load hit them all alike) and returns the median of
each; :func:`matmul_ceiling` and :func:`linear_step_ceiling` return GFLOP/s; a hot path's
fraction of its ceiling is ``flops / seconds / 1e9 / ceiling``.

    OMP_NUM_THREADS=1 python benchmarks/limits.py            # one thread
    python benchmarks/limits.py --threads 1 2 --repeats 5    # one and two threads
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

#: the VAE of the issue: 784-500-50 tanh MLPs; the encoder's last layer gives (mu, logvar)
VAE_LAYERS: tuple[tuple[int, int], ...] = ((784, 500), (500, 100), (50, 500), (500, 784))


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (None: leave it), restoring it after."""
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


#: the clocks a measurement may use: wall time, or the CPU time of the calling thread. At one thread
#: (torch then computes on the calling thread) the CPU clock leaves out the time the scheduler gave
#: to other processes, which on a shared, loaded machine is most of the noise of the wall clock.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


class Stopwatch:
    """Seconds since creation (``elapsed()``), and ``log(msg)``: the message printed behind them, for
    a benchmark's progress lines."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def log(self, msg: str) -> None:
        print(f"[{self.elapsed():7.1f}s] {msg}", flush=True)


def interleaved_times(fns: Mapping[str, Callable[..., object]], repeats: int = 5, warmup: int = 1,
                      clock: str = "wall", setup: Mapping[str, Callable[[], object]] | None = None
                      ) -> dict[str, list[float]]:
    """Seconds of each call of each callable: ``warmup`` untimed calls each, then ``repeats``
    rounds in which every callable runs once, the order rotated from round to round. ``clock``:
    a key of :data:`CLOCKS`. ``setup``: for some names, an untimed callable run before each call,
    whose result is passed to the timed one (``fns[name](setup[name]())``)."""
    now = CLOCKS[clock]
    setup = setup or {}
    names = list(fns)

    def call(name: str) -> float:
        args = (setup[name](),) if name in setup else ()
        t0 = now()
        fns[name](*args)
        return now() - t0

    for _ in range(warmup):
        for name in names:
            call(name)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(call(name))
    return times


def interleaved_medians(fns: Mapping[str, Callable[..., object]], repeats: int = 5, warmup: int = 1,
                        clock: str = "wall", setup: Mapping[str, Callable[[], object]] | None = None
                        ) -> dict[str, float]:
    """Median seconds per call of each callable, timed in interleaved rounds
    (:func:`interleaved_times`)."""
    return {k: statistics.median(v) for k, v in interleaved_times(fns, repeats, warmup, clock, setup).items()}


def _calls_for(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds`` (at least 1)."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(seconds / one))


def _looped(fn: Callable[[], object], n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            fn()
    return run


@dataclass(frozen=True)
class MatmulOp:
    """One multiply ``A @ B`` with A (m, k) and B (k, n); ``ta``/``tb``: the operand is stored
    transposed (as autograd's ``gy^T @ x`` and ``x @ W^T`` are)."""
    m: int
    k: int
    n: int
    ta: bool = False
    tb: bool = False
    label: str = ""

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n

    def operands(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        a = torch.randn(*((self.k, self.m) if self.ta else (self.m, self.k)), generator=g, dtype=dtype)
        b = torch.randn(*((self.n, self.k) if self.tb else (self.k, self.n)), generator=g, dtype=dtype)
        return (a.t() if self.ta else a), (b.t() if self.tb else b), torch.empty(self.m, self.n, dtype=dtype)


def linear_step_ops(layers: Sequence[tuple[int, int]], batch: int, input_grad: bool = False) -> list[MatmulOp]:
    """The multiplies of one training step of ``nn.Linear`` layers (in, out) at batch ``batch``:
    forward ``x @ W^T`` (B, in) x (in, out); backward ``gy @ W`` (grad of the input) and
    ``gy^T @ x`` (grad of the weight). The first layer's input needs no gradient (autograd skips
    it) unless ``input_grad``."""
    ops = []
    for i, (d_in, d_out) in enumerate(layers):
        ops.append(MatmulOp(batch, d_in, d_out, tb=True, label=f"fwd {d_in}->{d_out}"))
        if i > 0 or input_grad:
            ops.append(MatmulOp(batch, d_out, d_in, label=f"dx  {d_in}->{d_out}"))
        ops.append(MatmulOp(d_out, batch, d_in, ta=True, label=f"dW  {d_in}->{d_out}"))
    return ops


def linear_step_flops(layers: Sequence[tuple[int, int]], batch: int, input_grad: bool = False) -> int:
    """FLOPs of the multiplies of one training step (:func:`linear_step_ops`): 2*B*in*out per
    layer forward, twice that backward, less the first layer's input gradient unless ``input_grad``."""
    return sum(op.flops for op in linear_step_ops(layers, batch, input_grad))


@dataclass(frozen=True)
class Ceiling:
    """GFLOP/s of a set of multiplies: ``gflops`` = their total FLOPs over the sum of their median
    times (what a step made only of them would reach), ``per_op`` = each one's own GFLOP/s."""
    gflops: float
    seconds: float  # sum of the median times of one call of each op
    flops: int
    per_op: dict[str, float]
    threads: int


def matmul_ceiling(ops: Sequence[MatmulOp | tuple[int, int, int]], threads_: int | None = 1, repeats: int = 5,
                   seconds: float = 0.02, dtype: torch.dtype = torch.float32, clock: str | None = None) -> Ceiling:
    """Measure ``torch.mm`` (into a preallocated output) at each shape, ``threads_`` threads (None:
    the current setting), medians of ``repeats`` interleaved rounds of about ``seconds`` each.
    ``clock`` (:data:`CLOCKS`): default ``cpu`` at one thread, ``wall`` otherwise."""
    ops = [op if isinstance(op, MatmulOp) else MatmulOp(*op) for op in ops]
    with threads(threads_):
        fns, calls = {}, {}
        for i, op in enumerate(ops):
            a, b, out = op.operands(dtype)
            name = f"{i}:{op.label or f'{op.m}x{op.k}x{op.n}'}"

            def mm(a=a, b=b, out=out):
                torch.mm(a, b, out=out)
            calls[name] = _calls_for(mm, seconds)
            fns[name] = _looped(mm, calls[name])
        n = torch.get_num_threads()
        med = interleaved_medians(fns, repeats, clock=clock or ("cpu" if n == 1 else "wall"))
    per_call = {name: med[name] / calls[name] for name in fns}
    total = sum(per_call.values())
    flops = sum(op.flops for op in ops)
    per_op = {name: op.flops / per_call[name] / 1e9 for name, op in zip(fns, ops)}
    return Ceiling(flops / total / 1e9, total, flops, per_op, n)


def linear_step_ceiling(layers: Sequence[tuple[int, int]] = VAE_LAYERS, batch: int = 100, threads_: int | None = 1,
                        repeats: int = 5, input_grad: bool = False, clock: str | None = None) -> Ceiling:
    """The multiply ceiling of one training step of these linear layers (:func:`linear_step_ops`)."""
    return matmul_ceiling(linear_step_ops(layers, batch, input_grad), threads_, repeats, clock=clock)


def memory_bandwidth(mbytes: int = 256, threads_: int | None = 1, repeats: int = 5,
                     clock: str | None = None) -> dict[str, float]:
    """GB/s of ``dst.copy_(src)`` (bytes read + written) and ``torch.add(a, b, out=c)`` on float32
    tensors of ``mbytes`` MB each, far larger than any cache. ``clock`` as in :func:`matmul_ceiling`."""
    n = mbytes * (1 << 20) // 4
    a, b, c = torch.ones(n), torch.ones(n), torch.empty(n)
    with threads(threads_):
        clock = clock or ("cpu" if torch.get_num_threads() == 1 else "wall")
        med = interleaved_medians({"copy": lambda: c.copy_(a), "add": lambda: torch.add(a, b, out=c)}, repeats,
                                  clock=clock)
    return {"copy": 2 * 4 * n / med["copy"] / 1e9, "add": 3 * 4 * n / med["add"] / 1e9}


def machine() -> str:
    """One line naming the machine: CPU model, cores, torch version, load average."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    load = ", load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}{load}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="thread counts to measure (default: 1 and all cores)")
    p.add_argument("--batch", type=int, default=100, help="batch size of the layer shapes")
    p.add_argument("--repeats", type=int, default=5, help="interleaved rounds; medians are reported")
    p.add_argument("--mbytes", type=int, default=256, help="size of each tensor of the bandwidth test")
    p.add_argument("--clock", choices=tuple(CLOCKS), default=None,
                   help="timing clock (default: the thread's CPU time at one thread, wall time otherwise)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    counts = args.threads or sorted({1, os.cpu_count() or 1})
    ops = linear_step_ops(VAE_LAYERS, args.batch)
    res: dict = {"machine": machine(), "batch": args.batch, "repeats": args.repeats, "threads": {}}
    for n in counts:
        c = matmul_ceiling(ops, n, args.repeats, clock=args.clock)
        bw = memory_bandwidth(args.mbytes, n, args.repeats, clock=args.clock)
        res["threads"][n] = {"step_gflops": c.gflops, "step_matmul_seconds": c.seconds,
                             "step_flops": c.flops, "per_op_gflops": c.per_op, "bandwidth_gbs": bw}
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"# {res['machine']}")
    print(f"# VAE 784-500-50 training-step multiplies at batch {args.batch}, medians of {args.repeats} "
          f"interleaved rounds, clock: {args.clock or 'cpu at 1 thread, wall otherwise'}")
    head = "".join(f"{f'{n} thread(s)':>14}" for n in counts)
    print(f"{'multiply (GFLOP/s)':<28}{head}")
    for name in res["threads"][counts[0]]["per_op_gflops"]:
        print(f"{name.split(':', 1)[1]:<28}" + "".join(f"{res['threads'][n]['per_op_gflops'][name]:>14.1f}"
                                                   for n in counts))
    print(f"{'step ceiling (GFLOP/s)':<28}" + "".join(f"{res['threads'][n]['step_gflops']:>14.1f}" for n in counts))
    flops = res["threads"][counts[0]]["step_flops"]
    print(f"{'step ceiling (img/s)':<28}" + "".join(
        f"{args.batch / res['threads'][n]['step_matmul_seconds']:>14.0f}" for n in counts)
        + f"   ({flops / args.batch / 1e6:.2f} MFLOP per image per step)")
    for kind in ("copy", "add"):
        print(f"{f'bandwidth {kind} (GB/s)':<28}" + "".join(
            f"{res['threads'][n]['bandwidth_gbs'][kind]:>14.1f}" for n in counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
