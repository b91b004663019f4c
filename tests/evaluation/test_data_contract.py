"""The data contract end to end: refusals before training, labels of what is logged and
evaluated, eval with dequantization, and compare's conventions. Each test fails on the code before
the contract (where the combination trained silently or the figure was mislabelled)."""

import csv
import json
import math

import pytest
import torch

from genzoo.cli.main import main
from genzoo.data import DataConfig, DataError, DataSpec, load_dataset
from genzoo.evaluation import features as feat
from genzoo.evaluation.compare import CompareConfig, draw_samples, evaluate_run, format_table
from genzoo.objectives.variational import elbo
from genzoo.training import TrainConfig
from genzoo.training import run as training

TINY = TrainConfig(epochs=1, max_steps=3, batch_size=50, progress=False, sample_every=0, device="cpu")


def _train(name, tmp_path, data, **kw):
    return training.train(name, data_config=data, out_dir=tmp_path / name, train_config=TINY,
                          command=f"genzoo train {name}", **kw)


@pytest.mark.parametrize("model, data, words", [
    ("vae", DataConfig(name="digits", scale="pm1", limit=100), "scale=pm1"),  # Bernoulli decoder
    ("ae", DataConfig(name="digits", scale="pm1", limit=100), "scale=pm1"),  # BCE reconstruction
    ("independent", DataConfig(name="digits", dequantize=True, limit=100), "dequantize"),  # 17-way softmax
])
def test_nonsense_combinations_refused_before_training(model, data, words, tmp_path):
    with pytest.raises(DataError, match=words) as e:
        _train(model, tmp_path, data)
    assert "\n" not in str(e.value)
    assert not (tmp_path / model / "checkpoint.pt").exists() and not (tmp_path / model / "metrics.csv").exists()


@pytest.mark.parametrize("objective, figure", [("iwae", "grey_bce_iw_bound"), ("wake-sleep", "grey_bce_plus_kl")])
def test_other_vae_objectives_name_grey_bce_too(objective, figure, tmp_path):
    _train("vae", tmp_path, DataConfig(name="digits", limit=100), objective=objective)
    header = next(csv.reader(open(tmp_path / "vae" / "metrics.csv")))
    assert f"valid_{figure}" in header and not any("elbo" in h or "nll" in h for h in header)


