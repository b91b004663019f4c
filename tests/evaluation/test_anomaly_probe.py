"""Anomaly scores/AUROC and the linear probe, on tiny data with a stand-in latent-variable model."""

import csv
import math

import numpy as np
import pytest
import torch
from torch import nn

from genzoo.distributions import DiagonalGaussian, StandardNormal
from genzoo.evaluation import anomaly as A
from genzoo.evaluation import probe as P
from genzoo.models.base import GenerativeModel, LatentVariableModel, ModelConfig, VariationalModel

SHAPE = (1, 2, 2)  # 4 pixels: the first two are the "normal" subspace


class Projector(LatentVariableModel):
    """encode = the first two pixels, decode puts them back (others zero): reconstruction error is
    the energy outside the normal subspace. log p(x) is N(x; 0, I); the "discriminator" says
    real = small norm."""

    exact_likelihood = True

    def __init__(self):
        super().__init__(ModelConfig(shape=SHAPE))
        self.latent_dim = 2
        self.scale = nn.Parameter(torch.ones(()))

    def encode(self, x):
        return x.flatten(1)[:, :2] * self.scale

    def decode(self, z):
        return torch.cat([z, torch.zeros_like(z)], 1).view(-1, *SHAPE)

    def log_prob(self, x, **kw):
        return torch.distributions.Normal(0.0, 1.0).log_prob(x.flatten(1)).sum(1)

    def discriminate(self, x):
        return -x.flatten(1).norm(dim=1)


class LinearGaussian(VariationalModel):
    """p(z) = N(0, I_4), p(x|z) = N(z, I), and the exact posterior q(z|x) = N(x/2, I/2): the ELBO
    equals log p(x) = log N(x; 0, 2I) in expectation."""

    def __init__(self):
        super().__init__(ModelConfig(shape=SHAPE))
        self.latent_dim = 4
        self.w = nn.Parameter(torch.ones(()))

    def prior(self):
        return StandardNormal(4)

    def posterior(self, x):
        return DiagonalGaussian(x.flatten(1) / 2 * self.w, torch.full_like(x.flatten(1), math.log(0.5)))

    def likelihood(self, z):
        return DiagonalGaussian(z.reshape(*z.shape[:-1], *SHAPE), torch.zeros(*z.shape[:-1], *SHAPE), event_dims=3)


def _normal_and_anomalous(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * n, 4, generator=g) * 0.5
    x[:n, 2:] = 0.0  # normal examples live in the first two pixels
    x[n:, 2:] += 3.0  # anomalies are far out in the other two
    labels = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return x.view(-1, *SHAPE), labels


def test_auroc_of_a_perfect_score_is_one_and_of_a_reversed_score_zero():
    t = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    assert A.auroc(s, t) == 1.0
    assert A.auroc(-s, t) == 0.0
    assert A.auroc(np.zeros(5), t) == 0.5
    with pytest.raises(ValueError, match="both"):
        A.auroc(s, np.ones(5))


def test_available_scores_follow_the_model_flags():
    scores = A.available_scores(Projector())
    assert set(scores) == {"nll", "recon", "code", "disc"} and scores[0] == "nll"
    # a variational model: the cheap bound first, then the importance-sampled NLL
    assert A.available_scores(LinearGaussian())[:2] == ("nelbo", "nll")

    class NoLikelihood(Projector):
        has_likelihood = False
        discriminate = None

    assert A.available_scores(NoLikelihood()) == ("recon", "code")
    with pytest.raises(ValueError, match="does not apply"):
        A.anomaly_scores(NoLikelihood(), torch.zeros(2, *SHAPE), "nll")
    with pytest.raises(ValueError, match="unknown score"):
        A.anomaly_scores(Projector(), torch.zeros(2, *SHAPE), "magic")


@pytest.mark.parametrize("score", ["nll", "nelbo", "recon", "code", "disc"])
def test_every_score_separates_far_anomalies(score):
    x, lab = _normal_and_anomalous(50, 0)
    ref = _normal_and_anomalous(50, 1)[0][:50]  # normal training inputs for the code Gaussian
    model = LinearGaussian() if score == "nelbo" else Projector()
    out = A.one_class_auroc(model, x, lab, normal_label=0, score=score, reference=ref,
                            generator=torch.Generator().manual_seed(0))
    assert out["scores"].shape == (100,)
    if score in ("code", "disc"):
        # codes ignore the anomalous pixels: neither the code density nor a discriminator of codes
        # (an AAE's) can tell them apart (chance level)
        assert abs(out["auroc"] - 0.5) < 0.2
    elif score == "nelbo":  # a one-sample bound: noise of about 1 nat against a gap of about 4
        assert out["auroc"] > 0.95
    else:
        assert out["auroc"] == 1.0


