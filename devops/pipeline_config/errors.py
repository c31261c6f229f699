"""Error values shared by every stage of reading a pipeline file.

A user fixing a pipeline file wants every mistake at once, each with a position their editor can jump
to, so the readers never raise on the first problem: they report into an :class:`ErrorSink` and keep
going, and :func:`~devops.pipeline_config.parse_pipeline` raises one :class:`PipelineConfigError` at
the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ConfigError:
    """One problem, located the way compilers do so editors and CI annotations can link to it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PipelineConfigError(ValueError):
    """Every problem found in one pipeline file (never just the first)."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors: list[ConfigError] = list(errors)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)

    def __reduce__(self) -> tuple[type[PipelineConfigError], tuple[list[ConfigError]]]:
        # ValueError would pickle the joined message and rebuild from it; keep the structured errors.
        return (type(self), (self.errors,))


class _Mark(Protocol):
    line: int
    column: int


class _Positioned(Protocol):
    start_mark: _Mark


# Where YAML (PyYAML and libyaml alike) starts a new line.
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


# Messages quote the offending value; a 5,000-digit number or a 1 MB string would be quoted whole into
# the API answer, the editor and the execution's reason. The position already says where it is.
MAX_MESSAGE = 400


def shorten(message: str) -> str:
    """``message`` with the middle of an over-long quote left out (its start and end kept)."""
    if len(message) <= MAX_MESSAGE:
        return message
    cut = len(message) - 300
    return f"{message[:200]}… ({cut} characters left out) …{message[-100:]}"


class ErrorSink:
    """Collects errors for one file; :meth:`for_file` shares the list so a template's errors join it."""

    def __init__(self, file: str, errors: list[ConfigError] | None = None) -> None:
        self.file = file
        self.errors: list[ConfigError] = [] if errors is None else errors
        self._end: tuple[int, int] | None = None

    def end_at(self, text: str) -> None:
        """Keep positions inside ``text``: libyaml reports a problem at the end of a file that lacks a
        final newline on a line after the last one ("2:1" for a one-line file), which no editor has."""
        lines = _LINE_BREAKS.split(text)
        self._end = (len(lines), len(lines[-1]) + 1)

    def for_file(self, file: str) -> ErrorSink:
        return ErrorSink(file, self.errors)

    def at(self, where: _Positioned | _Mark | tuple[int, int], message: str) -> None:
        """Record ``message`` at a YAML node, a YAML mark (0-based) or a 1-based (line, column) pair."""
        if isinstance(where, tuple):
            line, column = where
        else:
            mark = where.start_mark if hasattr(where, "start_mark") else where
            line, column = mark.line + 1, mark.column + 1
        if self._end is not None and (line, column) > self._end:
            line, column = self._end
        self.errors.append(ConfigError(self.file, line, column, shorten(message)))

    def has_errors(self) -> bool:
        return bool(self.errors)
