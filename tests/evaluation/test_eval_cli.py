"""End to end through ``genzoo.cli.main``: anomaly, probe, compare and features on tiny runs."""

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from genzoo.cli.main import main
from genzoo.data import DataConfig, load_dataset
from genzoo.evaluation import features as feat
from genzoo.evaluation.clustering import encoded_clustering_accuracy
from genzoo.evaluation.probe import balanced_indices, linear_probe_error
from genzoo.training import TrainConfig
from genzoo.training import run as training

DATA = DataConfig(name="digits", binarize="static", limit=200)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    tc = TrainConfig(epochs=1, max_steps=3, batch_size=50, progress=False, sample_every=0, device="cpu")
    out = {}
    for name in ("vae", "ae", "independent"):
        training.train(name, data_config=DATA, out_dir=root / name, train_config=tc,
                       command=f"genzoo train {name} --data digits")
        out[name] = root / name
    # a one-class run for --normal-label 3 (anomaly refuses a run trained on every class)
    training.train("vae", data_config=DataConfig(name="digits", binarize="static", classes=(3,)),
                   out_dir=root / "vae3", train_config=tc)
    out["vae3"] = root / "vae3"
    return out


@pytest.fixture()
def tiny_features(tmp_path, monkeypatch):
    """A tiny feature network cached where 'compare' looks for the digits one (no 1-minute training)."""
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    cfg = feat.FeatureNetConfig(data="digits", input_size=8, channels=(4,), feature_dim=8, epochs=1)
    feat.save_feature_net(feat.FeatureNet(cfg), feat.feature_net_path(feat.FeatureNetConfig(data="digits")),
                          accuracy=0.1)
    return cfg


def test_anomaly_cli_reports_auroc_and_writes_csv(runs, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["anomaly", str(runs["vae"]), "--normal-label", "3", "--device", "cpu"]) == 2
    assert "trained on every class" in capsys.readouterr().err
    rc = main(["anomaly", str(runs["vae3"]), "--normal-label", "3", "--score", "nll", "-k", "3",
               "--device", "cpu", "--out", str(out)])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader(open(out)))
    # the AUROC is that of the written scores against the written targets
    scores = np.array([float(r["nll"]) for r in rows])
    targets = np.array([r["is_anomaly"] == "1" for r in rows])
    assert summary["score"] == "nll" and summary["auroc"] == pytest.approx(roc_auc_score(targets, scores))
    assert summary["score_is"] == "NLL (importance-sampled estimate, k=3)"  # binarized data: a likelihood
    assert len(rows) == summary["n"] > 0
    assert set(rows[0]) == {"index", "label", "is_anomaly", "nll"}
    assert sum(int(r["is_anomaly"]) for r in rows) == summary["anomalies"]
    assert all((r["label"] != "3") == (r["is_anomaly"] == "1") for r in rows)


