"""Run directories: what --resume may change, refusals, locking, crash repair, bad options."""

import csv
import json

import pytest
import torch

from genzoo.cli.main import main
from genzoo.training import NonFiniteLossError, TrainConfig, Trainer
from genzoo.training import trainer as trainer_mod
from genzoo.training.run import LOCK_FILE, RunDirError, RunLock, build_model, train

TINY = ["--data", "digits", "--binarize", "static", "--limit", "300", "--batch-size", "50", "--progress", "false",
        "--latent-dim", "2", "--hidden", "16", "--sample-every", "0"]


def _cfg(**kw):
    return TrainConfig(**{"epochs": 2, "batch_size": 50, "progress": False, "sample_every": 0, **kw})


def _rows(run):
    return list(csv.DictReader(open(run / "metrics.csv")))


def _config(run):
    return json.loads((run / "config.json").read_text())


def test_resume_without_epochs_continues_to_the_runs_own_count(tmp_path):
    run = tmp_path / "r"
    assert main(["train", "vae", *TINY, "--epochs", "2", "--max-steps", "3", "--out", str(run)]) == 0
    assert [r["epoch"] for r in _rows(run)] == ["1"]  # stopped by --max-steps
    assert main(["train", "vae", "--out", str(run), "--resume", "--max-steps", "1000"]) == 0
    assert [r["epoch"] for r in _rows(run)] == ["1", "2"]  # the run's 2 epochs, not vae's default 10
    assert main(["train", "vae", "--out", str(run), "--resume"]) == 0  # complete: nothing to do
    assert len(_rows(run)) == 2
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3"]) == 0
    assert [r["epoch"] for r in _rows(run)] == ["1", "2", "3"]
    assert _config(run)["train"]["epochs"] == 3 and len(_config(run)["resumed"]) == 3


