"""Compare trained runs in one table: every metric that applies to each run.

* density models (``has_likelihood``): test NLL in nats with its standard error, bits/dim, and for
  latent-variable models the negative ELBO, via :func:`genzoo.evaluation.likelihood.evaluate_likelihood`
  (importance sampling with ``k`` samples), each cell marked with how it was obtained (exact,
  ``IS k=K``, ``≤ ... deq. bound``); a Bernoulli loss on grey values is not a likelihood and is
  left out with the reason;
* anything that samples: true samples of every family (decoder means only with
  ``sample_means``, labelled): FID-style, KID, precision/recall and the IS-style score of ``n_samples``
  samples against the real test images, in the feature space of genzoo's cached classifier (see
  :mod:`genzoo.evaluation.features`; for emoji runs the colour classifier of the run's vendor and
  split); optionally the Parzen-window log-likelihood (weak, see
  :func:`genzoo.evaluation.metrics.parzen_log_likelihood`);
* training time (sum of the ``seconds`` column of the run's metrics.csv) and the command line
  that produced the run (config.json ``"command"``).
"""

from __future__ import annotations

import csv
import math
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from genzoo.config import field, from_dict
from genzoo.nn.random import device_of, resolve_device, seeded_generator


@dataclass(frozen=True)
class CompareConfig:
    samples: int = field(1000, help="samples drawn per run for the feature metrics (0: skip them)")
    k: int = field(100, help="importance samples per example for latent-variable NLL")
    eval_examples: int | None = field(None, help="test examples for the likelihood (None: the whole test split)")
    pr_k: int = field(3, help="nearest neighbours for the precision/recall radii")
    kid_subsets: int = field(50, help="random subsets for the KID mean and std")
    kid_subset_size: int = field(1000, help="examples per KID subset (capped at the set sizes)")
    reference: str = field("test", help="real images the samples are compared with",
                           choices=("test", "train", "valid"))
    feature_data: str | None = field(None, help="dataset the feature network is trained on "
                                                "(None: the run's own dataset)")
    parzen: bool = field(False, help="also report the (weak) Parzen-window log-likelihood")
    sample_means: bool = field(False, help="feature metrics of decoder means of prior draws instead of true "
                                           "samples (latent-variable models only; labelled in the table)")
    dequant_draws: int = field(1, help="dequantized runs: uniform-noise draws per test example for the bound")
    seed: int = field(0, help="seed for sampling and the metric subsets")
    batch_size: int = field(250, help="batch size for sampling and likelihood evaluation")
    device: str = field("cpu", help="device to evaluate on (cpu, cuda, auto)")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(device: str = "auto") -> str:
    """The device the evaluation ran on (GPU name, or CPU model and threads), for footnotes."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (torch {torch.__version__})"
    return f"{_cpu_name()}, {torch.get_num_threads()} threads (torch {torch.__version__})"


def training_seconds(run_dir: str | Path) -> tuple[float | None, int | None]:
    """(total training seconds, epochs) from ``metrics.csv``, or (None, None) when absent."""
    path = Path(run_dir) / "metrics.csv"
    if not path.is_file():
        return None, None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    secs = [float(r["seconds"]) for r in rows if r.get("seconds") not in (None, "")]
    return (sum(secs) if secs else None), (len(rows) or None)


def _run_config(run_dir: Path) -> dict:
    from genzoo.training.loading import recorded_data  # config.json checked as untrusted input

    return recorded_data(run_dir)


def _load_model(run_dir: Path, device: torch.device):
    import genzoo

    loader = getattr(genzoo, "load", None)
    if loader is None:
        from genzoo.training.run import load as loader
    return loader(run_dir, device=device)


@torch.no_grad()
def draw_samples(model, n: int, *, batch_size: int = 250, seed: int = 0, means: bool = False
                 ) -> torch.Tensor | None:
    """``n`` true samples (``model.sample``, random conditions) on the CPU, or None when the model
    does not sample (``model.can_sample`` is False: CycleGAN, a deterministic autoencoder). An
    error inside the sampler propagates. ``means=True``: the decoder means of prior draws
    (``model.sample_mean``, latent-variable models), a picture of the model rather than samples."""
    if not model.can_sample:
        return None
    g = seeded_generator(seed, device_of(model))
    draw = model.sample_mean if means else model.sample
    out = [draw(min(batch_size, n - i), generator=g).float().cpu() for i in range(0, n, batch_size)]
    return torch.cat(out) if out else None


def _spec_cell(spec) -> str:
    """Short description of the data for the table: binary / L levels (dequantized)."""
    if spec.kind == "binary":
        return "binary" + (f" {spec.binarization}" if spec.binarization != "none" else "")
    if spec.kind == "continuous":
        return "continuous"
    return f"{spec.levels} levels" + (" deq." if spec.dequantization == "uniform" else "")


def evaluate_run(run_dir: str | Path, config: CompareConfig = CompareConfig(), *, data: dict | None = None,
                 extractor=None, log=None) -> dict:
    """All applicable metrics of one run as a flat dict (missing metrics are absent).

    ``data`` overrides fields of the run's data config (e.g. ``{"name": "mnist5k"}``);
    ``extractor`` replaces the cached feature network (any FeatureExtractor). Likelihood figures are
    labelled (``nll_figure``, ``nll_label``, ``bound``, ``k``); a figure that is not a likelihood
    (Bernoulli on grey values) is left out with the reason in ``nll_note``."""
    from genzoo.data import DataConfig, DataError, load_dataset
    from genzoo.evaluation import features
    from genzoo.evaluation.likelihood import evaluate_likelihood, random_subset, run_data_spec
    from genzoo.evaluation.metrics import parzen_log_likelihood, sample_quality

    run_dir = Path(run_dir)
    info = _run_config(run_dir)
    device = resolve_device(config.device)
    model = _load_model(run_dir, device)
    data_cfg = from_dict(DataConfig, {**info.get("data", {}), **(data or {})})
    dataset = load_dataset(data_cfg)
    spec = run_data_spec(run_dir, dataset, data_cfg)
    row: dict = {"run": run_dir.name, "path": str(run_dir), "model": info.get("model", type(model).__name__),
                 "objective": info.get("objective"), "data": data_cfg.name, "values": _spec_cell(spec),
                 "data_spec": spec.to_dict(), "command": info.get("command", "")}
    x_test, y_test = features.split_tensors(dataset, "test")
    if getattr(model, "has_likelihood", False):
        xs = random_subset(x_test, config.eval_examples, config.seed)
        ys = None if y_test is None else random_subset(y_test, config.eval_examples, config.seed)  # same rows
        try:
            lik = evaluate_likelihood(model, xs, spec, k=config.k, batch_size=config.batch_size,
                                      seed=config.seed, dequant_draws=config.dequant_draws,
                                      who=f"run {run_dir.name}", condition=ys)
        except DataError as e:  # not a likelihood (BCE on grey values, ...): no NLL, say why
            lik = {"note": str(e)}
        row.update({f"nll_{key}" if key in ("figure", "label", "note") else key: lik[key]
                    for key in ("nll_nats", "nll_stderr", "bits_per_dim", "neg_elbo_nats", "neg_elbo_stderr",
                                "exact", "k", "bound", "figure", "label", "note", "dequantization")
                    if key in lik})
    if config.samples > 0:
        fake = draw_samples(model, config.samples, batch_size=config.batch_size, seed=config.seed,
                            means=config.sample_means)
        if fake is not None:
            real, _ = features.split_tensors(dataset, config.reference)
            real = real[:config.samples]
            if extractor is None:
                # trained on the run's own split (its data seed, for emoji its vendor, in colour):
                # never on the run's test images
                fcfg = (features.FeatureNetConfig(data=config.feature_data) if config.feature_data is not None
                        else features.feature_config_for(data_cfg))
                extractor = features.get_feature_extractor(fcfg, data_dir=data_cfg.data_dir, log=log)
            if hasattr(extractor, "to"):
                extractor = extractor.to(device)
            raw = fake
            # the feature network takes [0, 1]; samples of a continuous decoder may overshoot it
            real, fake = spec.to_unit(real), spec.to_unit(fake).clamp(0, 1)
            g = torch.Generator().manual_seed(config.seed)
            q = sample_quality(real, fake, extractor, k=config.pr_k,
                               kid_subsets=config.kid_subsets, kid_subset_size=config.kid_subset_size,
                               generator=g)
            row.update(q)
            row["features"] = extractor.name
            row["n_samples"] = len(fake)
            row["samples"] = "decoder means" if config.sample_means else "samples"
            if config.parzen:
                x_valid, _ = features.split_tensors(dataset, "valid")
                row.update(parzen_log_likelihood(raw.flatten(1), x_valid, x_test))  # in data space
    row["train_seconds"], row["epochs"] = training_seconds(run_dir)
    if row["train_seconds"] is None:
        del row["train_seconds"], row["epochs"]
    return row


def compare_runs(run_dirs, config: CompareConfig = CompareConfig(), *, data: dict | None = None,
                 extractor=None, log=None) -> list[dict]:
    """:func:`evaluate_run` for each run directory, sharing one feature extractor."""
    from genzoo.evaluation.features import FeatureNetConfig, get_feature_extractor

    rows = []
    for rd in run_dirs:
        if extractor is None and config.samples > 0 and config.feature_data is not None:
            extractor = get_feature_extractor(FeatureNetConfig(data=config.feature_data),
                                              data_dir=(data or {}).get("data_dir"), log=log)
        rows.append(evaluate_run(rd, config, data=data, extractor=extractor, log=log))
    return rows


# (key, header, format) in table order
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run", "run", "{}"), ("model", "model", "{}"), ("data", "data", "{}"), ("values", "values", "{}"),
    ("nll_nats", "NLL (nats)", "{:.2f}"), ("bits_per_dim", "bits/dim", "{:.4f}"),
    ("neg_elbo_nats", "-ELBO bound (nats)", "{:.2f}"), ("fid", "FID-style", "{:.2f}"),
    ("kid", "KID", "{:.4g}"), ("precision", "precision", "{:.3f}"), ("recall", "recall", "{:.3f}"),
    ("is", "IS-style", "{:.2f}"), ("parzen_ll", "Parzen (nats)", "{:.1f}"),
    ("train_seconds", "train time", "{}"),
)


def _nll_mark(row: dict) -> str:
    """How an NLL was obtained: "" exact, "IS k=100" importance-sampled; "bound" prefixes."""
    marks = []
    if row.get("bound"):
        marks.append("deq. bound")
    if row.get("exact") is False:
        marks.append(f"IS k={row.get('k', '?')}")
    return f" ({', '.join(marks)})" if marks else ""


def _fmt(row: dict, key: str, fmt: str) -> str:
    v = row.get(key)
    if key == "nll_nats" and v is None and row.get("nll_note"):
        return "n/a (not a likelihood)"
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    le = "≤ " if row.get("bound") and key in ("nll_nats", "bits_per_dim", "neg_elbo_nats") else ""
    if key == "nll_nats" and "nll_stderr" in row:
        return f"{le}{v:.2f} ± {row['nll_stderr']:.2f}{_nll_mark(row)}"
    if key == "bits_per_dim":
        return f"{le}{v:.4f}"
    if key == "neg_elbo_nats" and "neg_elbo_stderr" in row:
        return f"{le}{v:.2f} ± {row['neg_elbo_stderr']:.2f}"
    if key == "kid":  # its scale follows the feature network's, so no fixed x1e3 convention
        return f"{v:.4g} ± {row.get('kid_std', 0.0):.2g}"
    if key == "is" and "is_std" in row:
        return f"{v:.2f} ± {row['is_std']:.2f}"
    if key == "parzen_ll" and "parzen_stderr" in row:
        return f"{v:.1f} ± {row['parzen_stderr']:.1f}"
    if key == "train_seconds":
        return f"{v:.1f} s" if v < 60 else f"{v:.0f} s" if v < 600 else f"{v / 60:.1f} min"
    return fmt.format(v)


def format_table(rows: list[dict], *, markdown: bool = True, machine: str | None = None) -> str:
    """One table of the columns any row has, then the command and feature network of each run."""
    cols = [c for c in COLUMNS if any(c[0] in r or (c[0] == "nll_nats" and "nll_note" in r) for r in rows)]
    cells = [[h for _, h, _ in cols]] + [[_fmt(r, k, f) for k, _, f in cols] for r in rows]
    lines = []
    if markdown:
        lines.append("| " + " | ".join(cells[0]) + " |")
        lines.append("|" + "---|" * len(cols))
        lines += ["| " + " | ".join(c) + " |" for c in cells[1:]]
    else:
        widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.append("")
    if any("nll_nats" in r for r in rows):
        lines.append("NLL: per test example, ± its standard error; exact unless marked 'IS k=K' "
                     "(importance-sampled estimate with K samples); '≤ ... (deq. bound)': upper bound on the NLL "
                     "of the discrete data via uniform dequantization. -ELBO is an upper bound on the NLL. "
                     "Compare NLLs only between rows with the same data and values.")
    for r in rows:
        if r.get("nll_note"):
            lines.append(f"{r['run']}: {r['nll_note']}")
    feats = sorted({r["features"] for r in rows if "features" in r})
    if feats:
        what = "decoder means of prior draws (not samples)" if any(
            r.get("samples") == "decoder means" for r in rows) else "samples"
        lines.append(f"Feature metrics in the space of {', '.join(feats)} "
                     f"({rows[0].get('n_samples', '?')} {what} vs real images); not Inception FID.")
    if machine:
        lines.append(f"Machine: {machine}.")
    lines.append("Commands:" if markdown else "commands:")
    for r in rows:
        lines.append(f"- `{r['run']}`: `{r.get('command') or '?'}`" if markdown
                     else f"  {r['run']}: {r.get('command') or '?'}")
    return "\n".join(lines)