class ImageCritic(GenerativeModel):
    """A GAN stand-in: no likelihood, no latent; ``discriminate`` returns InfoGAN's tuple."""

    has_likelihood = False

    def __init__(self):
        super().__init__(ModelConfig(shape=SHAPE))
        self.w = nn.Parameter(torch.ones(()))

    def discriminate(self, x):
        logit = -x.flatten(1).norm(dim=1) * self.w  # (B,): real = small norm
        return logit, torch.zeros(len(x), 3), torch.zeros(len(x), 2)


def test_discriminator_score_of_an_image_critic():
    assert A.available_scores(ImageCritic()) == ("disc",)
    x, lab = _normal_and_anomalous(50, 0)
    assert A.one_class_auroc(ImageCritic(), x, lab, normal_label=0)["auroc"] == 1.0


def test_reconstruction_score_is_the_squared_error_and_inputs_are_untouched():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]]).view(1, *SHAPE)
    before = x.clone()
    s = A.anomaly_scores(Projector(), x, "recon")
    assert s[0] == pytest.approx(9.0 + 16.0)
    assert torch.equal(x, before)


def test_code_score_without_reference_is_the_standard_normal_nll():
    x = torch.tensor([[0.0, 0.0, 5.0, 5.0], [1.0, 0.0, 0.0, 0.0]]).view(2, *SHAPE)
    s = A.anomaly_scores(Projector(), x, "code")
    assert s[0] == pytest.approx(math.log(2 * math.pi))
    assert s[1] == pytest.approx(math.log(2 * math.pi) + 0.5)


def test_write_scores_csv(tmp_path):
    path = A.write_scores_csv(tmp_path / "s.csv", np.array([0.5, 2.0]), [3, 7], [False, True],
                              score_name="nll")
    rows = list(csv.DictReader(open(path)))
    assert rows == [{"index": "0", "label": "3", "is_anomaly": "0", "nll": "0.5"},
                    {"index": "1", "label": "7", "is_anomaly": "1", "nll": "2.0"}]


# ------------------------------------------------------------------------------------------ probe


def _label_coded(n, seed, k=4):
    """Images whose first two pixels place the label on a circle; the rest is strong noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    ang = 2 * math.pi * y / k
    x = 3.0 * torch.randn(n, 4, generator=g)
    x[:, 0], x[:, 1] = torch.cos(ang), torch.sin(ang)
    return x.view(-1, *SHAPE), y


def test_balanced_indices_are_balanced_and_seeded():
    y = torch.arange(1000) % 10
    idx = P.balanced_indices(y, 100, seed=3)
    assert len(idx) == 100 and np.all(np.bincount(y[idx].numpy(), minlength=10) == 10)
    assert np.array_equal(idx, P.balanced_indices(y, 100, seed=3))
    assert not np.array_equal(idx, P.balanced_indices(y, 100, seed=4))
    assert len(P.balanced_indices(y, None)) == 1000
    assert len(P.balanced_indices(y, 105, seed=0)) == 105
    with pytest.raises(ValueError, match="cannot cover"):
        P.balanced_indices(y, 5)


def test_probe_on_codes_that_encode_the_label_has_no_error():
    (xtr, ytr), (xte, yte) = _label_coded(400, 0), _label_coded(200, 1)
    rows = P.probe(Projector(), xtr, ytr, xte, yte, label_counts=(20, None), seed=0)
    by = {(r["features"], r["labels"]): r["test_error"] for r in rows}
    assert by[("codes", 20)] == 0.0 and by[("codes", 400)] == 0.0
    assert {r["features"] for r in rows} == {"codes", "pixels", "pca2"}
    # PCA keeps the two noisy high-variance pixels, so it does clearly worse than the codes
    assert by[("pca2", 400)] > 0.3
    table = P.format_probe_table(rows)
    assert "| codes | 2 | 0.00% | 0.00% |" in table


def test_finetuning_leaves_the_model_untouched_and_learns():
    (xtr, ytr), (xte, yte) = _label_coded(200, 0), _label_coded(100, 1)
    model = Projector()
    before = model.scale.detach().clone()
    err = P.finetune_error(model, xtr, ytr, xte, yte, epochs=30, lr=0.05, seed=0)
    assert torch.equal(model.scale.detach(), before)
    assert err < 0.1


def test_nelbo_and_nll_scores_of_a_linear_gaussian_match_its_marginal():
    """Exact posterior: -ELBO and the IS-NLL both estimate -log N(x; 0, 2I) (estimator B's noise
    is the reconstruction term's, variance 2 per example with k = 1: tolerance 6 sigma / sqrt(N))."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, *SHAPE, generator=g)
    exact = -torch.distributions.Normal(0.0, math.sqrt(2.0)).log_prob(x.flatten(1)).sum(1).double().numpy()
    nll = A.anomaly_scores(LinearGaussian(), x, "nll", k=3, generator=g)
    assert np.abs(nll - exact).max() < 1e-4  # log w is constant for the exact posterior
    nelbo = A.anomaly_scores(LinearGaussian(), x, "nelbo", generator=g)
    assert abs((nelbo - exact).mean()) < 6 * math.sqrt(2.0 / len(x))