def test_resume_refuses_another_model_or_changed_options(tmp_path, cli_error):
    run = tmp_path / "r"
    assert main(["train", "vae", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    before = (run / "checkpoint.pt").read_bytes()
    assert "holds a 'vae' run, not 'dcgan'" in cli_error(
        ["train", "dcgan", "--out", str(run), "--resume", "--data", "digits"])
    msg = cli_error(["train", "vae", "--out", str(run), "--resume", "--latent-dim", "5"])
    assert "--latent-dim 5 (the run has 2)" in msg
    assert "--binarize none" in cli_error(["train", "vae", "--out", str(run), "--resume", "--binarize", "none"])
    assert "--lr 0.01" in cli_error(["train", "vae", "--out", str(run), "--resume", "--lr", "0.01"])
    assert "--beta 2.0" in cli_error(["train", "vae", "--out", str(run), "--resume", "--beta", "2"])
    assert "'elbo'" in cli_error(["train", "vae", "--out", str(run), "--resume", "--objective", "iwae"])
    assert (run / "checkpoint.pt").read_bytes() == before  # nothing trained or rewritten
    # the recorded values themselves, and the options that may change, are accepted
    assert main(["train", "vae", "--out", str(run), "--resume", "--latent-dim", "2", "--data", "digits",
                 "--epochs", "2", "--device", "cpu", "--progress", "false", "--sample-every", "1"]) == 0
    assert (run / "samples.png").exists()  # --sample-every honoured on resume
    assert _config(run)["train"]["device"] == "cpu"


def test_resume_honours_device_and_progress(tmp_path, tiny_data, capsys):
    run = tmp_path / "r"
    train("vae", data_config=tiny_data, out_dir=run, train_config=_cfg(epochs=1, device="cpu"))
    capsys.readouterr()
    _, metrics = train("vae", data_config=tiny_data, out_dir=run, resume=True,
                       train_config=_cfg(epochs=2, device="cpu", progress=True))
    assert metrics["epoch"] == 2
    assert "epoch 2/2" in capsys.readouterr().err  # the progress bar was shown
    assert _config(run)["train"]["progress"] is True
    with pytest.raises(ValueError, match="--lr"):
        train("vae", data_config=tiny_data, out_dir=run, resume=True, train_config=_cfg(epochs=3, lr=0.5))
    with pytest.raises(ValueError, match="holds a 'vae' run"):
        train("ae", data_config=tiny_data, out_dir=run, resume=True)


def test_existing_directories_are_refused_unless_overwrite(tmp_path, cli_error):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "metrics.csv").write_text("epoch,mine\n1,2\n")
    (user / "notes.txt").write_text("keep me")
    assert "is not empty" in cli_error(["train", "vae", *TINY, "--epochs", "1", "--out", str(user)])
    assert (user / "metrics.csv").read_text() == "epoch,mine\n1,2\n" and not (user / "config.json").exists()
    assert main(["train", "vae", *TINY, "--epochs", "1", "--out", str(user), "--overwrite"]) == 0
    assert [r["epoch"] for r in _rows(user)] == ["1"] and "mine" not in _rows(user)[0]
    assert (user / "notes.txt").read_text() == "keep me"  # only run files are replaced
    assert "--resume" in cli_error(["train", "vae", *TINY, "--epochs", "1", "--out", str(user)])
    (user / "checkpoint.pt").unlink()
    assert "completed no epoch" in cli_error(["train", "vae", *TINY, "--epochs", "1", "--out", str(user)])
    assert "no checkpoint to resume" in cli_error(["train", "vae", "--out", str(user), "--resume"])


@pytest.mark.slow
def test_a_second_process_on_the_same_directory_is_refused(tmp_path, tiny_data):
    import subprocess
    import sys

    run = tmp_path / "r"
    run.mkdir()
    lock = RunLock(run)  # this process trains "into" run
    try:
        code = ("import sys; from genzoo.cli.main import main; "
                f"sys.exit(main(['train', 'vae', '--data', 'digits', '--epochs', '1', '--out', {str(run)!r}]))")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        err = proc.stderr.strip().splitlines()
        assert len(err) == 1 and "is in use by genzoo pid" in err[0], proc.stderr
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # nothing written
    finally:
        lock.release()
    # a released lock (or one whose process died: the OS drops flock locks) is no obstacle
    train("vae", data_config=tiny_data, out_dir=run, train_config=_cfg(epochs=1))
    assert (run / "checkpoint.pt").exists()


def test_resume_repairs_the_directory_after_a_crash(tmp_path, tiny_data):
    full, part = tmp_path / "full", tmp_path / "part"
    train("vae", data_config=tiny_data, out_dir=full, train_config=_cfg(epochs=3, sample_every=1, sample_history=True))
    train("vae", data_config=tiny_data, out_dir=part, train_config=_cfg(epochs=2, sample_every=1, sample_history=True))
    # what a crash in epoch 3 after the side files but before the checkpoint leaves behind,
    # plus a torn temporary file and a lost metrics row
    rows = _rows(part)
    (part / "metrics.csv").write_text("epoch,step\n1,8\n3,999\n")
    (part / ".checkpoint.pt.abc123.tmp").write_bytes(b"torn")
    (part / "samples" / "epoch_003.png").write_bytes(b"from the lost epoch")
    train("vae", data_config=tiny_data, out_dir=part, resume=True,
          train_config=_cfg(epochs=3, sample_every=1, sample_history=True))
    assert not list(part.glob(".*.tmp"))
    new_rows = _rows(part)
    assert [r["epoch"] for r in new_rows] == ["1", "2", "3"]
    assert new_rows[:2] == rows  # rebuilt from the checkpoint, the lost row included
    a = torch.load(full / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(part / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (part / "samples" / "epoch_003.png").read_bytes() == (full / "samples" / "epoch_003.png").read_bytes()


@pytest.mark.parametrize("argv,message", [
    (["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["--epochs", "-3"], "--epochs: must be a positive integer, got -3"),
    (["--batch-size", "0"], "--batch-size: must be a positive integer, got 0"),
    (["--lr", "-1"], "--lr: must be >= 0, got -1.0"),
    (["--max-steps", "0"], "--max-steps"),
])
def test_bad_training_options_are_one_line_errors(tmp_path, argv, message, cli_error):
    out = tmp_path / "x"
    assert message in cli_error(["train", "vae", "--data", "digits", *argv, "--out", str(out)])
    assert not out.exists()


def test_a_run_that_fails_before_writing_leaves_no_directory(tmp_path, cli_error):
    out = tmp_path / "new"
    assert "nope.npz" in cli_error(["train", "vae", "--data", str(tmp_path / "nope.npz"), "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("argv", [["-k", "0"], ["-k", "-1"], ["--limit", "0"], ["--limit", "-5"],
                                  ["--batch-size", "0"]])
def test_bad_eval_options_are_one_line_errors(tmp_path, argv, cli_error):
    assert "must be a positive integer" in cli_error(["eval", str(tmp_path), *argv])


def test_a_batch_larger_than_the_data_is_said_and_partial_batches_are_used(tmp_path, tiny_data, capsys):
    _, metrics = train("ae", data_config=tiny_data, out_dir=tmp_path / "a", train_config=_cfg(epochs=1,
                       batch_size=1000))
    assert "--batch-size 1000 is larger than the training set (400 examples)" in capsys.readouterr().err
    assert metrics["step"] == 1
    from genzoo.data import load_dataset
    from genzoo.training.run import build_objective

    data = load_dataset(tiny_data)
    for bs, sizes in ((150, [150, 150, 100]), (133, [133, 133, 134]), (400, [400])):
        t = Trainer(build_model("ae", data.shape), build_objective("reconstruction"), data, _cfg(batch_size=bs))
        t._setup()
        batches = t._batches(1)
        assert [len(b) for b in batches] == sizes
        assert sorted(torch.cat(batches).tolist()) == list(range(400))  # every example, once


class _Exploding:
    """The ELBO objective, NaN from the 3rd training step (of this process) on."""

    players = ("model",)
    monitor = "neg_elbo"

    def __init__(self):
        from genzoo.training.run import build_objective

        self.inner, self.calls = build_objective("elbo"), 0

    def parameters(self, model, player):
        return model.parameters()

    def evaluate(self, model, batch, generator=None):
        return self.inner.evaluate(model, batch, generator=generator)

    def __call__(self, model, batch, *, player="model", generator=None):
        self.calls += 1
        out = self.inner(model, batch, generator=generator)
        return {"loss": out["loss"] * (float("nan") if self.calls >= 3 else 1.0)}


def test_the_nan_message_says_whether_a_checkpoint_exists(tmp_path, tiny_data):
    from genzoo.data import load_dataset

    data = load_dataset(tiny_data)
    with pytest.raises(NonFiniteLossError, match="no checkpoint was written"):
        Trainer(build_model("vae", data.shape), _Exploding(), data, _cfg(), out_dir=tmp_path / "a").fit()
    obj = _Exploding()
    obj.calls = -6  # 8 steps per epoch: NaN at the first step of epoch 2
    with pytest.raises(NonFiniteLossError, match="epoch 2, step 9: .*the checkpoint of epoch 1 is kept") as e:
        Trainer(build_model("vae", data.shape), obj, data, _cfg(epochs=30), out_dir=tmp_path / "b").fit()
    assert "\n" not in str(e.value)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["epoch"] == 1


def test_size_is_printed_and_absurd_configurations_are_stopped(tmp_path, tiny_data, monkeypatch, capsys,
                                                                cli_error):
    train("vae", data_config=tiny_data, out_dir=tmp_path / "a", train_config=_cfg(epochs=1))
    err = capsys.readouterr().err
    assert "parameters; each checkpoint writes about" in err and "first 3 step(s):" in err
    monkeypatch.setattr(trainer_mod, "MAX_CPU_PARAMETERS", 1000)
    msg = cli_error(["train", "vae", "--data", "digits", "--device", "cpu", "--out", str(tmp_path / "b")])
    assert "parameters on the CPU" in msg and "--hidden" in msg and "--latent-dim" in msg and "--force" in msg
    assert not (tmp_path / "b" / "config.json").exists()
    monkeypatch.setattr(trainer_mod, "MAX_CHECKPOINT_BYTES", 1000)
    msg = cli_error(["train", "pixelcnn", "--data", "digits", "--device", "cpu", "--out", str(tmp_path / "c")])
    assert "checkpoint" in msg and "--binarize static" in msg and "--features" in msg
    assert main(["train", "vae", "--data", "digits", "--device", "cpu", "--epochs", "1", "--max-steps", "1",
                 "--progress", "false", "--force", "--out", str(tmp_path / "d")]) == 0


def test_classes_and_the_one_class_anomaly_check(tmp_path, cli_error, capsys):
    run = tmp_path / "three"
    assert main(["train", "vae", *TINY, "--epochs", "1", "--classes", "3", "--out", str(run)]) == 0
    assert _config(run)["data"]["classes"] == [3]
    capsys.readouterr()
    assert main(["anomaly", str(run), "--normal-label", "3", "-k", "2", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["anomalies"] > 0 and out["n"] > out["anomalies"]  # every class is scored
    assert "trained on classes [3]" in cli_error(["anomaly", str(run), "--normal-label", "4"])
    assert "no examples labelled 11" in cli_error(["train", "vae", "--data", "digits", "--classes", "11",
                                                   "--out", str(tmp_path / "x")])


def test_run_dir_error_is_a_file_exists_error():
    assert issubclass(RunDirError, FileExistsError)
