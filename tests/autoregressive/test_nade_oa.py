"""Order-agnostic NADE: every ordering and every ensemble of orderings is a normalised model,
samples of the ensemble follow its log_prob, and the training objective is an unbiased estimate
of the NLL averaged over orderings."""

import itertools
import math

import pytest
import torch
from scipy.stats import chi2

from genzoo.objectives.order_agnostic import OrderAgnosticNLL


def test_each_ordering_and_the_ensemble_are_normalised(make_model, all_images):
    model = make_model("nade-oa", (1, 2, 2), orderings=4)
    images = all_images((1, 2, 2), 2)
    with torch.no_grad():
        per = torch.stack([model._log_prob_in_order(images, o) for o in model.orders])  # (4, 16)
        ensemble = model.log_prob(images)
    assert torch.allclose(per.exp().sum(1), torch.ones(4, dtype=per.dtype))
    assert torch.allclose(ensemble, torch.logsumexp(per, 0) - math.log(4))
    assert torch.allclose(model.log_prob(images, orderings=1), per[0])  # ordering 0 is the raster order
    assert not torch.allclose(per[0], per[1])  # the orderings are different models
    assert model.orders[1:].ne(torch.arange(4)).any()
    with pytest.raises(ValueError, match="orderings"):
        model.log_prob(images, orderings=5)


def test_ensemble_samples_follow_its_log_prob(make_model, all_images):
    model = make_model("nade-oa", (1, 2, 2), orderings=3, seed=1, std=1.0)
    images = all_images((1, 2, 2), 2)
    with torch.no_grad():
        probs = model.log_prob(images).exp()
    n = 20_000
    samples = model.sample(n, generator=torch.Generator().manual_seed(2))
    index = (samples.flatten(1).round().long() * 2 ** torch.arange(3, -1, -1)).sum(1)
    counts = torch.bincount(index, minlength=16).double()
    expected = probs * n
    assert expected.min() > 5 and 0.5 * (probs - 1 / 16).abs().sum() > 0.1  # the test has power
    stat = ((counts - expected) ** 2 / expected).sum().item()
    assert stat < chi2.ppf(0.999, 15), stat


def _exact_objective_expectation(model, x):
    """E over d ~ U{0..D-1} and uniformly random observed sets S, |S| = d, of the objective."""
    v = x.flatten(1)
    d_total = v.shape[1]
    total = torch.zeros(len(x), dtype=v.dtype)
    for d in range(d_total):
        subsets = list(itertools.combinations(range(d_total), d))
        for s in subsets:
            mask = torch.zeros_like(v)
            mask[:, list(s)] = 1
            nll = torch.nn.functional.binary_cross_entropy_with_logits(model.masked_logits(v, mask), v,
                                                                        reduction="none")
            total += (nll * (1 - mask)).sum(1) * d_total / (d_total - d) / len(subsets) / d_total
    return total


def test_objective_is_unbiased_for_the_mean_nll_over_orderings(make_model):
    model = make_model("nade-oa", (1, 1, 3))
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64).view(2, 1, 1, 3)
    with torch.no_grad():
        mean_over_orders = torch.stack([-model._log_prob_in_order(x, torch.tensor(o))
                                        for o in itertools.permutations(range(3))]).mean(0)
        exact = _exact_objective_expectation(model, x)
        assert torch.allclose(exact, mean_over_orders)  # the identity behind the objective
        reps = 20_000
        draws = OrderAgnosticNLL()(model, {"x": x.repeat(reps, 1, 1, 1)},
                                   generator=torch.Generator().manual_seed(0))["loss"].view(reps, 2)
    stderr = draws.std(0) / math.sqrt(reps)
    assert torch.all((draws.mean(0) - mean_over_orders).abs() < 4 * stderr), (draws.mean(0), mean_over_orders)


def test_objective_trains_and_init_from_data_gives_the_independent_fit(make_model):
    from genzoo.training.run import build_model

    g = torch.Generator().manual_seed(1)
    x = (torch.rand(500, 1, 3, 3, generator=g) < torch.rand(1, 3, 3, generator=g)).float()
    ref = build_model("independent", (1, 3, 3))
    ref.init_from_data(x)
    model = build_model("nade-oa", (1, 3, 3), hidden=(16,))
    model.init_from_data(x)
    with torch.no_grad():
        model.net[-1].weight.zero_()
    assert torch.allclose(model.log_prob(x).mean(), ref.log_prob(x).mean(), atol=1e-4)
    torch.manual_seed(0)
    model = build_model("nade-oa", (1, 3, 3), hidden=(16,))
    objective, opt = OrderAgnosticNLL(), torch.optim.Adam(model.parameters(), lr=1e-2)
    first = -model.log_prob(x).mean().item()
    for _ in range(100):
        opt.zero_grad()
        objective(model, {"x": x}, generator=None)["loss"].mean().backward()
        opt.step()
    assert -model.log_prob(x).mean().item() < first - 0.5


@pytest.mark.parametrize("hidden", [(6,), (6, 5)])  # the one-layer cumulative-sum path and the D-pass path
@pytest.mark.parametrize("likelihood", ["bernoulli", "categorical"])
def test_ordering_conditionals_match_one_masked_pass_per_step(make_model, hidden, likelihood):
    model = make_model("nade-oa", (1, 2, 3), likelihood=likelihood, levels=3, hidden=hidden, orderings=3)
    g = torch.Generator().manual_seed(4)
    v = torch.randint(0, 3, (7, 6), generator=g).double() / 2
    if likelihood == "bernoulli":
        v = v.round()
    for order in model.orders:
        with torch.no_grad():
            fast = model._order_logits(v, order)  # (7, 6[, 3])
            for t, pixel in enumerate(order.tolist()):
                mask = torch.zeros_like(v)
                mask[:, order[:t]] = 1  # the pixels before step t are observed
                ref = model.masked_logits(v, mask)[:, pixel]
                assert torch.allclose(fast[:, pixel], ref, atol=1e-10), (t, pixel)


def test_exact_validation_reports_the_ensemble_nll(make_model, all_images):
    from genzoo.objectives.order_agnostic import OrderAgnosticConfig

    model = make_model("nade-oa", (1, 2, 2), orderings=2)
    images = all_images((1, 2, 2), 2)
    exact = OrderAgnosticNLL(OrderAgnosticConfig(validate="exact"))
    assert exact.monitor == "nll"
    out = exact.evaluate(model, {"x": images})
    assert torch.equal(out["nll"], -model.log_prob(images).detach())
    estimate = OrderAgnosticNLL()
    assert estimate.monitor == "oa_nll"
    figures = estimate.evaluate(model, {"x": images}, generator=torch.Generator().manual_seed(0))
    assert set(figures) == {"loss", "oa_nll"}
    with pytest.raises(ValueError, match="validate"):
        OrderAgnosticConfig(validate="sometimes")
