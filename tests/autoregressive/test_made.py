"""MADE, the mixture of Bernoullis, and binary vector data (D,) for the autoregressive models."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from scipy.stats import chi2

from genzoo.objectives.em import em_step, fit_em
from genzoo.objectives.made import MaskSamplingConfig, MaskSamplingNLL
from genzoo.registry import get_model
from genzoo.training.run import build_model

D = 6


def _model(name: str, d: int = D, seed: int = 0, std: float = 1.0, **kw):
    """A float64 model for vectors of shape (d,), every parameter drawn from N(0, std^2)."""
    entry = get_model(name)
    model = entry.model_cls(entry.config_cls(shape=(d,), **kw)).double()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * std)
    return model.eval()


def _all_vectors(d: int, levels: int = 2) -> torch.Tensor:
    """Every vector with values k / (levels - 1): (levels^d, d), float64, in lexicographic order."""
    return torch.tensor(list(itertools.product(range(levels), repeat=d)), dtype=torch.float64) / (levels - 1)


MADE_SETS = {
    "one-layer": {"hidden": (8,)},
    "deep-direct-set": {"hidden": (9, 7), "direct": True, "masks": 4},
    "order-agnostic-set": {"hidden": (9, 7), "masks": 5, "order_agnostic": True, "direct": True},
    "random-order-single": {"hidden": (8,), "order_agnostic": True, "natural_first": False},
}


# ---- MADE: the autoregressive property --------------------------------------------------------------


@pytest.mark.parametrize("kw", MADE_SETS.values(), ids=MADE_SETS.keys())
def test_made_jacobian_is_autoregressive_for_every_mask(kw):
    """d(logit_d)/d(x_j) is exactly zero unless j comes before d in the mask's ordering, for every
    mask of the set; and the allowed entries are not all zero (the check has power)."""
    model = _model("made", **kw)
    v = torch.rand(1, D, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    orderings = set()
    for i in range(model.config.masks):
        degrees = model.mask_degrees(i)
        jac = torch.autograd.functional.jacobian(lambda x, deg=degrees: model.masked_logits(x, deg), v)
        jac = jac.reshape(D, D)  # [output d, input j]
        m0 = degrees[0]
        allowed = m0.unsqueeze(1) > m0.unsqueeze(0)  # j strictly earlier than d
        assert (jac[~allowed] == 0).all(), f"mask {i} leaks the future"
        assert (jac[allowed] != 0).float().mean() > 0.5, f"mask {i} is nearly disconnected"
        orderings.add(tuple(m0.tolist()))
    if kw.get("order_agnostic") and model.config.masks > 1:
        assert len(orderings) > 1  # the set really holds several orderings
    elif kw.get("natural_first") is False:  # a single mask in a random ordering (seeded: not the identity)
        assert orderings != {tuple(range(1, D + 1))} and len(orderings) == 1
    else:
        assert orderings == {tuple(range(1, D + 1))}


def test_made_fresh_masks_are_autoregressive():
    model = _model("made", hidden=(9, 7), order_agnostic=True)
    v = torch.rand(1, D, dtype=torch.float64)
    gen = torch.Generator().manual_seed(5)
    for _ in range(5):
        degrees = model.random_degrees(gen)
        jac = torch.autograd.functional.jacobian(lambda x, deg=degrees: model.masked_logits(x, deg), v)
        allowed = degrees[0].unsqueeze(1) > degrees[0].unsqueeze(0)
        assert (jac.reshape(D, D)[~allowed] == 0).all()


# ---- MADE: normalisation, sampling ------------------------------------------------------------------


@pytest.mark.parametrize("kw", MADE_SETS.values(), ids=MADE_SETS.keys())
def test_made_normalises_single_mask_and_ensemble(kw):
    """Summed over all 2^D vectors, p(x) is 1 for every mask and for the ensemble."""
    model = _model("made", **kw)
    x = _all_vectors(D)
    with torch.no_grad():
        for i in range(model.config.masks):
            lp = model.log_prob_under(x, model.mask_degrees(i))
            assert torch.logsumexp(lp, 0).item() == pytest.approx(0, abs=1e-9)
        for n in range(1, model.config.masks + 1):
            assert torch.logsumexp(model.log_prob_ensemble(x, n), 0).item() == pytest.approx(0, abs=1e-9)
        assert torch.logsumexp(model.log_prob(x), 0).item() == pytest.approx(0, abs=1e-9)


def test_made_ensemble_is_log_mean_prob():
    model = _model("made", hidden=(8,), masks=3, order_agnostic=True)
    x = _all_vectors(D)[:10]
    with torch.no_grad():
        per = torch.stack([model.log_prob_under(x, model.mask_degrees(i)).exp() for i in range(3)])
        assert torch.allclose(model.log_prob(x), per.mean(0).log(), atol=1e-12)
        assert not torch.allclose(per[0], per[1])  # the masks really differ


def test_made_categorical_normalises():
    model = _model("made", d=3, hidden=(8,), masks=2, order_agnostic=True, likelihood="categorical", levels=3)
    x = _all_vectors(3, levels=3)
    with torch.no_grad():
        assert torch.logsumexp(model.log_prob(x), 0).item() == pytest.approx(0, abs=1e-9)


def test_made_one_dimension():
    model = _model("made", d=1, hidden=(3, 2))
    with torch.no_grad():
        assert torch.logsumexp(model.log_prob(_all_vectors(1)), 0).item() == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("kw", [{"hidden": (8, 7), "direct": True, "masks": 3, "order_agnostic": True},
                                {"hidden": (8,), "likelihood": "categorical", "levels": 4}])
def test_made_fast_sampling_equals_naive(kw):
    model = _model("made", std=0.7, **kw)
    fast = model.sample(40, generator=torch.Generator().manual_seed(3))
    naive = model.sample(40, generator=torch.Generator().manual_seed(3), fast=False)
    assert fast.shape == (40, D)
    assert torch.equal(fast, naive)


def _chi_square_ok(model, d: int, n: int = 20_000) -> None:
    """Pearson chi-square of n samples against exp(log_prob) below its 0.999 quantile."""
    x = _all_vectors(d)
    with torch.no_grad():
        probs = model.log_prob(x).exp()
    assert 0.5 * (probs - 1 / len(probs)).abs().sum() > 0.1  # far from uniform: the test has power
    samples = model.sample(n, generator=torch.Generator().manual_seed(2))
    index = (samples.long() * 2 ** torch.arange(d - 1, -1, -1)).sum(1)  # lexicographic, as _all_vectors
    counts = torch.bincount(index, minlength=len(probs)).double()
    expected = probs * n
    assert expected.min() > 5  # every cell may enter the statistic
    stat = ((counts - expected) ** 2 / expected).sum().item()
    assert stat < chi2.ppf(0.999, len(probs) - 1), stat


def test_made_samples_follow_log_prob():
    _chi_square_ok(_model("made", d=4, hidden=(8,), masks=3, order_agnostic=True, std=0.8), 4)


def test_mob_samples_follow_log_prob():
    _chi_square_ok(_model("mob", d=4, components=3, std=1.0), 4)


# ---- MADE: training by mask sampling ----------------------------------------------------------------


def test_mask_sampling_objective_uses_set_or_fresh_masks():
    model = _model("made", hidden=(8,), masks=4, order_agnostic=True)
    x = _all_vectors(D)[::3]
    with torch.no_grad():
        per_mask = {round(float(model.log_prob_under(x, model.mask_degrees(i)).sum()), 6) for i in range(4)}
    obj = MaskSamplingNLL(MaskSamplingConfig(masks="set"))
    gen = torch.Generator().manual_seed(0)
    seen = {round(-float(obj(model, {"x": x}, generator=gen)["loss"].detach().sum()), 6) for _ in range(30)}
    assert seen == per_mask  # every step uses one mask of the set, and all of them come up
    fresh = MaskSamplingNLL(MaskSamplingConfig(masks="fresh"))
    loss = fresh(model, {"x": x}, generator=gen)["loss"]
    assert round(-float(loss.detach().sum()), 6) not in per_mask
    loss.sum().backward()
    assert model.layers[0].weight.grad.abs().sum() > 0
    val = obj.evaluate(model, {"x": x})
    assert torch.allclose(val["nll"], -model.log_prob(x))


def test_mask_sampling_config_refuses_unknown():
    with pytest.raises(ValueError, match="masks"):
        MaskSamplingConfig(masks="sometimes")


@pytest.mark.parametrize("kw,match", [({"masks": 0}, "masks"), ({"ensemble": 3, "masks": 2}, "ensemble"),
                                      ({"hidden": ()}, "hidden")])
def test_made_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        build_model("made", (5,), **kw)


def test_made_state_dict_round_trip_keeps_masks():
    a = _model("made", hidden=(8,), masks=3, order_agnostic=True, mask_seed=1)
    b = build_model("made", (D,), hidden=(8,), masks=3, order_agnostic=True, mask_seed=2).double()
    b.load_state_dict(a.state_dict())
    x = _all_vectors(D)[:7]
    with torch.no_grad():
        assert torch.equal(a.log_prob(x), b.eval().log_prob(x))


# ---- mixture of Bernoullis --------------------------------------------------------------------------


def test_mob_normalises_and_matches_closed_form():
    model = _model("mob", components=3)
    x = _all_vectors(D)
    with torch.no_grad():
        lp = model.log_prob(x)
        assert torch.logsumexp(lp, 0).item() == pytest.approx(0, abs=1e-9)
        pi = torch.softmax(model.weight_logits, 0)
        mu = torch.sigmoid(model.logits)  # (K, D)
        xk, muk = x.unsqueeze(1), mu.unsqueeze(0)  # (N, 1, D), (1, K, D)
        direct = (pi * (muk ** xk * (1 - muk) ** (1 - xk)).prod(2)).sum(1)
        assert torch.allclose(lp, direct.log(), atol=1e-10)


@pytest.mark.parametrize("pseudo_count", [0.0, 0.5])
def test_mob_em_never_decreases_the_objective(pseudo_count):
    """EM's monotonicity: log p(data) (+ log prior when pseudo_count > 0) never goes down."""
    gen = torch.Generator().manual_seed(0)
    truth = _model("mob", d=12, components=4, std=2.0, seed=3)
    x = truth.sample(500, generator=gen)
    model = build_model("mob", (12,), components=5).double()
    fit_em(model, x, iterations=1, pseudo_count=pseudo_count, generator=gen)  # random start

    def objective() -> float:
        with torch.no_grad():
            ll = float(model.log_prob(x).sum())
            if pseudo_count:  # Dirichlet(1 + a) on pi, Beta(1 + a, 1 + a) on every mean, up to constants
                mu = torch.sigmoid(model.logits)
                ll += pseudo_count * float(torch.log_softmax(model.weight_logits, 0).sum())
                ll += pseudo_count * float((torch.log(mu) + torch.log1p(-mu)).sum())
        return ll

    values = [objective()]
    for _ in range(40):
        before = em_step(model, x, pseudo_count=pseudo_count)
        if pseudo_count == 0:
            assert before * len(x) == pytest.approx(values[-1], rel=1e-12)
        values.append(objective())
    steps = torch.tensor(values).diff()
    assert (steps >= -1e-9 * abs(values[0])).all(), steps.min()
    assert values[-1] > values[0] + 1  # it did learn


