"""Loading a run never imports or runs code named by its files (issue 11, "Security").

The attack: a shared run directory whose config.json names an AAE ``prior_fn`` in a module that
sits beside it; importing that module writes a marker file. ``genzoo sample RUN`` and
``genzoo.load(RUN)`` must refuse (one line) and leave no marker; the caller can supply the function
or opt in explicitly.
"""

from __future__ import annotations

import sys

import pytest
import torch

import genzoo
from genzoo.cli.main import main
from genzoo.config import to_dict
from genzoo.registry import get_model
from genzoo.training import checkpoint as ckpt
from genzoo.training.run import build_model

EVIL = "genzoo_test_evil_prior"


def ring(n, dim, generator=None):
    """A custom prior: every code at (3, 3, ...)."""
    return torch.full((n, dim), 3.0)


@pytest.fixture
def hostile_run(tmp_path, monkeypatch):
    """A valid tiny AAE run whose config names ``EVIL:prior``; EVIL.py, beside it, writes a marker
    when imported. The run directory is on sys.path (as when running genzoo from inside it)."""
    run = tmp_path / "run"
    run.mkdir()
    model = build_model("aae", (1, 4, 4), config=get_model("aae").config_cls(latent_dim=2, hidden=(8,), d_hidden=(8,)))
    config = to_dict(model.config)
    config.update(prior="custom", prior_fn=f"{EVIL}:prior")
    ckpt.save_weights(run / ckpt.WEIGHTS_FILE, model)
    ckpt.write_json(run / ckpt.CONFIG_FILE, {"model": "aae", "model_config": config})
    marker = tmp_path / "PWNED"
    (run / f"{EVIL}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "import torch\n"
        "def prior(n, dim, generator=None):\n"
        "    return torch.zeros(n, dim)\n")
    monkeypatch.syspath_prepend(str(run))
    monkeypatch.chdir(run)
    monkeypatch.delitem(sys.modules, EVIL, raising=False)
    yield run, marker
    sys.modules.pop(EVIL, None)


def test_load_does_not_import_the_module_a_run_names(hostile_run):
    run, marker = hostile_run
    with pytest.raises(ValueError, match="prior_fn") as info:
        genzoo.load(run)
    assert "\n" not in str(info.value)
    assert not marker.exists()
    assert EVIL not in sys.modules


def test_cli_sample_does_not_import_the_module_a_run_names(hostile_run, tmp_path, capsys):
    run, marker = hostile_run
    code = main(["sample", str(run), "-n", "2", "--out", str(tmp_path / "s.png"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "prior_fn" in err and "trust_code" in err
    assert not marker.exists()
    assert not (tmp_path / "s.png").exists()


def test_the_caller_supplies_the_function_or_opts_in(hostile_run):
    run, marker = hostile_run
    model = genzoo.load(run, prior_fn=ring)  # the caller's function, nothing imported
    assert not marker.exists()
    assert torch.equal(model.sample_prior(3), torch.full((3, 2), 3.0))
    with pytest.raises(ValueError, match="unexpected argument 'prior_fun'"):
        genzoo.load(run, prior_fun=ring)
    model = genzoo.load(run, trust_code=True)  # explicit opt-in, in code: the module runs
    assert marker.read_text() == "imported"
    assert torch.equal(model.sample_prior(3), torch.zeros(3, 2))


def test_a_custom_prior_given_in_python_is_recorded_by_name_and_trusted(tmp_path):
    cfg = get_model("aae").config_cls(latent_dim=2, hidden=(8,), d_hidden=(8,), prior="custom", prior_fn=ring)
    assert cfg.prior_fn == f"{__name__}:ring"
    model = build_model("aae", (1, 4, 4), config=cfg)
    model.save_pretrained(tmp_path / "m")
    loaded = genzoo.load(tmp_path / "m")  # trusted in this process: the user passed the function
    assert torch.equal(loaded.sample_prior(2), torch.full((2, 2), 3.0))


def test_cli_train_trusts_the_prior_typed_on_its_command_line(tmp_path, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "genzoo_test_typed_prior.py").write_text(
        "import torch\ndef prior(n, dim, generator=None):\n    return torch.ones(n, dim)\n")
    monkeypatch.syspath_prepend(str(mod))
    out = tmp_path / "run"
    code = main(["train", "aae", "--data", "digits", "--limit", "64", "--latent-dim", "2", "--hidden", "8",
                 "--d-hidden", "8", "--prior", "custom", "--prior-fn", "genzoo_test_typed_prior:prior",
                 "--epochs", "1", "--batch-size", "32", "--max-steps", "1", "--progress", "false",
                 "--validate", "false", "--sample-every", "0", "--out", str(out)])
    sys.modules.pop("genzoo_test_typed_prior", None)
    assert code == 0
    assert genzoo.load(out).sample_prior(2).eq(1).all()  # trusted in this process by the command line
