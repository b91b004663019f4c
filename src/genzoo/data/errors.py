"""The one exception type of :mod:`genzoo.data`."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data or data options.

    The message is a single line that names the file or option and says what is wrong, so the CLI
    can print it as it is.
    """

    def __init__(self, message: object) -> None:
        super().__init__(" ".join(str(message).splitlines()))
