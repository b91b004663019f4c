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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from genzoo.config import field
from genzoo.objectives.base import Objective
from genzoo.training import checkpoint as ckpt
from genzoo.training import distributed as dist_util


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = field(10, help="passes over the training set")
    batch_size: int = field(100, help="examples per step (per process under torchrun)")
    optimizer: str = field("adam", help="optimizer", choices=("adam", "adamw", "adagrad", "sgd"))
    lr: float = field(1e-3, help="learning rate")
    generator_lr: float | None = field(None, help="adversarial models: learning rate of the generator "
                                       "player (default: --lr; InfoGAN's paper uses 1e-3 with 2e-4 for D)")
    betas: tuple[float, ...] = field((0.9, 0.999), help="Adam/AdamW betas")
    weight_decay: float = field(0.0, help="weight decay")
    schedule: str = field("constant", help="learning-rate schedule, stepped each epoch",
                          choices=("constant", "cosine", "step", "exponential"))
    lr_step: int = field(10, help="epochs between decays for --schedule step")
    lr_gamma: float = field(0.5, help="decay factor for step/exponential schedules")
    grad_clip: float | None = field(None, help="clip the gradient norm of each player to this value")
    amp: str = field("none", help="mixed precision autocast (fp16 needs CUDA)", choices=("none", "bf16", "fp16"))
    seed: int = field(0, help="seed for shuffling, noise and initialisation")
    patience: int | None = field(None, help="early stopping: epochs without validation improvement")
    validate: bool = field(True, help="evaluate on the validation split every epoch")
    eval_batch_size: int = field(500, help="batch size for validation")
    device: str = field("auto", help="cpu, cuda, cuda:1, or auto")
    compile: bool = field(False, help="torch.compile the training step (CUDA graphs on GPU)")
    sample_every: int = field(1, help="write samples.png every N epochs (0: never)")
    sample_history: bool = field(False, help="also keep samples/epoch_NNN.png for every epoch")
    max_steps: int | None = field(None, help="stop after this many steps in total (quick runs)")
    progress: bool = field(True, help="show a progress bar")
    tensorboard: bool = field(False, help="also log to TensorBoard (needs the tensorboard extra)")


class NonFiniteLossError(RuntimeError):
    pass


class _ObjectiveModule(nn.Module):
    """Model + objective as one module, so DDP sees every forward through ``forward``."""

    def __init__(self, model: nn.Module, objective: Objective):
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, batch, player: str, generator):
        return self.objective(self.model, batch, player=player, generator=generator)


def _seed_for(seed: int, epoch: int, rank: int = 0, stream: int = 0) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + rank * 104_729 + stream * 15_485_863) % (2**63 - 1)


