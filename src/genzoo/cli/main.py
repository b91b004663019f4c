"""``genzoo <command>``: the command-line entry point.

Every module of this package that defines ``register(subparsers)`` is a command, so adding a
command is adding a module. ``genzoo train`` builds its options from the chosen model's config
dataclass, so it parses in two stages (see :mod:`genzoo.cli.train`).
"""

from __future__ import annotations

import argparse
import sys

from genzoo import __version__
from genzoo._discover import import_submodules


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genzoo", description="Train, sample from, evaluate and compare deep generative models.",
        epilog="Run 'genzoo COMMAND --help' for a command's options; 'genzoo train MODEL --help' "
               "lists that model's hyperparameters.")
    parser.add_argument("--version", action="version", version=f"genzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in import_submodules(__package__):
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "train":
            from genzoo.cli.train import main as train_main

            return train_main(argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _say("genzoo: interrupted; completed epochs are checkpointed: rerun with --resume to continue")
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, NotImplementedError, RuntimeError) as e:
        if not isinstance(e, (ValueError, FileNotFoundError, FileExistsError, NotImplementedError)) and \
                type(e).__name__ != "NonFiniteLossError":
            raise
        _say(f"genzoo: error: {e}")
        return 2


def _say(line: str) -> None:
    """``line`` and its newline to stderr in one write: under ``torchrun`` every process shares
    the stream, and print's separate write of the newline let two ranks' lines run together."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
