"""Every CLI path end to end on tiny data, and the bad-input messages."""

import json

import numpy as np
import pytest

from genzoo.cli.main import main

TINY = ["--data", "digits", "--binarize", "static", "--limit", "300", "--epochs", "1", "--batch-size", "50",
        "--progress", "false"]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "vae"
    assert main(["train", "vae", *TINY, "--latent-dim", "2", "--hidden", "32", "--out", str(run)]) == 0
    return run


def test_train_records_the_command_and_config(vae_run):
    cfg = json.loads((vae_run / "config.json").read_text())
    assert cfg["model"] == "vae" and cfg["model_config"]["latent_dim"] == 2
    assert cfg["model_config"]["hidden"] == [32]
    assert cfg["command"].startswith("genzoo train vae")


@pytest.mark.parametrize("cmd,produced", [
    (["sample", "-n", "16"], "samples_cli.png"),
    (["reconstruct", "-n", "8"], "reconstructions.png"),
    (["manifold", "--n", "5"], "manifold.png"),
    (["interpolate", "--pairs", "2", "--steps", "4"], "interpolation.png"),
    (["eval", "-k", "20", "--limit", "40"], "eval_test.json"),
])
def test_commands(vae_run, cmd, produced, capsys):
    assert main([cmd[0], str(vae_run), *cmd[1:]]) == 0
    assert (vae_run / produced).exists()
    if cmd[0] == "eval":
        out = json.loads(capsys.readouterr().out)
        assert out["neg_elbo_nats"] >= out["nll_nats"] - 1.0 and out["n"] == 40
        assert out["bits_per_dim"] == pytest.approx(out["nll_nats"] / (64 * 0.6931471805599453))


def test_manifold_scatter_for_wider_latents(tmp_path):
    run = tmp_path / "ae"
    assert main(["train", "ae", *TINY, "--latent-dim", "4", "--out", str(run)]) == 0
    assert main(["manifold", str(run)]) == 0
    assert (run / "codes.png").exists() and not (run / "manifold.png").exists()
    (run / "codes.png").unlink()
    assert main(["manifold", str(run), "--projection", "tsne", "--limit", "100"]) == 0
    assert (run / "codes.png").exists()


def test_resume_through_the_cli(tmp_path):
    run = tmp_path / "r"
    assert main(["train", "vae", *TINY, "--out", str(run)]) == 0
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "2", "--progress", "false"]) == 0
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 3


def test_init_from_through_the_cli(vae_run, tmp_path, capsys):
    run = tmp_path / "ft"
    assert main(["train", "vae", *TINY, "--init-from", str(vae_run), "--lr", "1e-4", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["model_config"]["latent_dim"] == 2
    bad = ["train", "vae", *TINY, "--init-from", str(vae_run), "--hidden", "8", "--out", str(tmp_path / "x")]
    assert main(bad) == 2
    assert "come from that run" in capsys.readouterr().err.strip().splitlines()[-1]


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "vae" in out and "wake-sleep" in out and "elbo" in out


@pytest.mark.parametrize("argv,message", [
    (["train", "nosuchmodel", "--out", "x"], "unknown model 'nosuchmodel'"),
    (["sample", "/nonexistent/run"], "no such run directory"),
    (["train", "vae", "--data", "/nonexistent/file.npz", "--out", "x"], "/nonexistent/file.npz"),
    (["train", "vae", "--objective", "nll", "--out", "x"], "invalid choice"),
])
def test_bad_input_gives_one_line_errors(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]


def test_every_command_has_help(capsys):
    for cmd in ("sample", "reconstruct", "eval", "manifold", "interpolate", "models"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
    with pytest.raises(SystemExit):
        main(["train", "vae", "--help"])
    out = capsys.readouterr().out
    assert "--latent-dim" in out and "--estimator" in out and "--binarize" in out


def test_models_bring_their_training_defaults(tmp_path):
    from genzoo.registry import get_model

    assert get_model("dcgan").default_train_config().betas == (0.5, 0.999)
    assert get_model("vae").default_train_config().lr == 1e-3
    run = tmp_path / "gan"
    assert main(["train", "gan", *TINY, "--out", str(run)]) == 0
    train = json.loads((run / "config.json").read_text())["train"]
    assert train["lr"] == 2e-4 and train["betas"] == [0.5, 0.999]
    run2 = tmp_path / "gan2"
    assert main(["train", "gan", *TINY, "--lr", "1e-4", "--out", str(run2)]) == 0
    assert json.loads((run2 / "config.json").read_text())["train"]["lr"] == 1e-4


# ``genzoo sample``: true samples by default, decoder means only with --mean (and named so), and
# one-line errors for options the model does not take.
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


def test_an_error_line_is_one_write_with_its_newline(monkeypatch):
    """Under torchrun the ranks share stderr: a line written in two parts (text, then newline) can
    run into another rank's line."""
    writes = []

    class Recorder:
        def write(self, s):
            writes.append(s)
            return len(s)

        def flush(self):
            pass

    monkeypatch.setattr("sys.stderr", Recorder())
    assert main(["sample", "/nonexistent/run"]) == 2
    assert len(writes) == 1 and writes[0].startswith("genzoo: error: ") and writes[0].endswith("\n")
    assert writes[0].count("\n") == 1
