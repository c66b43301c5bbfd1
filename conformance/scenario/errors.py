"""The one error a scenario file can raise: a mistake at ``file:line``."""

from __future__ import annotations


class ScenarioError(Exception):
    """A scenario file that cannot be loaded; ``str()`` is ``file:line: message``.

    The loader turns every problem with a file (syntax, validation, encoding,
    even its own bugs) into this error so that a user sees where to look
    instead of a traceback.
    """

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(file, line, message)
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[str, int, str]]:
        # Errors cross process boundaries (pytest-xdist workers): keep them picklable.
        return (ScenarioError, (self.file, self.line, self.message))