def test_mob_em_recovers_a_fit_better_than_independent():
    gen = torch.Generator().manual_seed(1)
    truth = _model("mob", d=10, components=3, std=3.0, seed=4)
    with torch.no_grad():
        truth.weight_logits.zero_()  # equal weights: a real mixture, far from independent
    x, test = truth.sample(1000, generator=gen), truth.sample(1000, generator=gen)
    mob = build_model("mob", (10,), components=3).double()
    fit_em(mob, x, iterations=50, pseudo_count=0.1, generator=gen)
    indep = build_model("independent", (10,)).double()
    indep.init_from_data(x)
    with torch.no_grad():
        true_nll = -truth.log_prob(test).mean().item()
        mob_nll = -mob.log_prob(test).mean().item()
        ind_nll = -indep.log_prob(test).mean().item()
    assert mob_nll < ind_nll - 0.5
    # within 5 standard errors of the truth's own test NLL
    se = truth.log_prob(test).std().item() / math.sqrt(len(test))
    assert mob_nll < true_nll + 5 * se + 0.05


def test_mob_refuses_categorical():
    with pytest.raises(ValueError, match="binary"):
        build_model("mob", (5,), likelihood="categorical")


# ---- binary vectors in the other models -------------------------------------------------------------

VECTOR_MODELS = {
    "independent": {},
    "fvsbn": {},
    "nade": {"hidden": 7},
    "nade-oa": {"hidden": (7,), "orderings": 3},
}


