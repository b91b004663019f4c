"""A label-conditional density model is evaluated as -log p(x | y) on the test labels (eval, compare)."""

import json
import math

import pytest
import torch

from genzoo.cli.main import main
from genzoo.data import DataConfig, load_dataset
from genzoo.evaluation.likelihood import evaluate_likelihood, random_subset
from genzoo.training import TrainConfig
from genzoo.training import run as training


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cond") / "run"
    data = DataConfig(name="digits", binarize="static", limit=200)
    training.train("pixelcnn-gated", data_config=data, out_dir=out,
                   model_config=training.build_model("pixelcnn-gated", (1, 8, 8), classes=10, features=8,
                                                     layers=2, output_features=8).config,
                   train_config=TrainConfig(epochs=1, batch_size=50, device="cpu", progress=False, sample_every=0))
    return out, data


def test_eval_scores_each_image_under_its_own_label(cond_run, capsys):
    out, data = cond_run
    assert main(["eval", str(out), "--limit", "40", "--device", "cpu"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["conditional"] is True and got["exact"] is True
    model = training.load(out)
    test = load_dataset(data).test
    x, y = random_subset(test.x, 40, 0), random_subset(test.y, 40, 0)
    with torch.no_grad():
        own = -model.log_prob(x, condition=y).double()
        shifted = -model.log_prob(x, condition=(y + 1) % 10).double()
    assert got["nll_nats"] == pytest.approx(float(own.mean()), rel=1e-9)
    assert got["nll_stderr"] == pytest.approx(float(own.std() / math.sqrt(40)), rel=1e-6)
    assert not torch.allclose(own, shifted)  # the label is used, not ignored


def test_conditional_model_without_labels_is_a_one_line_error(cond_run):
    out, _ = cond_run
    model = training.load(out)
    with pytest.raises(ValueError, match="is conditional"):
        evaluate_likelihood(model, torch.zeros(2, 1, 8, 8))
