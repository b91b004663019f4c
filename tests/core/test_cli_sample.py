"""``genzoo sample``: true samples by default, decoder means only with --mean (and named so), and
one-line errors for options the model does not take."""

import numpy as np
import pytest

from genzoo.cli.main import main

TINY = ["--data", "digits", "--binarize", "static", "--limit", "200", "--epochs", "1", "--batch-size", "50",
        "--progress", "false"]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "vae"
    assert main(["train", "vae", *TINY, "--latent-dim", "2", "--hidden", "16", "--out", str(run)]) == 0
    return run


def test_samples_are_draws_and_mean_is_labelled(vae_run, tmp_path, capsys):
    assert main(["sample", str(vae_run), "-n", "9", "--npy", str(tmp_path / "s.npy"), "--device", "cpu"]) == 0
    assert "9 samples" in capsys.readouterr().out
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (9, 1, 8, 8) and set(np.unique(s)) <= {0.0, 1.0}
    assert main(["sample", str(vae_run), "-n", "9", "--mean", "--npy", str(tmp_path / "m.npy"),
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "samples_mean_cli.png" in out and "decoder means" in out and "not samples" in out
    assert (vae_run / "samples_mean_cli.png").exists()
    m = np.load(tmp_path / "m.npy")
    assert m.shape == (9, 1, 8, 8) and not set(np.unique(m)) <= {0.0, 1.0}


@pytest.mark.parametrize("extra,message", [(["--label", "3"], "does not take --label"),
                                           (["--text", "a thin two"], "does not take --text"),
                                           (["--vary", "c1"], "does not take --vary")])
def test_options_the_model_does_not_take_are_one_line_errors(vae_run, extra, message, capsys):
    assert main(["sample", str(vae_run), "-n", "4", *extra, "--device", "cpu"]) == 2
    assert message in capsys.readouterr().err


def test_mean_of_a_model_without_a_decoder_distribution(tmp_path, capsys):
    run = tmp_path / "nade"
    assert main(["train", "independent", *TINY, "--out", str(run)]) == 0
    assert main(["sample", str(run), "-n", "4", "--mean", "--device", "cpu"]) == 2
    assert "no decoder means" in capsys.readouterr().err
    assert main(["interpolate", str(run), "--device", "cpu"]) == 2
    assert "neither an encoder" in capsys.readouterr().err