@pytest.mark.parametrize("name", VECTOR_MODELS)
def test_vector_models_normalise_and_keep_shape(name):
    model = _model(name, **VECTOR_MODELS[name])
    x = _all_vectors(D)
    with torch.no_grad():
        assert torch.logsumexp(model.log_prob(x), 0).item() == pytest.approx(0, abs=1e-9)
        if name != "nade-oa":
            assert model(x).shape == (len(x), D)
    fast = model.sample(30, generator=torch.Generator().manual_seed(4))
    naive = model.sample(30, generator=torch.Generator().manual_seed(4), fast=False)
    assert fast.shape == (30, D)
    assert torch.equal(fast, naive)


def test_vector_models_refuse_images_and_vice_versa():
    model = _model("nade", hidden=5)
    with pytest.raises(ValueError, match="vectors of shape"):
        model.log_prob(torch.zeros(2, 1, 1, D, dtype=torch.float64))


@pytest.mark.parametrize("name", ["pixelcnn", "pixelcnn-gated", "pixelrnn-row", "pixelrnn-diag",
                                  "vae-conv", "dcgan"])
def test_convolutional_models_refuse_vectors(name):
    with pytest.raises(ValueError, match=r"\(C, H, W\)") as err:
        build_model(name, (D,))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["vae", "ae", "gan"])