def test_cli_refusal_is_one_line(tmp_path, capsys):
    rc = main(["train", "vae", "--data", "digits", "--scale", "pm1", "--limit", "100", "--epochs", "1",
               "--max-steps", "1", "--out", str(tmp_path / "r"), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "scale=pm1" in err and len(err.splitlines()) == 1


@pytest.fixture(scope="module")
def grey_vae(tmp_path_factory):
    """`genzoo train vae` on grey-level digits: a Bernoulli decoder on grey values."""
    root = tmp_path_factory.mktemp("grey")
    _train("vae", root, DataConfig(name="digits", limit=200))
    return root / "vae"


def test_bernoulli_on_grey_values_trains_but_is_never_called_an_elbo_or_nll(grey_vae, capsys):
    header = next(csv.reader(open(grey_vae / "metrics.csv")))
    assert "valid_grey_bce_plus_kl" in header
    assert not any("elbo" in h or "nll" in h for h in header)
    spec = json.loads((grey_vae / "config.json").read_text())["data_spec"]
    assert spec == {"shape": [1, 8, 8], "kind": "quantized", "levels": 17, "scale": "01",
                    "binarization": "none", "dequantization": "none"}
    assert main(["eval", str(grey_vae), "-k", "2", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "not a likelihood" in err and "--binarize" in err and "--dequantize" in err
    assert main(["anomaly", str(grey_vae), "--score", "nll", "-k", "2", "--limit", "10", "--device", "cpu",
                 "--out", str(grey_vae / "a.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["score_is"] == "BCE on grey values (not a likelihood)"
    row = evaluate_run(grey_vae, CompareConfig(samples=0, k=2, eval_examples=10))
    assert "nll_nats" not in row and "bits_per_dim" not in row and "BCE on grey values" in row["nll_note"]
    table = format_table([row])
    assert "| n/a (not a likelihood) |" in table and "vae: run vae: a Bernoulli likelihood on grey" in table


def test_eval_with_dequantization_scores_dequantized_data(tmp_path, capsys):
    data_cfg = DataConfig(name="digits", dequantize=True, limit=200)
    model, _ = _train("vae", tmp_path, data_cfg, model_config=training.get_model("vae").default_config(
        decoder="gaussian", hidden=(32,), latent_dim=4))
    # a sharp decoder (sd 0.03, half a level of 1/17) as training would reach it: scoring the clean
    # grid points k/16 instead of dequantized (k + u)/17 is then off by many standard errors
    last = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight[64:] = 0
        last.bias[64:] = 2 * math.log(0.03)
    from genzoo.training import checkpoint as ckpt

    ckpt.save_weights(tmp_path / "vae" / ckpt.WEIGHTS_FILE, model)
    assert main(["eval", str(tmp_path / "vae"), "-k", "20", "--limit", "50", "--dequant-draws", "2",
                 "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["figure"] == "dequantized_bound" and out["bound"] is True and out["k"] == 20
    assert out["dequantization"]["levels"] == 17 and out["dequantization"]["draws_per_example"] == 2
    assert out["dequantization"]["offset_nats"] == pytest.approx(64 * math.log(17))
    assert out["data_spec"]["dequantization"] == "uniform"
    # the same figure by hand: the same 50 test images, dequantized as in training ((k + u) / 17, not
    # the clean k / 16), two draws each, k = 20, plus 64 log 17 (the generator sequence of eval)
    data = load_dataset(data_cfg)
    x = data.test.x[torch.randperm(len(data.test.x), generator=torch.Generator().manual_seed(0))[:50]]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        total = torch.zeros(50, dtype=torch.float64)
        for _ in range(2):
            xd = data.spec.dequantize(x, g)
            assert torch.equal(torch.floor(xd * 17), torch.round(x * 16))  # inside the level's cell
            total -= model.log_prob(xd, k=20, generator=g).double()
            elbo(model, xd, generator=g)  # eval draws the ELBO noise after each IS pass
    per_example = total / 2 + 64 * math.log(17)
    assert out["nll_nats"] == pytest.approx(float(per_example.mean()), rel=1e-9)
    assert out["nll_stderr"] == pytest.approx(float(per_example.std() / math.sqrt(50)), rel=1e-6)
    with torch.no_grad():  # what was reported before the contract: the clean points, plus D log L
        clean = -model.log_prob(x, k=20, generator=g).double() + 64 * math.log(17)
    diff = clean - per_example  # paired over the same images
    assert float(diff.mean()) > 5 * float(diff.std() / math.sqrt(50))


def test_compare_marks_is_estimates_and_uses_the_runs_split_for_features(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    data = DataConfig(name="digits", binarize="static", limit=200, seed=3)
    _train("vae", tmp_path, data)
    cfg = feat.FeatureNetConfig(data="digits", data_seed=3)  # what compare must ask for
    tiny = feat.FeatureNet(feat.FeatureNetConfig(data="digits", input_size=8, channels=(4,), feature_dim=8))
    feat.save_feature_net(tiny, feat.feature_net_path(cfg), accuracy=0.5)
    assert main(["compare", str(tmp_path / "vae"), "--samples", "30", "--k", "3", "--eval-examples", "20",
                 "--kid-subsets", "2", "--markdown"]) == 0
    text = capsys.readouterr().out
    assert "(IS k=3)" in text and "| binary static |" in text and "-ELBO bound (nats)" in text
    assert "Feature metrics in the space of cnn8-digits-seed0-" in text  # the cached net found by its key
    assert feat.feature_net_path(cfg).name.startswith("cnn128-digits-split3-")
    assert main(["compare", str(tmp_path / "vae"), "--samples", "30", "--k", "3", "--eval-examples", "20",
                 "--kid-subsets", "2", "--sample-means", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["samples"] == "decoder means" and row["n_samples"] == 30
    assert "decoder means of prior draws (not samples)" in format_table([row])


def test_feature_net_never_trains_on_the_runs_test_images(monkeypatch, tmp_path):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    seen = {}

    def fake_train(x_tr, y_tr, x_te, y_te, config, log=None):
        seen["train"], seen["test"] = x_tr, x_te
        return feat.FeatureNet(config), 0.5

    monkeypatch.setattr(feat, "train_feature_net", fake_train)
    feat.get_feature_extractor(feat.FeatureNetConfig(data="digits", data_seed=3, input_size=8, channels=(4,)))
    run_test = load_dataset(DataConfig(name="digits", seed=3)).test.x.flatten(1)
    train_rows = {tuple(r.tolist()) for r in seen["train"].flatten(1)}
    test_rows = {tuple(r.tolist()) for r in run_test}
    assert torch.equal(seen["test"], load_dataset(DataConfig(name="digits", seed=3)).test.x)
    # split 0's training set holds most of split 3's test images; split 3's none (no duplicate digits)
    seed0_train = {tuple(r.tolist()) for r in load_dataset(DataConfig(name="digits", seed=0)).train.x.flatten(1)}
    assert len(test_rows & seed0_train) > 100
    assert len(train_rows & test_rows) == 0


class _Sampler(torch.nn.Module):
    can_sample = True

    def __init__(self, error=None):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.error, self.calls = error, []

    def sample(self, n, *, generator=None):
        self.calls.append("sample")
        if self.error is not None:
            raise self.error
        return torch.rand(n, 1, 2, 2, generator=generator)

    def sample_mean(self, n, *, generator=None):
        self.calls.append("mean")
        return torch.full((n, 1, 2, 2), 0.5)


def test_draw_samples_conventions_and_errors():
    m = _Sampler()
    assert draw_samples(m, 5, batch_size=2).shape == (5, 1, 2, 2) and set(m.calls) == {"sample"}
    m = _Sampler()
    assert torch.equal(draw_samples(m, 3, means=True), torch.full((3, 1, 2, 2), 0.5)) and m.calls == ["mean"]
    m = _Sampler()
    m.can_sample = False
    assert draw_samples(m, 4) is None and m.calls == []
    for error in (NotImplementedError("deep inside"), ValueError("bad shape"), TypeError("bug"),
                  RuntimeError("cuda")):
        with pytest.raises(type(error)):
            draw_samples(_Sampler(error), 4)


def test_spec_recorded_and_checked_at_eval(grey_vae, tmp_path):
    from genzoo.evaluation.likelihood import run_data_spec

    data_cfg = DataConfig(name="digits", limit=200, binarize="static")
    with pytest.raises(DataError, match="trained on quantized 17 levels"):
        run_data_spec(grey_vae, load_dataset(data_cfg), data_cfg)
    same = DataConfig(name="digits", limit=200)
    assert run_data_spec(grey_vae, load_dataset(same), same) == DataSpec(
        shape=(1, 8, 8), kind="quantized", levels=17)
