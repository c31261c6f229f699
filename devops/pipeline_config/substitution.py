"""``${NAME}`` substitution in images, tags, paths, YAML content, chart fields and env values.

Unknown names are left as they are rather than emptied: a shell script may well mean its own
``${HOME}``, and a visible ``${TYPO}`` in a log is easier to debug than an empty string. ``$${NAME}``
is the escape for a literal ``${NAME}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Dots are allowed so template placeholders (${params.goVersion}) share the syntax.
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.]*"
_REFERENCE = re.compile(r"\$(\$?)\{(" + NAME_PATTERN + r")\}")


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Replace each ``${NAME}`` found in ``variables``; keep unknown ones; ``$${NAME}`` -> ``${NAME}``."""

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${" + name + "}"
        return variables.get(name, match.group(0))

    return _REFERENCE.sub(replace, text)


def references(text: str) -> list[tuple[int, str]]:
    """(offset, name) of each unescaped ``${NAME}`` in ``text``, for checking template placeholders."""
    return [(m.start(), m.group(2)) for m in _REFERENCE.finditer(text) if not m.group(1)]
