"""``genzoo curves``: learning curves of several runs read from their metrics.csv files."""

import json

import numpy as np
import pytest

from genzoo.cli.main import main
from genzoo.evaluation.plots import run_curve, save_curve_panels


def _fake_run(path, rows, batch_size=100):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model": "vae", "train": {"batch_size": batch_size}}))
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join(str(r.get(k, "")) for k in keys) for r in rows]
    (path / "metrics.csv").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def runs(tmp_path):
    a = _fake_run(tmp_path / "a", [{"epoch": 1, "step": 5, "seconds": 2.0, "valid_neg_elbo": 120.0},
                                   {"epoch": 2, "step": 10, "seconds": 3.0, "valid_neg_elbo": ""},
                                   {"epoch": 3, "step": 15, "seconds": 1.5, "valid_neg_elbo": 100.0}])
    b = _fake_run(tmp_path / "b", [{"epoch": 1, "step": 4, "seconds": 1.0, "valid_neg_elbo": 130.0}], batch_size=25)
    return a, b


@pytest.mark.parametrize("x,expected", [("epoch", [1, 3]), ("step", [5, 15]), ("samples", [500, 1500]),
                                        ("time", [2.0, 6.5])])
def test_run_curve_axes_and_skipped_rows(runs, x, expected):
    xs, ys = run_curve(runs[0], "valid_neg_elbo", x)
    np.testing.assert_array_equal(xs, expected)
    np.testing.assert_array_equal(ys, [120.0, 100.0])


def test_samples_use_each_runs_batch_size(runs):
    xs, _ = run_curve(runs[1], "valid_neg_elbo", "samples")
    np.testing.assert_array_equal(xs, [100])


def test_curves_command_writes_the_figure(runs, tmp_path):
    out = tmp_path / "fig" / "curves.png"
    assert main(["curves", str(runs[0]), str(runs[1]), "--metric", "valid_neg_elbo", "--x", "samples",
                 "--logx", "--labels", "first", "second", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


@pytest.mark.parametrize("args,message", [
    (["--metric", "valid_nope"], "no column 'valid_nope'"),
    (["--labels", "only-one"], "2 runs"),
])
def test_bad_input_is_one_line(runs, tmp_path, capsys, args, message):
    assert main(["curves", str(runs[0]), str(runs[1]), *args, "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not (tmp_path / "c.png").exists()


def test_missing_metrics_file(tmp_path, capsys):
    assert main(["curves", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 2
    assert "metrics.csv: not found" in capsys.readouterr().err


def test_curves_of_two_trained_runs(tmp_path):
    tiny = ["--data", "digits", "--binarize", "static", "--limit", "200", "--epochs", "2", "--batch-size", "50",
            "--progress", "false", "--hidden", "16", "--latent-dim", "2", "--sample-every", "0"]
    for name, obj in (("aevb", "elbo"), ("ws", "wake-sleep")):
        assert main(["train", "vae", *tiny, "--objective", obj, "--out", str(tmp_path / name)]) == 0
    xs, ys = run_curve(tmp_path / "ws", "valid_neg_elbo", "samples")
    np.testing.assert_array_equal(xs, [200, 400])  # 4 steps of 50 per epoch
    assert np.isfinite(ys).all()
    out = tmp_path / "c.png"
    assert main(["curves", str(tmp_path / "aevb"), str(tmp_path / "ws"), "--metric", "valid_neg_elbo",
                 "--x", "time", "--logy", "--out", str(out)]) == 0
    assert out.exists()


def test_panels_need_curves(tmp_path):
    with pytest.raises(ValueError, match="no curves"):
        save_curve_panels([], tmp_path / "x.png", xlabel="x")