def test_mlp_latent_and_adversarial_models_take_vectors(name):
    model = build_model(name, (D,))
    x = _all_vectors(D).float()[:8]
    if name == "ae":
        assert model.reconstruct(x).shape == (8, D)
    else:
        assert model.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, D)
    if name == "vae":
        assert model.log_prob(x, k=4).shape == (8,)


def test_train_and_reload_made_on_vector_files(tmp_path, capsys):
    """End to end through the CLI: a named UCI dataset from .data files, mask-sampling training,
    the run directory reloaded with the same likelihood; a convolutional model refuses the data."""
    from genzoo.cli.main import main
    from genzoo.data import DataConfig, load_dataset
    from genzoo.training.run import load

    gen = torch.Generator().manual_seed(0)
    for split, n in (("train", 40), ("valid", 10), ("test", 10)):
        rows = (torch.rand(n, 5, generator=gen) < 0.3).int().tolist()
        (tmp_path / f"adult_{split}.data").write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    run = tmp_path / "run"
    main(["train", "made", "--data", "adult", "--data-dir", str(tmp_path), "--out", str(run), "--epochs", "2",
          "--masks", "3", "--order-agnostic", "--progress", "false"])
    model = load(run)
    assert model.config.shape == (5,) and model.config.masks == 3
    test = load_dataset(DataConfig(name="adult", data_dir=str(tmp_path))).test.x
    with torch.no_grad():
        lp = model.log_prob(test)
    assert lp.shape == (10,) and torch.isfinite(lp).all()
    assert (run / "samples.png").is_file()
    code = main(["train", "pixelcnn", "--data", "adult", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r2")])
    assert code != 0
    assert "convolutional and needs images" in capsys.readouterr().err
