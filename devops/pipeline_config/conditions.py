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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

EVENTS = ("push", "pull_request", "tag", "manual", "image", "cron")


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a branch glob (rules in the module docstring) to an anchored regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def glob_match(pattern: str, name: str) -> bool:
    return glob_regex(pattern).fullmatch(name) is not None


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
