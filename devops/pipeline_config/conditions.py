"""Branch and event conditions (`branch:` at the top, `when:` on stages and steps).

Branch patterns are globs, matched against the whole branch name:

* ``*`` matches any characters except ``/``, so ``release/*`` matches ``release/1.0`` but not
  ``release/1.0/hotfix`` (branch namespaces are separated by ``/``, as in Rancher's examples);
* ``**`` matches anything, ``/`` included (``feature/**`` matches ``feature/a/b``; ``**`` alone is
  every branch);
* ``?`` matches one character except ``/``; ``[abc]`` / ``[!abc]`` match one character of / not of a
  set; every other character matches itself.

A filter with no include patterns includes every branch; exclude patterns then remove some.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

EVENTS = ("push", "pull_request", "tag", "manual", "image", "cron")


# One pattern element: "**" (anything), "*" (anything but '/'), or a test of one character.
_Token = Callable[[str], bool] | str


@lru_cache(maxsize=1024)
def _glob_tokens(pattern: str) -> tuple[_Token, ...]:
    """The glob (rules in the module docstring) as a list of elements."""
    out: list[_Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append("**")
            i += 2
            continue
        if char == "*":
            out.append("*")
        elif char == "?":
            out.append(lambda c: c != "/")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            out.append(_char_set(pattern[i + 1 : end]))
            i = end + 1
            continue
        else:
            out.append(char.__eq__)
        i += 1
    return tuple(out)


def _char_set(body: str) -> Callable[[str], bool]:
    """``[abc]``, ``[a-z]``, ``[!abc]`` (never '/'); a reversed range such as ``z-a`` matches nothing."""
    negate = body.startswith("!")
    body = body[1:] if negate else body
    singles: set[str] = set()
    ranges: list[tuple[str, str]] = []
    j = 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            ranges.append((body[j], body[j + 2]))
            j += 3
        else:
            singles.add(body[j])
            j += 1

    def test(c: str) -> bool:
        inside = c in singles or any(low <= c <= high for low, high in ranges)
        return c != "/" and not inside if negate else inside

    return test


def glob_match(pattern: str, name: str) -> bool:
    """Whether the whole of ``name`` matches ``pattern``.

    The pattern runs as an automaton over the set of positions it can be at, in time proportional to
    pattern times name: patterns come from repositories, and the regex this used to compile to
    backtracked exponentially (``*a*a*a*a*a*a*a*ab`` against 60 ``a`` took 40 s).
    """
    tokens = _glob_tokens(pattern)
    states = _skip_stars(tokens, {0})
    for char in name:
        following = set()
        for i in states:
            if i == len(tokens):
                continue
            token = tokens[i]
            if token == "**" or (token == "*" and char != "/"):
                following.add(i)
            elif not isinstance(token, str) and token(char):
                following.add(i + 1)
        if not following:
            return False
        states = _skip_stars(tokens, following)
    return len(tokens) in states


def _skip_stars(tokens: tuple[_Token, ...], states: set[int]) -> set[int]:
    """Add the positions reached by letting stars match nothing."""
    out, stack = set(states), list(states)
    while stack:
        i = stack.pop()
        if i < len(tokens) and tokens[i] in ("*", "**") and i + 1 not in out:
            out.add(i + 1)
            stack.append(i + 1)
    return out


@dataclass(frozen=True)
class BranchFilter:
    """Which branches match: any include pattern (or no include patterns at all), and no exclude one."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def matches(self, branch: str | None) -> bool:
        """A missing branch (a tag whose branch is unknown) never matches a branch filter."""
        if branch is None:
            return False
        if self.include and not any(glob_match(pattern, branch) for pattern in self.include):
            return False
        return not any(glob_match(pattern, branch) for pattern in self.exclude)

    def to_dict(self) -> dict[str, Any]:
        return {"include": list(self.include), "exclude": list(self.exclude)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BranchFilter:
        return cls(include=tuple(data.get("include", ())), exclude=tuple(data.get("exclude", ())))


@dataclass(frozen=True)
class When:
    """A stage or step runs only if every given constraint matches; an absent one always matches."""

    branch: BranchFilter | None = None
    event: tuple[str, ...] | None = None

    def matches(self, branch: str | None, event: str) -> bool:
        if self.event is not None and event not in self.event:
            return False
        return self.branch is None or self.branch.matches(branch)

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": None if self.branch is None else self.branch.to_dict(),
            "event": None if self.event is None else list(self.event),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> When:
        branch, event = data.get("branch"), data.get("event")
        return cls(
            branch=None if branch is None else BranchFilter.from_dict(branch),
            event=None if event is None else tuple(event),
        )