def test_anomaly_cli_default_score_and_refusals(runs, capsys):
    assert main(["anomaly", str(runs["ae"]), "--device", "cpu", "--limit", "20"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["score"] == "recon" and "auroc" not in summary
    assert (runs["ae"] / "anomaly_recon.csv").is_file()
    assert main(["anomaly", str(runs["ae"]), "--score", "nll", "--device", "cpu"]) == 2
    assert "does not apply" in capsys.readouterr().err


def test_probe_cli(runs, capsys):
    rc = main(["probe", str(runs["ae"]), "--labels", "20", "--all", "--json", "--device", "cpu"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["features"] for r in rows} >= {"codes", "pixels"}
    assert {r["labels"] for r in rows} == {20, 200}
    # the pixel baseline is deterministic: the same logistic regression on the same draw
    data = load_dataset(DATA)
    idx = balanced_indices(data.train.y, 20, seed=0)
    pixels = {r["labels"]: r["test_error"] for r in rows if r["features"] == "pixels"}
    assert pixels[20] == linear_probe_error(data.train.x[idx].flatten(1), data.train.y[idx],
                                            data.test.x.flatten(1), data.test.y)
    assert (runs["ae"] / "probe.json").is_file()
    assert main(["probe", str(runs["independent"]), "--device", "cpu"]) == 2  # no encoder


def test_probe_cli_clustering(runs, capsys):
    assert main(["probe", str(runs["vae"]), "--labels", "20", "--no-baselines", "--cluster", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "| codes |" in text and "clustering accuracy (test, best match):" in text
    acc = json.loads((runs["vae"] / "probe.json").read_text())["clustering_accuracy"]
    data = load_dataset(DATA)
    model = training.load(runs["vae"])
    assert acc == encoded_clustering_accuracy(model, data.test.x, data.test.y, None, seed=0)


def test_compare_cli_markdown_and_json(runs, tiny_features, tmp_path, capsys):
    args = ["compare", str(runs["vae"]), str(runs["ae"]), str(runs["independent"]), "--samples", "40",
            "--k", "3", "--eval-examples", "30", "--kid-subsets", "3"]
    assert main(args + ["--markdown", "--out", str(tmp_path / "t.md")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("| run | model | data | values | NLL (nats) | bits/dim | -ELBO bound (nats) | FID-style")
    assert "(IS k=3) |" in text and "| binary static |" in text
    assert "genzoo train independent --data digits" in text
    assert (tmp_path / "t.md").read_text().strip() == text.strip()
    assert main(args + ["--json", "--parzen"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["vae"]["parzen_ll"] < 0 and rows["vae"]["parzen_stderr"] > 0  # 64-dim binary data
    assert "nll_nats" in rows["vae"] and "neg_elbo_nats" in rows["vae"] and "fid" in rows["vae"]
    assert "nll_nats" in rows["independent"] and rows["independent"]["exact"] is True
    assert rows["vae"]["exact"] is False and rows["vae"]["k"] == 3 and rows["vae"]["nll_figure"] == "nll"
    assert rows["vae"]["samples"] == "samples" and rows["vae"]["bound"] is False
    assert "nll_nats" not in rows["ae"] and "fid" not in rows["ae"]  # no likelihood, no sampler
    assert rows["vae"]["features"] == tiny_features.name and rows["vae"]["n_samples"] == 40
    assert rows["vae"]["train_seconds"] >= 0 and rows["vae"]["epochs"] == 1


def test_features_cli_trains_and_caches(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    args = ["features", "--data", "digits", "--input-size", "8", "--channels", "4", "--feature-dim", "8",
            "--epochs", "1"]
    assert main(args) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["data"] == "digits" and len(meta["sha256"]) == 64
    # the recorded accuracy is the cached network's on the digits test split
    net, _ = feat.load_feature_net(tmp_path / "features" / f"{meta['name']}.safetensors")
    x, y = feat.labelled_split("digits", "test")
    assert meta["test_accuracy"] == float((feat.ClassifierFeatures(net).predict(x) == y).double().mean())
    assert meta["name"].startswith("cnn8-digits-seed0-")
    assert (tmp_path / "features" / f"{meta['name']}.safetensors").is_file()
    # another configuration is another network, not the cached one
    assert main(args[:-1] + ["2"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] != meta["name"]


def test_compare_all_benchmark_writes_a_table(runs, tiny_features, tmp_path, capsys, benchmark_script):
    out = tmp_path / "cmp.md"
    rc = benchmark_script("compare_all").main([str(runs["vae"]), str(runs["independent"]), str(tmp_path / "nothing"),
                                               "--samples", "30", "--k", "2", "--eval-examples", "20",
                                               "--feature-data", "digits", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    text = out.read_text()
    assert "| vae | vae | digits |" in text and "| independent | independent | digits |" in text
    assert "Machine:" in text and "Table regenerated by:" in text
    assert "skipping" in capsys.readouterr().err


def test_anomaly_benchmark_smoke(tmp_path, capsys, benchmark_script):
    bench = benchmark_script("anomaly_one_class")
    rc = bench.main(["--digits", "0", "--models", "independent", "--epochs", "1", "--test-limit", "200",
                     "--device", "cpu", "--out", str(tmp_path)])
    assert rc == 0
    result = json.loads((tmp_path / "anomaly_one_class.json").read_text())
    # independent pixels tell the zeros from the other digits far better than chance (50)
    assert result["measured"]["independent (nll)"]["0"] > 70.0
    assert "| One-class Deep SVDD | published" in (tmp_path / "anomaly_one_class.md").read_text()
