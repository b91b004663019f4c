import pytest
import torch


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.fixture
def cli_error(capsys):
    """``cli_error(argv)``: run the CLI, expect exit code 2 and no traceback; the error line."""
    from genzoo.cli.main import main

    def run(argv: list[str]) -> str:
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, err
        assert err and "error:" in err[-1], err
        assert "Traceback" not in "\n".join(err)
        return err[-1]

    return run
