"""The blocked, streamed IS-NLL (evaluation/importance.py) against the direct computation: the
same draws from the same generator, one log-sum-exp over all k log-weights."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from genzoo.cli.main import main
from genzoo.distributions import Bernoulli, softplus_sum
from genzoo.evaluation import importance
from genzoo.evaluation.importance import importance_sampled_log_prob
from genzoo.evaluation.likelihood import evaluate_likelihood
from genzoo.objectives.variational import log_weights
from genzoo.training.run import build_model


def _direct(model, x, k, chunk, seed):
    """All k log-weights, ``chunk`` samples per call of log_weights (the draws the estimator makes),
    then one log-sum-exp."""
    g = torch.Generator().manual_seed(seed)
    lw = torch.cat([log_weights(model, x, min(chunk, k - s), g) for s in range(0, k, chunk)])  # (k, B)
    return torch.logsumexp(lw.double(), dim=0) - math.log(k)


@pytest.mark.parametrize("variant,block_rows", [("vae", 64), ("vae", 10_000), ("vae-vamp", 7), ("vae", 1)])
def test_blocked_streamed_estimate_equals_the_direct_one(variant, block_rows):
    torch.manual_seed(0)
    kw = {"pseudo_inputs": 9} if variant == "vae-vamp" else {}
    model = build_model(variant, (1, 6, 6), hidden=(20,), latent_dim=3, **kw).eval()
    x = (torch.rand(5, 1, 6, 6) < 0.4).float()
    k, chunk = 230, 100  # chunks of 100, 100, 30; blocks of block_rows // 5 samples
    ours = importance_sampled_log_prob(model, x, k=k, chunk=chunk, block_rows=block_rows,
                                       generator=torch.Generator().manual_seed(3))
    direct = _direct(model, x, k, chunk, seed=3)
    assert ours.shape == (5,) and ours.dtype == torch.float32
    # float32 log-weights of ~25 nats summed in another order: ~1e-6 relative
    torch.testing.assert_close(ours.double(), direct, rtol=0, atol=2e-5)


def test_one_sample_is_the_log_weight_and_bad_arguments_are_refused():
    torch.manual_seed(0)
    model = build_model("vae", (1, 4, 4), hidden=(8,), latent_dim=2).eval()
    x = (torch.rand(3, 1, 4, 4) < 0.5).float()
    ours = importance_sampled_log_prob(model, x, k=1, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours, log_weights(model, x, 1, torch.Generator().manual_seed(1))[0])
    for bad in ({"k": 0}, {"k": 5, "chunk": 0}, {"k": 5, "block_rows": 0}):
        with pytest.raises(ValueError, match="must be >= 1"):
            importance_sampled_log_prob(model, x, **bad)


# ---- the Bernoulli log-density without a gradient: x . l - sum softplus(l) ----------------------

@pytest.mark.parametrize("binary", [True, False])
def test_bernoulli_log_prob_without_gradient_equals_bce_with_logits(binary):
    """The evaluation formula (no gradient) against -BCE-with-logits in float64 and against the
    training formula (with a gradient), logits from -100 to 100, x binary or anywhere in [0, 1],
    a sample dimension in front of the images (broadcast over x)."""
    g = torch.Generator().manual_seed(0)
    logits = 8 * torch.randn(7, 5, 1, 4, 4, generator=g)
    logits[0, 0, 0, 0] = torch.tensor([-100.0, -30.0, 30.0, 100.0])  # softplus's far ends
    x = (torch.rand(5, 1, 4, 4, generator=g) < 0.4).float() if binary else torch.rand(5, 1, 4, 4, generator=g)
    ref = -F.binary_cross_entropy_with_logits(logits.double(), x.double().expand_as(logits),
                                              reduction="none").flatten(2).sum(-1)  # (7, 5)
    # 16 float32 terms of at most |l| each: rounding of a few ulps of the largest term per addition
    atol = 16 * 4 * torch.finfo(torch.float32).eps * float(logits.abs().max())
    with torch.no_grad():
        lean = Bernoulli(logits, event_dims=3).log_prob(x)
    trained = Bernoulli(logits.requires_grad_(), event_dims=3).log_prob(x)
    assert trained.requires_grad and not lean.requires_grad and lean.shape == (7, 5)
    torch.testing.assert_close(lean.double(), ref, rtol=0, atol=atol)
    torch.testing.assert_close(trained.detach().double(), ref, rtol=0, atol=atol)


@pytest.mark.parametrize("shape,event_dims", [((4, 3, 1, 28, 28), 3), ((5, 100), 1), ((5, 67), 1), ((5, 16), 1),
                                              ((2, 3, 5, 8), 2), ((2, 9), 0), ((3, 3, 32, 32), 3)])
def test_softplus_sum_by_group_products_equals_the_sum_of_softplus(shape, event_dims):
    """sum max(l, 0) + log prod (1 + exp(-|l|)) in groups (with and without a ragged last group,
    no group at all, no event dimension) against sum softplus(l) in float64, logits over 60 nats."""
    g = torch.Generator().manual_seed(1)
    logits = 10 * torch.randn(shape, generator=g)
    logits.view(-1)[:4] = torch.tensor([-30.0, 30.0, 0.0, -1e-4])
    ours = softplus_sum(logits, event_dims)
    ref = F.softplus(logits.double())
    ref = ref.flatten(ref.dim() - event_dims).sum(-1) if event_dims else ref
    d = math.prod(shape[len(shape) - event_dims:])
    # float32: one rounding (2^-24 relative) per addition of at most d terms of at most max|l|,
    # per factor 1 + exp(-|l|) and per product; 4 units of that per term
    atol = 4 * d * 2.0 ** -24 * (1 + float(logits.abs().max()))
    assert ours.shape == ref.shape and ours.dtype == torch.float32
    torch.testing.assert_close(ours.double(), ref, rtol=0, atol=atol)


# ---- compile=True: the decoder and its log-density compiled per block ---------------------------

def _tiny(variant="vae"):
    torch.manual_seed(0)
    kw = {"vae-vamp": {"pseudo_inputs": 9}, "vae-gaussian": {"decoder": "gaussian"}}.get(variant, {})
    model = build_model(variant.replace("-gaussian", ""), (1, 6, 6), hidden=(20,), latent_dim=3, **kw).eval()
    return model, (torch.rand(5, 1, 6, 6) < 0.4).float()


def _eager_backend(monkeypatch):
    """compile=True with dynamo's ``eager`` backend: the plumbing (tracing, guards, the same
    draws) without inductor's seconds of C++ compilation. Dynamo's caches are emptied first: past
    its recompile limit (8 models or block shapes for one function) it would run the function
    uncompiled."""
    torch._dynamo.reset()
    monkeypatch.setattr(importance, "_compiled",
                        torch.compile(importance.block_log_weights, backend="eager", dynamic=False))


@pytest.mark.parametrize("variant", ["vae", "vae-vamp", "vae-gaussian"])
def test_compiled_estimate_equals_the_eager_one(variant, monkeypatch):
    """The same draws and value; new q and prior objects for each batch of images reuse the
    compiled blocks (no recompilation beyond the two block shapes of the first batch)."""
    from torch._dynamo.utils import counters

    model, x = _tiny(variant)
    _eager_backend(monkeypatch)
    counters.clear()
    kw = {"k": 230, "chunk": 100, "block_rows": 64}
    eager = importance_sampled_log_prob(model, x, generator=torch.Generator().manual_seed(3), **kw)
    compiled = importance_sampled_log_prob(model, x, generator=torch.Generator().manual_seed(3), compile=True, **kw)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=2e-5)
    via_model = model.log_prob(x, k=230, chunk=100, generator=torch.Generator().manual_seed(3), compile=True)
    torch.testing.assert_close(via_model, model.log_prob(x, k=230, chunk=100,
                                                         generator=torch.Generator().manual_seed(3)),
                               rtol=0, atol=2e-5)
    frames = counters["stats"]["unique_graphs"]
    model.log_prob(1 - x, k=230, chunk=100, compile=True)  # other images, other q: no new graph
    assert counters["stats"]["unique_graphs"] == frames


def test_blocks_are_balanced():
    z = torch.zeros(230, 5, 3)
    assert [len(b) for b in z.split(importance.balanced_block_sizes(len(z), 12))] == [12] * 10 + [11] * 10
    assert [len(b) for b in z[:100].split(importance.balanced_block_sizes(100, 20))] == [20] * 5
    assert [len(b) for b in z[:3].split(importance.balanced_block_sizes(3, 1000))] == [3]


def test_compile_unavailable_is_a_one_line_error(monkeypatch):
    model, x = _tiny()
    torch._dynamo.reset()  # a cached graph for this code would never reach the failing backend

    def failing_backend(gm, inputs):
        raise RuntimeError("InvalidCxxCompiler: no working C++ compiler found\nsecond line")

    monkeypatch.setattr(importance, "_compiled",
                        torch.compile(importance.block_log_weights, backend=failing_backend, dynamic=False))
    with pytest.raises(importance.CompileUnavailableError, match="compile: torch.compile is unavailable here"
                       r" \(BackendCompilerFailed: .*\); evaluate without compile") as e:
        importance_sampled_log_prob(model, x, k=10, compile=True)
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)

    def no_compile(*a, **kw):
        raise RuntimeError("torch.compile is not supported on Python 3.99+")

    monkeypatch.setattr(importance, "_compiled", None)
    monkeypatch.setattr(torch, "compile", no_compile)
    with pytest.raises(importance.CompileUnavailableError, match=r"\(RuntimeError: torch.compile is not supp"):
        model.log_prob(x, k=10, compile=True)


def test_genzoo_eval_compile(tmp_path, monkeypatch, capsys):
    """`genzoo eval --compile`: the same figure as without it; unavailable: a one-line error;
    on an exact-likelihood model: a one-line error."""
    run = tmp_path / "vae"
    tiny = ["--data", "digits", "--binarize", "static", "--limit", "100", "--epochs", "1", "--batch-size", "50",
            "--progress", "false", "--hidden", "16", "--latent-dim", "2"]
    assert main(["train", "vae", *tiny, "--out", str(run)]) == 0
    capsys.readouterr()
    figures = []
    _eager_backend(monkeypatch)
    for extra in ([], ["--compile"]):
        assert main(["eval", str(run), "-k", "50", "--limit", "30", *extra]) == 0
        figures.append(json.loads(capsys.readouterr().out)["nll_nats"])
    assert figures[1] == pytest.approx(figures[0], abs=1e-5)
    torch._dynamo.reset()
    monkeypatch.setattr(importance, "_compiled", torch.compile(
        importance.block_log_weights, backend=lambda gm, inputs: 1 / 0, dynamic=False))
    assert main(["eval", str(run), "-k", "5", "--limit", "3", "--compile"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("genzoo: error: compile: torch.compile is unavailable here (BackendCompilerFailed")
    with pytest.raises(ValueError, match="only the importance-sampled NLL of a latent-variable model"):
        evaluate_likelihood(_Exact(), torch.zeros(2, 1, 1, 2), compile=True)


class _Exact(torch.nn.Module):
    exact_likelihood = has_likelihood = True
    device = torch.device("cpu")
    likelihood_type = "bernoulli"

    def log_prob(self, x):
        return -x.flatten(1).sum(-1)


@pytest.mark.slow
def test_inductor_compiled_estimate_equals_the_eager_one():
    """The real thing: inductor's C++ kernels (seconds to compile) give the eager estimate."""
    model, x = _tiny()
    torch._dynamo.reset()
    eager = importance_sampled_log_prob(model, x, k=300, generator=torch.Generator().manual_seed(5))
    compiled = importance_sampled_log_prob(model, x, k=300, generator=torch.Generator().manual_seed(5),
                                           compile=True)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=2e-5)
