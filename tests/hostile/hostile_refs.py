"""Branch and tag names that git accepts and a shell would run, each aimed at a sentinel file.

A name is harmless only if it stays data all the way (API, webhook, trigger, git, the clone script,
the step's environment, the pod manifest): then no sentinel file ever appears. Spaces, ``*``, ``?``,
``[``, ``~``, ``^``, ``:``, ``\\`` and control characters (newlines) are not allowed in git refs, so
``${IFS}`` stands in for a space.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

STEP_SCRIPT = r"""printf 'branch=[%s]\n' "$CICD_GIT_BRANCH"
printf 'tag=[%s]\n' "${CICD_GIT_TAG:-}"
printf 'ref=[%s]\n' "$CICD_GIT_REF"
printf 'env=[%s]\n' "$FROM_ENV"
printf 'head=[%s]\n' "$(git rev-parse HEAD)"
printf 'checkout=[%s]\n' "$(git symbolic-ref -q --short HEAD || echo detached)"
printf 'workspace=[%s]\n' "$(ls -A | tr '\n' ' ')"
"""

PIPELINE = (
    "stages:\n  - name: show\n    steps:\n      - name: show\n        runScriptConfig:\n"
    "          image: busybox\n          shellScript: |\n"
    + "".join(f"            {line}\n" for line in STEP_SCRIPT.splitlines())
    + '        env: {FROM_ENV: "${CICD_GIT_BRANCH}"}\n'
)


def hostile_names(sentinels: Path) -> dict[str, str]:
    """label -> a name that, spliced into ``sh -c``, would create ``sentinels/<label>`` (or a file
    named after the label in the working directory, for the relative one)."""
    s = str(sentinels)
    return {
        "semicolon": f"a;touch${{IFS}}{s}/semicolon",
        "dollar-paren": f"$(touch${{IFS}}{s}/dollar-paren)",
        "backticks": f"`touch${{IFS}}{s}/backticks`",
        "pipe": f"x|touch${{IFS}}{s}/pipe",
        "and": f"x&&touch${{IFS}}{s}/and",
        "redirect": f"x>{s}/redirect",
        "quotes": f"q'\"$(touch${{IFS}}{s}/quotes)\"'",
        "relative": "$(touch${IFS}relative-pwned)",
    }


def assert_git_accepts(name: str) -> None:
    """The names must be real refs, or the test would prove nothing about what git lets through."""
    proc = subprocess.run(["git", "check-ref-format", f"refs/heads/{name}"], capture_output=True, check=False)
    assert proc.returncode == 0, f"git refuses the ref name {name!r}"


def expected_lines(*, branch: str, tag: str, ref: str, sha: str, checkout: str) -> list[str]:
    return [
        f"branch=[{branch}]",
        f"tag=[{tag}]",
        f"ref=[{ref}]",
        f"env=[{branch}]",
        f"head=[{sha}]",
        f"checkout=[{checkout}]",
    ]


def hostile_repo(make_repo, sentinels: Path) -> tuple[object, dict[str, str], dict[str, str]]:
    """A repository (checked out at ``main``) with one branch per hostile name, each at a commit of its
    own: (repo, names by label, commit by label)."""
    names = hostile_names(sentinels)
    repo = make_repo(PIPELINE)
    shas = {}
    for label, name in names.items():
        assert_git_accepts(name)
        repo.branch(name, "main")
        shas[label] = repo.commit({f"{label}.txt": label}, f"on {label}")
    repo.checkout("main")
    return repo, names, shas
