"""benchmarks/emoji_gans.py: NMI of InfoGAN's code x category table, and the training command."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch


def test_nmi_of_contingency_tables(benchmark_script):
    nmi = benchmark_script("emoji_gans").nmi
    assert nmi(torch.eye(4, dtype=torch.long) * 3) == pytest.approx(1.0)  # a relabelling: all information
    assert nmi(torch.tensor([[0, 3, 0], [2, 0, 0], [0, 0, 5]])) == pytest.approx(1.0)
    assert nmi(torch.ones(3, 5, dtype=torch.long)) == pytest.approx(0.0, abs=1e-12)  # independent
    assert nmi(torch.tensor([[0, 0], [4, 6]])) == 0.0  # a constant code carries nothing
    # by hand: p = [[1/2, 0], [1/4, 1/4]]
    mi = 0.5 * math.log(0.5 / (0.5 * 0.75)) + 0.25 * math.log(0.25 / (0.5 * 0.75)) + 0.25 * math.log(0.25 / 0.125)
    hx, hy = math.log(2), -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert nmi(torch.tensor([[2, 0], [1, 1]])) == pytest.approx(mi / math.sqrt(hx * hy))


def test_train_command_passes_the_seed(benchmark_script):
    cmd = benchmark_script("emoji_gans").train_command("dcgan-hinge", Path("out"), "data", 1200, seed=2)
    assert cmd[cmd.index("--seed") + 1] == "2" and cmd[cmd.index("--out") + 1] == str(Path("out") / "dcgan-hinge")
    assert cmd[cmd.index("--max-steps") + 1] == "1200"
