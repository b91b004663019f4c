"""Errors about files genzoo reads back: run and model directories, configs, weights.

Every message is a single line that names the file and the field, so the CLI prints it as it is
(``genzoo: error: ...``) and a Python caller can match it. All are ``ValueError`` subclasses.
"""

from __future__ import annotations


class OneLineError(ValueError):
    """A ``ValueError`` whose message is always one line (newlines in it become spaces)."""

    def __init__(self, message: object) -> None:
        super().__init__(" ".join(str(message).split("\n")).replace("\r", " "))


class ConfigError(OneLineError):
    """A config value of the wrong type or out of range (``config.json: model_config: field ...``)."""


class RunFileError(OneLineError):
    """A file of a run or model directory that is malformed, does not match its model, or is refused."""


class UntrustedCodeError(RunFileError):
    """A run names Python code (e.g. an AAE's ``prior_fn``) that loading will not import by itself."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message, shortened to ``limit`` characters."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