class Trainer:
    """Train ``model`` with ``objective`` on ``data`` (a :class:`genzoo.data.ImageDataset`).

    ``out_dir`` receives model.safetensors (best validation weights), checkpoint.pt (everything
    needed to resume), metrics.csv and samples.png. Only rank 0 writes.
    """

    def __init__(self, model: nn.Module, objective: Objective, data, config: TrainConfig | None = None,
                 out_dir: str | Path | None = None, batch_transform: Callable | None = None,
                 log: Callable[[str], None] | None = None):
        self.config = config or TrainConfig()
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
            return torch.optim.Adam(params, lr=lr, betas=tuple(c.betas), weight_decay=c.weight_decay)
        if c.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=lr, betas=tuple(c.betas), weight_decay=c.weight_decay)
        if c.optimizer == "adagrad":
            return torch.optim.Adagrad(params, lr=lr, weight_decay=c.weight_decay)
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=c.weight_decay)

    def _make_schedule(self, opt):
        c = self.config
        if c.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, c.epochs))
        if c.schedule == "step":
            return torch.optim.lr_scheduler.StepLR(opt, step_size=c.lr_step, gamma=c.lr_gamma)
        if c.schedule == "exponential":
            return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=c.lr_gamma)
        return None

    def _setup(self):
        c = self.config
        self.model.to(self.device)
        domain_b = getattr(self.data, "domain_b", None)  # read before .to(), which builds a new dataset
        self.data = self.data.to(self.device)
        self.domain_b = domain_b.to(self.device) if domain_b is not None else None
        self.players = tuple(self.objective.players)
        self.optimizers = {p: self._make_optimizer(self.objective.parameters(self.model, p), p)
                           for p in self.players}
        self.schedules = {p: self._make_schedule(o) for p, o in self.optimizers.items()}
        self.step_module: nn.Module = _ObjectiveModule(self.model, self.objective)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.step_module = DDP(
                self.step_module, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=len(self.players) > 1 or hasattr(self.objective, "partial_graph"))
        if c.compile:
            self.step_module = torch.compile(self.step_module)
        if c.amp == "fp16" and self.device.type != "cuda":
            raise ValueError("--amp fp16 needs a CUDA device; use --amp bf16 on the CPU")
        self.scaler = torch.amp.GradScaler("cuda", enabled=c.amp == "fp16")
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(c.amp)
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
            "schedules": {p: s.state_dict() for p, s in self.schedules.items() if s is not None},
            "scaler": self.scaler.state_dict(),
            "objective": self.objective.state_dict() if hasattr(self.objective, "state_dict") else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for p, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][p])
        for p, s in self.schedules.items():
            if s is not None and p in state["schedules"]:
                s.load_state_dict(state["schedules"][p])
        self.scaler.load_state_dict(state["scaler"])
        if state.get("objective") is not None:  # e.g. CycleGAN's image pool
            self.objective.load_state_dict(state["objective"])
        self.best = state["best"]
        self.bad_epochs = state["bad_epochs"]

    # ------------------------------------------------------------------ loop
    def fit(self, resume: bool = False) -> dict:
        """Train for ``config.epochs`` epochs (or until early stopping / ``max_steps``); returns the
        last epoch's metrics."""
        c = self.config
        self._setup()
        self.best, self.bad_epochs = math.inf, 0
        start_epoch, step = 1, 0
        if resume:
            if self.out_dir is None:
                raise ValueError("resume needs an output directory")
            state = ckpt.load_checkpoint(self.out_dir / ckpt.CHECKPOINT_FILE, map_location=self.device)
            self.load_state_dict(state)
            start_epoch, step = state["epoch"] + 1, state["step"]
            self._truncate_metrics(state["epoch"])
            self.log(f"resuming from {self.out_dir / ckpt.CHECKPOINT_FILE} after epoch {state['epoch']}")
        last: dict = {}
        try:
            for epoch in range(start_epoch, c.epochs + 1):
                last, step, stop = self._run_epoch(epoch, step)
                if stop:
                    break
        finally:
            if self.writer is not None:
                self.writer.close()
        return last

    def _batches(self, epoch: int):
        """Index tensors of this rank's batches for one epoch (drop-last, equal count on every rank)."""
        n = len(self.data.train)
        g = torch.Generator().manual_seed(_seed_for(self.config.seed, epoch))
        perm = torch.randperm(n, generator=g)
        world = self.dist.world_size
        local = perm[self.dist.rank::world][: n // world]
        bs = min(self.config.batch_size, len(local))
        if bs == 0:
            raise ValueError(f"the training split has {n} examples: too few for {world} processes")
        steps = len(local) // bs
        return local[: steps * bs].to(self.device).view(steps, bs)

    def _make_batch(self, split, idx, noise, b_index=None):
        x = split.x[idx]
        if self.batch_transform is not None:
            x = self.batch_transform(x, noise)
        batch = {"x": x}
        if split.y is not None:
            batch["y"] = split.y[idx]
        if self.domain_b is not None and b_index is not None:
            xb = self.domain_b.train.x[b_index]
            batch["x_b"] = self.batch_transform(xb, noise) if self.batch_transform is not None else xb
        return batch

    def _run_epoch(self, epoch: int, step: int):
        c = self.config
        torch.manual_seed(_seed_for(c.seed, epoch, self.dist.rank, stream=1))
        noise = torch.Generator(device=self.device).manual_seed(_seed_for(c.seed, epoch, self.dist.rank, 2))
        batches = self._batches(epoch)
        b_perm = None
        if self.domain_b is not None:
            nb = len(self.domain_b.train)
            g = torch.Generator().manual_seed(_seed_for(c.seed, epoch, self.dist.rank, 3))
            b_perm = torch.randint(nb, batches.shape, generator=g).to(self.device)
        self.model.train()
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        bad = torch.zeros((), dtype=torch.bool, device=self.device)
        t0 = time.perf_counter()
        bar = None
        if c.progress and self.dist.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(batches), desc=f"epoch {epoch}/{c.epochs}", leave=False, file=sys.stderr,
                       dynamic_ncols=True)
        check_every = 1 if self.device.type == "cpu" else 25
        done = 0
        stop = False
        for i in range(len(batches)):
            batch = self._make_batch(self.data.train, batches[i], noise, None if b_perm is None else b_perm[i])
            for player in self.players:
                out = self._step(player, batch, noise)
                loss = out["loss"]
                bad |= ~torch.isfinite(loss.detach()).all()
                for k, v in out.items():
                    if k == "loss" and len(self.players) > 1:
                        k = f"loss_{player}"
                    v = v.detach().float()
                    sums[k] = sums.get(k, 0) + v.sum()
                    counts[k] = counts.get(k, 0) + v.numel()
            step += 1
            done += 1
            if (i + 1) % check_every == 0 or i + 1 == len(batches):
                if bool(bad):
                    raise NonFiniteLossError(
                        f"non-finite loss at epoch {epoch}, step {step}: training stopped; "
                        f"the last good checkpoint is kept in {self.out_dir}. Try a lower --lr or --grad-clip")
            if bar is not None:
                bar.update(1)
                if (i + 1) % 20 == 0:
                    bar.set_postfix({k: f"{(sums[k] / counts[k]).item():.3f}" for k in list(sums)[:3]})
            if c.max_steps is not None and step >= c.max_steps:
                stop = True
                break
        if bar is not None:
            bar.close()
        elapsed = time.perf_counter() - t0
        metrics = {"epoch": epoch, "step": step, "seconds": round(elapsed, 3),
                   "images_per_s": round(done * batches.shape[1] * self.dist.world_size / max(elapsed, 1e-9), 1),
                   "lr": self.optimizers[self.players[0]].param_groups[0]["lr"]}
        train = self._reduce(sums, counts)
        metrics.update({f"train_{k}": v for k, v in train.items()})
        for s in self.schedules.values():
            if s is not None:
                s.step()
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
        dist_util.barrier(self.dist)
        self.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
        return metrics, step, stop

    def _step(self, player: str, batch: dict, noise: torch.Generator) -> dict:
        c = self.config
        opt = self.optimizers[player]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            out = self.step_module(batch, player, noise)
        loss = out["loss"].float().mean()
        self.scaler.scale(loss).backward()
        if c.grad_clip is not None:
            self.scaler.unscale_(opt)
            params = [p for g in opt.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, c.grad_clip)
        self.scaler.step(opt)
        self.scaler.update()
        return out

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
        noise = torch.Generator(device=self.device).manual_seed(_seed_for(self.config.seed, 0, self.dist.rank, 4))
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
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if improved:
            ckpt.save_weights(self.out_dir / ckpt.WEIGHTS_FILE, self.model)
        ckpt.save_checkpoint(self.out_dir / ckpt.CHECKPOINT_FILE, self.state_dict(epoch, step))
        self._append_metrics(metrics)
        if self.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and k not in ("epoch", "step"):
                    self.writer.add_scalar(k, v, epoch)
        c = self.config
        if c.sample_every and epoch % c.sample_every == 0 and getattr(self.model, "_can_sample", True):
            self._write_samples(epoch)

    def _write_samples(self, epoch: int) -> None:
        from genzoo.evaluation.plots import save_grid

        self.model.eval()
        try:
            with torch.no_grad():
                g = torch.Generator(device=self.device).manual_seed(self.config.seed)
                images = self.model.sample(64, generator=g)
        except NotImplementedError:
            self.model._can_sample = False
            return
        finally:
            self.model.train()
        if images.dim() == 2:  # binary vectors (D,): one 1-pixel-high strip per sample
            images = images.reshape(images.shape[0], 1, 1, -1)
        save_grid(images, self.out_dir / "samples.png", value_range=self._value_range())
        if self.config.sample_history:
            save_grid(images, self.out_dir / "samples" / f"epoch_{epoch:03d}.png", value_range=self._value_range())

    def _value_range(self) -> tuple[float, float]:
        lo = float(self.data.train.x[:256].min())
        return (-1.0, 1.0) if lo < 0 else (0.0, 1.0)

    def _append_metrics(self, metrics: dict) -> None:
        path = self.out_dir / ckpt.METRICS_FILE
        rows = []
        if path.exists():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
        rows.append(dict(metrics))
        _write_csv(path, rows)

    def _truncate_metrics(self, last_epoch: int) -> None:
        if self.out_dir is None or not self.dist.is_main:
            return
        path = self.out_dir / ckpt.METRICS_FILE
        if not path.exists():
            return
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= last_epoch]
        _write_csv(path, rows)


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
