"""The one trainer for every genzoo model.

It knows nothing of VAEs or GANs: an objective says which players there are, which parameters
each updates and what each one's loss is, and the trainer steps them in order on every batch.
Data live on the training device as tensors; a batch is an index slice of a permutation, so the
hot loop runs no per-sample Python. Under ``torchrun`` the same code trains with DDP.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from genzoo.config import field
from genzoo.nn.random import seeded_generator
from genzoo.objectives.base import Objective
from genzoo.training import checkpoint as ckpt
from genzoo.training import distributed as dist_util


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = field(10, help="passes over the training set")
    batch_size: int = field(100, help="examples per step (per process under torchrun)")
    optimizer: str = field("adam", help="optimizer; rmsprop uses Keras's defaults (rho 0.9, eps 1e-7)",
                           choices=("adam", "adamw", "adagrad", "sgd", "rmsprop"))
    lr: float = field(1e-3, help="learning rate")
    generator_lr: float | None = field(None, help="adversarial models: learning rate of the generator "
                                       "player (default: --lr; InfoGAN's paper uses 1e-3 with 2e-4 for D)")
    betas: tuple[float, ...] = field((0.9, 0.999), help="Adam/AdamW betas")
    weight_decay: float = field(0.0, help="weight decay")
    schedule: str = field("constant", help="learning-rate schedule, set each epoch. cosine decays to 0 at the "
                          "last epoch; when --resume changes --epochs, the rest of the decay is re-planned from "
                          "the current lr to 0 at the new last epoch (the lr never rises again)",
                          choices=("constant", "cosine", "step", "exponential"))
    lr_step: int = field(10, help="epochs between decays for --schedule step")
    lr_gamma: float = field(0.5, help="decay factor for step/exponential schedules")
    grad_clip: float | None = field(None, help="clip the gradient norm of each player to this value")
    amp: str = field("none", help="mixed precision autocast (fp16 with a gradient scaler, on CUDA or on a CPU "
                     "whose torch supports it)", choices=("none", "bf16", "fp16"))
    seed: int = field(0, help="seed for shuffling, noise and initialisation")
    patience: int | None = field(None, help="early stopping: epochs without validation improvement")
    validate: bool = field(True, help="evaluate on the validation split every epoch")
    eval_batch_size: int = field(500, help="batch size for validation")
    device: str = field("auto", help="cpu, cuda, cuda:1, or auto")
    compile: bool = field(False, help="torch.compile the training step (default mode: fused kernels, no CUDA "
                                       "graphs); random draws then use the seeded default generator")
    sample_every: int = field(1, help="write samples.png every N epochs (0: never)")
    sample_history: bool = field(False, help="also keep samples/epoch_NNN.png for every epoch")
    max_steps: int | None = field(None, help="stop after this many steps in total (quick runs)")
    progress: bool = field(True, help="show a progress bar")
    tensorboard: bool = field(False, help="also log to TensorBoard (needs the tensorboard extra)")

    def __post_init__(self) -> None:
        def bad(option: str, need: str) -> ValueError:
            return ValueError(f"--{option.replace('_', '-')}: {need}, got {getattr(self, option)!r}")

        for option in ("epochs", "batch_size", "eval_batch_size", "lr_step"):
            if not isinstance(getattr(self, option), int) or getattr(self, option) < 1:
                raise bad(option, "must be a positive integer")
        for option in ("max_steps", "patience"):
            if getattr(self, option) is not None and getattr(self, option) < 1:
                raise bad(option, "must be a positive integer (or none)")
        if self.sample_every < 0:
            raise bad("sample_every", "must be >= 0 (0: never)")
        for option in ("lr", "weight_decay"):
            if not getattr(self, option) >= 0:  # also refuses NaN
                raise bad(option, "must be >= 0")
        if self.generator_lr is not None and not self.generator_lr >= 0:
            raise bad("generator_lr", "must be >= 0")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise bad("grad_clip", "must be > 0 (or none)")
        if not 0 < self.lr_gamma <= 1:
            raise bad("lr_gamma", "must be in (0, 1]")


#: the training options that ``--resume`` may change: they decide how long to train, where, and
#: what is shown or written, never what the same number of steps computes.
RESUMABLE_OPTIONS = ("epochs", "device", "progress", "tensorboard", "sample_every", "sample_history",
                     "eval_batch_size", "max_steps")

#: refuse, unless forced, a model larger than this on the CPU, or a checkpoint larger than this
MAX_CPU_PARAMETERS = 50_000_000
MAX_CHECKPOINT_BYTES = 1 << 30

#: steps between two checks for a non-finite loss (and additions to the epoch's running means): also
#: at the end of each epoch and before a ``max_steps`` stop, so no file is written after a NaN.
CHECK_EVERY = 25

# Optimizer state per parameter, in parameter-sized tensors, for the checkpoint size estimate.
_STATE_PER_PARAM = {"adam": 2, "adamw": 2, "adagrad": 1, "sgd": 1, "rmsprop": 1}
# Model-config fields that set a model's size: named in the message that stops an absurd run.
_SIZE_WORDS = ("hidden", "features", "channels", "dense", "units", "layers", "blocks", "dim", "filters")


def lr_factor(config: TrainConfig, done: int, plan: tuple[int, float, int] | None = None) -> float:
    """Multiplier of the base learning rate for the epoch after ``done`` completed epochs.

    step: ``lr_gamma ** (done // lr_step)``; exponential: ``lr_gamma ** done``; cosine (Loshchilov &
    Hutter 2017, SGDR eq. 5 without restarts): with ``plan = (t0, f0, T)``, ``f0 * (1 + cos(pi *
    (done - t0) / (T - t0))) / 2``, which is 1 at the start and 0 at epoch T of an un-extended run
    (plan ``(0, 1, epochs)``); an extended run re-plans from its current factor ``f0`` at epoch ``t0``,
    so the factor never increases."""
    if config.schedule == "step":
        return config.lr_gamma ** (done // config.lr_step)
    if config.schedule == "exponential":
        return config.lr_gamma ** done
    if config.schedule == "cosine":
        t0, f0, horizon = plan if plan is not None else (0, 1.0, config.epochs)
        if horizon <= t0:
            return 0.0
        u = min(max(done - t0, 0) / (horizon - t0), 1.0)
        return f0 * 0.5 * (1.0 + math.cos(math.pi * u))
    return 1.0


class NonFiniteLossError(RuntimeError):
    pass


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class _ObjectiveModule(nn.Module):
    """Model + objective as one module, so DDP sees every forward through ``forward``."""

    def __init__(self, model: nn.Module, objective: Objective):
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, batch, player: str, generator):
        return self.objective(self.model, batch, player=player, generator=generator)


#: optimizers with a fused implementation (one kernel per parameter for the whole update, on the CPU
#: and CUDA); the others get the multi-tensor (foreach) one. Both compute the same update as the
#: per-parameter loop up to float rounding (tests/training/test_fast_step.py).
_FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad, torch.optim.SGD)


def _fast_optimizer(cls, params: list, **kw) -> torch.optim.Optimizer:
    """``cls(params, **kw)`` with its fastest update: fused where ``cls`` has one and every parameter
    is a dense floating-point tensor on the CPU or CUDA, else foreach, else torch's default. On
    the CPU torch defaults to the per-parameter loop, whose many small element-wise kernels cost
    Adam about 3.5x the fused update (BENCHMARKS.md, CPU performance)."""
    plain = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point and not p.is_sparse
                for p in params)
    options = ([{"fused": True}] if plain and cls in _FUSED else []) + ([{"foreach": True}] if plain else [])
    for extra in options:
        try:
            return cls(params, **kw, **extra)
        except (RuntimeError, ValueError, TypeError):  # this torch or this dtype has no such path
            continue
    return cls(params, **kw)


def _seed_for(seed: int, epoch: int, rank: int = 0, stream: int = 0) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + rank * 104_729 + stream * 15_485_863) % (2**63 - 1)


class Trainer:
    """Train ``model`` with ``objective`` on ``data`` (a :class:`genzoo.data.ImageDataset`).

    ``out_dir`` receives model.safetensors (best validation weights), checkpoint.pt (everything
    needed to resume), metrics.csv and samples.png. Only rank 0 writes.
    """

    def __init__(self, model: nn.Module, objective: Objective, data, config: TrainConfig | None = None,
                 out_dir: str | Path | None = None, batch_transform: Callable | None = None,
                 log: Callable[[str], None] | None = None, force: bool = False,
                 allow_world_size_change: bool = False):
        self.config = config or TrainConfig()
        self.force = force
        self.allow_world_size_change = allow_world_size_change
        self.dist, self.device = dist_util.setup(self.config.device)
        self.model = model
        self.objective = objective
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.batch_transform = batch_transform
        self._log = log or (lambda msg: print(msg, file=sys.stderr))
        self.data = data
        self.history: list[dict] = []
        torch.manual_seed(self.config.seed)

    # ------------------------------------------------------------------ set-up
    def log(self, msg: str) -> None:
        if self.dist.is_main:
            self._log(msg)

    def _make_optimizer(self, params, player: str | None = None):
        c = self.config
        params = [p for p in params if p.requires_grad]
        if not params:
            raise ValueError("an objective player has no trainable parameters")
        lr = c.generator_lr if player == "generator" and c.generator_lr is not None else c.lr
        if c.optimizer == "adam":
            return _fast_optimizer(torch.optim.Adam, params, lr=lr, betas=tuple(c.betas), weight_decay=c.weight_decay)
        if c.optimizer == "adamw":
            return _fast_optimizer(torch.optim.AdamW, params, lr=lr, betas=tuple(c.betas),
                                   weight_decay=c.weight_decay)
        if c.optimizer == "adagrad":
            return _fast_optimizer(torch.optim.Adagrad, params, lr=lr, weight_decay=c.weight_decay)
        if c.optimizer == "rmsprop":  # Keras's RMSprop: rho 0.9, eps 1e-7 added outside the square root
            return _fast_optimizer(torch.optim.RMSprop, params, lr=lr, alpha=0.9, eps=1e-7,
                                   weight_decay=c.weight_decay)
        return _fast_optimizer(torch.optim.SGD, params, lr=lr, momentum=0.9, weight_decay=c.weight_decay)

    def _base_lr(self, player: str) -> float:
        c = self.config
        return c.generator_lr if player == "generator" and c.generator_lr is not None else c.lr

    def _set_lr(self, done: int) -> None:
        """Set every optimizer's learning rate for the epoch after ``done`` completed epochs."""
        factor = lr_factor(self.config, done, self.lr_plan)
        for p, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self._base_lr(p) * factor

    def _setup(self):
        c = self.config
        self.model.to(self.device)
        domain_b = getattr(self.data, "domain_b", None)  # read before .to(), which builds a new dataset
        self.data = self.data.to(self.device)
        self.domain_b = domain_b.to(self.device) if domain_b is not None else None
        if self.domain_b is not None and self.domain_b.paired and len(self.domain_b.train) != len(self.data.train):
            raise ValueError("paired domain B must have as many training images as domain A")
        self.players = tuple(self.objective.players)
        self.optimizers = {p: self._make_optimizer(self.objective.parameters(self.model, p), p)
                           for p in self.players}
        self.lr_plan: tuple[int, float, int] = (0, 1.0, c.epochs)
        self.step_module: nn.Module = _ObjectiveModule(self.model, self.objective)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.step_module = DDP(
                self.step_module, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=len(self.players) > 1 or hasattr(self.objective, "partial_graph"))
        if c.compile:
            self.step_module = torch.compile(self.step_module)
        try:
            self.scaler = torch.amp.GradScaler(self.device.type, enabled=c.amp == "fp16")
        except (RuntimeError, ValueError):
            raise ValueError(f"--amp fp16: this torch has no gradient scaler for {self.device.type}; "
                             "use --amp bf16") from None
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(c.amp)
        self.after_step = getattr(self.objective, "after_step", None)
        self.writer = None
        if c.tensorboard and self.dist.is_main and self.out_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))
            except ImportError:
                self.log("warning: tensorboard is not installed (pip install 'genzoo[tensorboard]'); "
                         "logging to metrics.csv only")

    # ------------------------------------------------------------------ state
    def state_dict(self, epoch: int, step: int) -> dict:
        return {
            "epoch": epoch, "step": step, "best": self.best, "bad_epochs": self.bad_epochs,
            "model": self.model.state_dict(),
            "optimizers": {p: o.state_dict() for p, o in self.optimizers.items()},
            "lr_plan": list(self.lr_plan),
            "world_size": self.dist.world_size,
            "history": [dict(row) for row in self.history],  # metrics.csv is rebuilt from this
            "scaler": self.scaler.state_dict(),
            "objective": self.objective.state_dict() if hasattr(self.objective, "state_dict") else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for p, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][p])
        self.scaler.load_state_dict(state["scaler"])
        if state.get("objective") is not None:  # e.g. CycleGAN's image pool
            self.objective.load_state_dict(state["objective"])
        self.best = state["best"]
        self.bad_epochs = state["bad_epochs"]

    def _saved_plan(self, state: dict) -> tuple[int, float, int]:
        """The learning-rate plan a checkpoint was trained under (older checkpoints: their cosine
        scheduler's T_max, else the configured epochs)."""
        if state.get("lr_plan") is not None:
            t0, f0, horizon = state["lr_plan"]
            return int(t0), float(f0), int(horizon)
        t_max = [s.get("T_max") for s in (state.get("schedules") or {}).values() if isinstance(s, dict)]
        return 0, 1.0, int(t_max[0]) if t_max and t_max[0] else self.config.epochs

    # ------------------------------------------------------------------ checks
    def size_report(self) -> tuple[str, list[str]]:
        """One line with the parameter count and the bytes each checkpoint takes, and the reasons
        (if any) that make this configuration absurd on this device."""
        c = self.config
        n_params = sum(p.numel() for p in self.model.parameters())
        n_train = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        weights = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        state = n_train * 4 * (_STATE_PER_PARAM.get(c.optimizer, 2))
        checkpoint = weights + state
        name = getattr(self.model, "registry_name", type(self.model).__name__)
        line = (f"{name}: {n_params:,} parameters; each checkpoint writes about {_human_bytes(checkpoint + weights)} "
                f"(checkpoint.pt {_human_bytes(checkpoint)}, model.safetensors {_human_bytes(weights)})")
        problems = []
        if self.device.type == "cpu" and n_params > MAX_CPU_PARAMETERS:
            problems.append(f"{n_params / 1e6:.0f}M parameters on the CPU (limit {MAX_CPU_PARAMETERS // 10**6}M)")
        if checkpoint > MAX_CHECKPOINT_BYTES:
            problems.append(f"a {_human_bytes(checkpoint)} checkpoint (limit {_human_bytes(MAX_CHECKPOINT_BYTES)})")
        return line, problems

    def _absurd_message(self, problems: list[str]) -> str:
        from genzoo.config import option_name

        cfg = getattr(self.model, "config", None)
        names = [f.name for f in fields(cfg)] if cfg is not None else []
        size = [option_name(n) for n in names if any(w in n for w in _SIZE_WORDS) and n != "shape"]
        advice = []
        if size:
            advice.append(f"a smaller model ({', '.join(size)})")
        levels = getattr(cfg, "levels", 2)
        if getattr(cfg, "likelihood", None) == "categorical" and levels > 2:
            advice.append(f"binary data (--binarize static) or another --likelihood instead of {levels}-way "
                          "outputs per pixel")
        advice.append("smaller images (--size)")
        if self.device.type == "cpu":
            advice.append("a GPU (--device cuda)")
        return (f"this configuration needs {' and '.join(problems)}: choose {', '.join(advice)}, "
                "or pass --force to train it anyway")

    def preflight(self, check: bool = True) -> None:
        """Print the model size and the checkpoint size; with ``check``, stop (ValueError) a
        configuration that is absurd on this device unless ``force``. Called before any file is
        written."""
        if getattr(self, "_preflown", False):
            return
        self._preflown = True
        line, problems = self.size_report()
        self.log(line)
        if check and problems and not self.force:
            raise ValueError(self._absurd_message(problems))
        if problems:
            self.log("warning: " + self._absurd_message(problems).split(": choose")[0] + " (--force given)")

    # ------------------------------------------------------------------ loop
    def fit(self, resume: bool = False) -> dict:
        """Train for ``config.epochs`` epochs (or until early stopping / ``max_steps``); returns the
        last epoch's metrics."""
        c = self.config
        self.preflight(check=not resume)  # a resumed run was accepted when it started
        self._setup()
        self.best, self.bad_epochs = math.inf, 0
        self.saved_epoch = 0
        start_epoch, step = 1, 0
        if resume:
            if self.out_dir is None:
                raise ValueError("resume needs an output directory")
            path = self.out_dir / ckpt.CHECKPOINT_FILE
            state = ckpt.load_checkpoint(path, map_location=self.device)
            saved_world = int(state.get("world_size", self.dist.world_size))
            if saved_world != self.dist.world_size and not self.allow_world_size_change:
                raise ValueError(
                    f"{path}: the run was trained by {saved_world} process(es) and this is {self.dist.world_size}, "
                    f"which changes the effective batch from {saved_world * c.batch_size} to "
                    f"{self.dist.world_size * c.batch_size}; pass --allow-world-size-change to continue anyway")
            self.load_state_dict(state)
            start_epoch, step = state["epoch"] + 1, state["step"]
            self.saved_epoch = state["epoch"]
            self._restore_files(state)
            plan = self._saved_plan(state)
            if c.schedule == "cosine" and plan[2] != c.epochs:
                factor = lr_factor(c, state["epoch"], plan)
                plan = (state["epoch"], factor, c.epochs)
                self.log(f"cosine schedule re-planned for {c.epochs} epochs: the lr decays from "
                         f"{factor * c.lr:.3g} after epoch {state['epoch']} to 0 at epoch {c.epochs}"
                         + (" (the schedule had ended at 0, so it stays 0)" if factor == 0 else ""))
            self.lr_plan = plan
            self.log(f"resuming from {path} after epoch {state['epoch']}")
        n_local = len(self.data.train) // self.dist.world_size
        if c.batch_size > n_local:
            self.log(f"warning: --batch-size {c.batch_size} is larger than the training set ({n_local} examples"
                     f"{' per process' if self.dist.enabled else ''}): every step uses all {n_local}")
        if start_epoch > c.epochs:
            self.log(f"the run has completed its {c.epochs} epochs; nothing to do (raise --epochs to train further)")
            return dict(self.history[-1]) if self.history else {}
        last: dict = {}
        self._timed = False
        try:
            for epoch in range(start_epoch, c.epochs + 1):
                last, step, stop = self._run_epoch(epoch, step)
                if stop:
                    break
        finally:
            if self.writer is not None:
                self.writer.close()
        return last

    def _batches(self, epoch: int) -> list[torch.Tensor]:
        """Index tensors of this rank's batches for one epoch.

        Each rank takes every world-th example of a seeded permutation (``n // world`` of them, so
        every rank runs the same steps); consecutive chunks of ``batch_size`` are the batches, the
        last one partial rather than dropped (a last chunk of one example joins the one before it:
        batch norm needs two)."""
        n = len(self.data.train)
        g = torch.Generator().manual_seed(_seed_for(self.config.seed, epoch))
        perm = torch.randperm(n, generator=g)
        world = self.dist.world_size
        local = perm[self.dist.rank::world][: n // world]
        if len(local) == 0:
            raise ValueError(f"the training split has {n} examples: too few for {world} processes")
        chunks = list(local.to(self.device).split(min(self.config.batch_size, len(local))))
        if len(chunks) > 1 and len(chunks[-1]) == 1:
            chunks[-2:] = [torch.cat(chunks[-2:])]
        return chunks

    def _make_batch(self, split, idx, noise, b_index=None):
        # index_select gathers rows several times faster than x[idx] on the CPU (about 20 against
        # 90 us for 100 MNIST rows: BENCHMARKS.md, CPU performance, session 7); same values
        x = split.x.index_select(0, idx)
        if self.batch_transform is not None:
            x = self.batch_transform(x, noise)
        batch = {"x": x}
        if split.y is not None:
            batch["y"] = split.y.index_select(0, idx)
        if getattr(split, "text", None) is not None:  # captions (emoji): a list of B strings
            batch["text"] = [split.text[i] for i in idx.tolist()]
        if self.domain_b is not None and b_index is not None:
            xb = self.domain_b.train.x.index_select(0, b_index)
            batch["x_b"] = self.batch_transform(xb, noise) if self.batch_transform is not None else xb
            if self.domain_b.paired:
                batch["paired_b"] = True  # x_b[i] is the counterpart of x[i]
        return batch

    def _nan_message(self, epoch: int, step: int, n_bad: int) -> str:
        world = self.dist.world_size
        where = f" on {n_bad} of {world} processes" if world > 1 else ""
        if self.out_dir is None:
            kept = "no run directory is written"
        elif self.saved_epoch:
            kept = (f"the checkpoint of epoch {self.saved_epoch} is kept in {self.out_dir} "
                    "(--resume would repeat the same steps)")
        else:
            kept = "no checkpoint was written (no epoch completed)"
        return (f"non-finite loss at epoch {epoch}, step {step}{where}: training stopped; {kept}. "
                "Try a lower --lr or --grad-clip")

    def _run_epoch(self, epoch: int, step: int):
        c = self.config
        torch.manual_seed(_seed_for(c.seed, epoch, self.dist.rank, stream=1))
        noise = seeded_generator(_seed_for(c.seed, epoch, self.dist.rank, 2), self.device)
        batches = self._batches(epoch)
        b_perm: list | None = None
        if self.domain_b is not None:
            nb = len(self.domain_b.train)
            g = torch.Generator().manual_seed(_seed_for(c.seed, epoch, self.dist.rank, 3))
            b_idx = torch.randint(nb, (sum(len(b) for b in batches),), generator=g).to(self.device)
            b_perm = list(b_idx.split([len(b) for b in batches]))
            if self.domain_b.paired:  # row i of B is the counterpart of row i of A
                b_perm = batches
        self._set_lr(epoch - 1)
        self.model.train()
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        window: list[list[tuple[str, dict]]] = []  # each step's (player, detached outputs) since the last check
        t0 = time.perf_counter()
        bar = None
        if c.progress and self.dist.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(batches), desc=f"epoch {epoch}/{c.epochs}", leave=False, file=sys.stderr,
                       dynamic_ncols=True)
        done = seen = 0
        stop = False
        for i in range(len(batches)):
            batch = self._make_batch(self.data.train, batches[i], noise, None if b_perm is None else b_perm[i])
            window.append([(player, self._step(player, batch, noise)) for player in self.players])
            step += 1
            done += 1
            seen += len(batches[i])
            stop = c.max_steps is not None and step >= c.max_steps
            if len(window) == CHECK_EVERY or i + 1 == len(batches) or stop:
                # every rank takes the same decision: one rank's NaN stops them all, with one message
                self._check_window(window, sums, counts, epoch, step)
                window = []
                if bar is not None:
                    bar.set_postfix({k: f"{(sums[k] / counts[k]).item():.3f}" for k in list(sums)[:3]})
            if not self._timed and (done == min(3, len(batches))):
                self._timed = True
                per_step = (time.perf_counter() - t0) / done
                self.log(f"first {done} step(s): {per_step:.3g} s per step; {len(batches)} steps per epoch, "
                         f"about {per_step * len(batches):.3g} s per epoch")
            if bar is not None:
                bar.update(1)
            if stop:
                break
        if bar is not None:
            bar.close()
        elapsed = time.perf_counter() - t0
        metrics = {"epoch": epoch, "step": step, "seconds": round(elapsed, 3),
                   "images_per_s": round(seen * self.dist.world_size / max(elapsed, 1e-9), 1),
                   "lr": self.optimizers[self.players[0]].param_groups[0]["lr"]}
        train = self._reduce(sums, counts)
        metrics.update({f"train_{k}": v for k, v in train.items()})
        if c.validate and len(self.data.valid) > 0:
            metrics.update({f"valid_{k}": v for k, v in self.validate().items()})
        monitor = f"valid_{self.objective.monitor}"
        improved = False
        if monitor in metrics:
            if metrics[monitor] < self.best:
                self.best, self.bad_epochs, improved = metrics[monitor], 0, True
            else:
                self.bad_epochs += 1
            if c.patience is not None and self.bad_epochs >= c.patience:
                self.log(f"early stopping: {monitor} has not improved for {c.patience} epochs "
                         f"(best {self.best:.4f})")
                stop = True
        else:
            improved = True
        hook = getattr(self.objective, "on_epoch_end", None)
        if hook is not None:
            for warning in hook(self.model, metrics) or ():
                self.log(f"warning: {warning}")
        self.history.append(metrics)
        if self.dist.is_main:
            self._write_epoch(epoch, step, metrics, improved)
        if self.out_dir is not None:
            self.saved_epoch = epoch
        dist_util.barrier(self.dist)
        self.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
        return metrics, step, stop

    def _check_window(self, window: list[list[tuple[str, dict]]], sums: dict, counts: dict, epoch: int,
                      step: int) -> None:
        """Add the outputs of the steps in ``window`` (the last ``len(window)`` steps, ending at
        ``step``) to the epoch's ``sums`` and ``counts``, and raise :class:`NonFiniteLossError`,
        naming the first step whose loss was not finite on any rank, if there was one.

        Checking a window of steps instead of every step costs one reduction (one all-reduce under
        DDP) per window instead of several small kernels (and an all-reduce) per step; the steps
        after a NaN still run to the end of the window, but the run stops before anything is
        written, as the epoch's files come after its last window."""
        multi = len(self.players) > 1
        values: dict[str, list[torch.Tensor]] = {}
        losses, owner = [], []
        for j, outs in enumerate(window):
            for player, out in outs:
                for k, v in out.items():
                    values.setdefault(f"loss_{player}" if k == "loss" and multi else k, []).append(v.reshape(-1))
                losses.append(out["loss"].reshape(-1))
                owner.append(j)
        for k, vs in values.items():
            flat = torch.cat(vs).double()
            sums[k] = sums.get(k, 0) + flat.sum()
            counts[k] = counts.get(k, 0) + flat.numel()
        flat = torch.cat(losses)
        finite = torch.isfinite(flat).all()
        if self.dist.enabled:  # per-step counts of the ranks that saw a non-finite loss
            bad = torch.zeros(len(window), device=flat.device)
            if not finite:
                steps = torch.tensor(owner, device=flat.device).repeat_interleave(
                    torch.tensor([len(t) for t in losses], device=flat.device))
                bad.index_put_((steps,), (~torch.isfinite(flat)).float(), accumulate=True).clamp_(max=1)
            bad = dist_util.all_reduce_sum(bad, self.dist)
            if not bad.any():
                return
        elif finite:
            return
        else:
            bad = torch.tensor([float(not torch.isfinite(loss).all()) for loss in losses])
            bad = torch.zeros(len(window)).index_add_(0, torch.tensor(owner), bad)
        first = int(torch.nonzero(bad)[0])
        raise NonFiniteLossError(self._nan_message(epoch, step - len(window) + 1 + first, int(bad[first])))

    def _step(self, player: str, batch: dict, noise: torch.Generator) -> dict:
        c = self.config
        opt = self.optimizers[player]
        opt.zero_grad(set_to_none=True)
        # torch.compile cannot trace a draw with an explicit torch.Generator (a graph break at every
        # one): a compiled step draws from the default generator, which fit() seeds every epoch
        step_noise = None if c.compile else noise
        if self.amp_dtype is None:  # float32: no autocast context (about 9 us a step on the CPU)
            out = self.step_module(batch, player, step_noise)
        else:
            with torch.autocast(self.device.type, dtype=self.amp_dtype):
                out = self.step_module(batch, player, step_noise)
        loss = out["loss"].float().mean()
        self.scaler.scale(loss).backward()  # a disabled scaler passes everything through
        if c.grad_clip is not None:
            self.scaler.unscale_(opt)
            params = [p for g in opt.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, c.grad_clip)
        self.scaler.step(opt)
        self.scaler.update()
        if self.after_step is not None:  # e.g. the generator EMA of the GAN objectives
            self.after_step(self.model, player)
        return {k: v.detach() for k, v in out.items()}

    def _reduce(self, sums: dict, counts: dict) -> dict[str, float]:
        if not sums:
            return {}
        keys = sorted(sums)
        s = torch.stack([torch.as_tensor(sums[k], device=self.device, dtype=torch.float64) for k in keys])
        n = torch.tensor([counts[k] for k in keys], device=self.device, dtype=torch.float64)
        s = dist_util.all_reduce_sum(s, self.dist)
        n = dist_util.all_reduce_sum(n, self.dist)
        return {k: float(v) for k, v in zip(keys, (s / n).tolist())}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean of the objective's validation figures over (this rank's shard of) the validation split."""
        self.model.eval()
        split = self.data.valid
        idx = torch.arange(len(split), device=self.device)[self.dist.rank::self.dist.world_size]
        noise = seeded_generator(_seed_for(self.config.seed, 0, self.dist.rank, 4), self.device)
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        for chunk in idx.split(self.config.eval_batch_size):
            batch = self._make_batch(split, chunk, noise)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                out = self.objective.evaluate(self.model, batch, generator=noise)
            for k, v in out.items():
                v = v.float()
                weight = v.numel() if v.dim() else len(chunk)
                sums[k] = sums.get(k, 0) + (v.sum() if v.dim() else v * weight)
                counts[k] = counts.get(k, 0) + weight
        self.model.train()
        return self._reduce(sums, counts)

    # ------------------------------------------------------------------ files
    def _write_epoch(self, epoch: int, step: int, metrics: dict, improved: bool) -> None:
        """Write one epoch's files. checkpoint.pt is written last and is the commit point: after a
        crash the other files are at most one epoch ahead of it, and ``--resume`` redoes that epoch
        (bitwise the same) after rebuilding metrics.csv from the checkpoint."""
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if improved:
            ckpt.save_weights(self.out_dir / ckpt.WEIGHTS_FILE, self.model)
        c = self.config
        if c.sample_every and epoch % c.sample_every == 0 and self.model.can_sample:
            self._write_samples(epoch)
        _write_csv(self.out_dir / ckpt.METRICS_FILE, self.history)
        if self.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and k not in ("epoch", "step"):
                    self.writer.add_scalar(k, v, epoch)
        ckpt.crash_point("before_checkpoint")
        ckpt.save_checkpoint(self.out_dir / ckpt.CHECKPOINT_FILE, self.state_dict(epoch, step))
        ckpt.crash_point("after_checkpoint")

    def _restore_files(self, state: dict) -> None:
        """Bring the run directory back to the checkpoint's epoch: metrics.csv rebuilt from the
        checkpoint's history (older checkpoints: truncated to its epoch), and the per-epoch sample
        grids of later epochs removed."""
        last_epoch = state["epoch"]
        if state.get("history") is not None:
            self.history = [dict(r) for r in state["history"]]
        elif self.out_dir is not None and (self.out_dir / ckpt.METRICS_FILE).exists():
            with open(self.out_dir / ckpt.METRICS_FILE, newline="") as f:
                self.history = [r for r in csv.DictReader(f) if int(r["epoch"]) <= last_epoch]
        if self.out_dir is None or not self.dist.is_main:
            return
        _write_csv(self.out_dir / ckpt.METRICS_FILE, self.history)
        folder = self.out_dir / "samples"
        if folder.is_dir():
            for p in folder.glob("epoch_*.png"):
                if p.stem[6:].isdigit() and int(p.stem[6:]) > last_epoch:
                    p.unlink()

    def _write_samples(self, epoch: int) -> None:
        from genzoo.evaluation.plots import save_grid

        self.model.eval()
        try:
            with torch.no_grad():
                g = seeded_generator(self.config.seed, self.device)
                images = self.model.sample(64, generator=g)
        finally:
            self.model.train()
        if images.dim() == 2:  # binary vectors (D,): one 1-pixel-high strip per sample
            images = images.reshape(images.shape[0], 1, 1, -1)
        targets = [self.out_dir / "samples.png"]
        if self.config.sample_history:
            targets.append(self.out_dir / "samples" / f"epoch_{epoch:03d}.png")
        for path in targets:
            ckpt.atomic_write(path, lambda tmp: save_grid(images, tmp, value_range=self._value_range()))

    def _value_range(self) -> tuple[float, float]:
        spec = getattr(self.data, "spec", None)  # the data contract says; datasets built by hand: guess
        if spec is not None:
            return spec.value_range
        lo = float(self.data.train.x[:256].min())
        return (-1.0, 1.0) if lo < 0 else (0.0, 1.0)


def _write_csv(path: Path, rows: list[dict]) -> None:
    """Rewrite the metrics CSV atomically; the header is the union of the rows' keys."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)

    ckpt.atomic_write(path, write)
