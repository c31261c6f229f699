"""Hypothesis strategies for webhook deliveries: each provider's documented payloads (the fixtures of
tests/scm and tests/triggers) with fields dropped, retyped and swollen, encoded oddly or replaced by
noise, and headers with right, wrong, missing and mangled signatures, event names and content types.

A ``Delivery`` is a plan, not a request: the signature is made at test time with the pipeline's real
secret (``tests/webhooks/webhook_deliveries.sign``), because a correctly signed fuzzed body is what
gets past authentication into the payload readers and the database.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from broken_files import _paths
from hypothesis import strategies as st
from pipeline_files import chance, pick

TESTS = Path(__file__).resolve().parent.parent
SCM_FIXTURES = TESTS / "scm" / "fixtures"
IMAGE_FIXTURES = TESTS / "triggers" / "fixtures"
PROVIDER_DIRS = {"github": "github", "gitea": "gitea", "gitlab": "gitlab", "bitbucket": "bitbucket",
                 "bitbucket-server": "bitbucket_server"}  # fmt: skip


def _load_fixtures(folder: Path) -> list[tuple[dict[str, str], dict[str, Any]]]:
    headers = json.loads((folder / "headers.json").read_text())
    out = []
    for path in sorted(folder.glob("*.json")):
        if path.name != "headers.json":
            # Provider fixtures have headers per payload; registry fixtures one set for all.
            own = headers.get(path.stem, headers) if isinstance(headers.get(path.stem), dict) else headers
            out.append(({k: v for k, v in own.items() if isinstance(v, str)}, json.loads(path.read_text())))
    return out


PROVIDER_FIXTURES = {provider: _load_fixtures(SCM_FIXTURES / folder) for provider, folder in PROVIDER_DIRS.items()}
REGISTRY_FIXTURES = [item for name in ("harbor", "dockerhub", "acr") for item in _load_fixtures(IMAGE_FIXTURES / name)]
PROVIDERS = tuple(PROVIDER_DIRS)

# Header values as a WSGI server hands them over: latin-1 decoded, no CR, LF or NUL.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)
HEADER_NAMES = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"), min_size=1,
                       max_size=20)  # fmt: skip
EVENT_NAMES = (
    "push", "pull_request", "ping", "create", "pull_request_sync", "release", "Push Hook", "Tag Push Hook",
    "Merge Request Hook", "Note Hook", "repo:push", "pullrequest:created", "pullrequest:updated",
    "pullrequest:fulfilled", "repo:refs_changed", "pr:opened", "pr:from_ref_updated", "diagnostics:ping", "",
)  # fmt: skip
EVENT_HEADERS = ("X-GitHub-Event", "X-Gitea-Event", "X-Gogs-Event", "X-Gitlab-Event", "X-Event-Key", "X-Hook-UUID")
CONTENT_TYPES = (
    "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain",
    "multipart/form-data; boundary=xyz", "application/json; charset=utf-16", "", "application/ä;;;", "*/*",
)  # fmt: skip

# Strings that mean something to the readers: refs, commit ids, option-like names, NUL, very long ones.
MEANINGFUL = (
    "refs/heads/main", "refs/tags/v1.0", "refs/pull/1/head", "main", "-rf", "../../etc/passwd", "a..b", "x.lock",
    "0" * 40, "f" * 40, "F" * 40, "0" * 64, "abc", "sha256:" + "e" * 64, "\u0000", "nul\u0000inside", "ünïcödé ✓",
    "refs/heads/" + "b" * 300, "library/webapp", "v1.4.0", "PUSH_ARTIFACT", "latest", "BRANCH", "TAG", "DELETE",
    "ADD", "opened", "synchronize", "update", "open",
)  # fmt: skip
# Strings for a string field: the same type, so the readers go on to use the value.
STRINGS = st.one_of(
    st.sampled_from(MEANINGFUL),
    st.text(max_size=30),
    st.integers(1_000, 70_000).map(lambda n: "x" * n),  # past the lowered payload cap, or close to it
)
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    STRINGS,
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_json(draw: st.DrawFn, data: Any) -> Any:
    """None to three changes: mostly a string field given another string (so the readers accept the
    shape and use the value), else a value retyped or dropped, or an unknown key added."""
    data = copy.deepcopy(data)
    if chance(draw, 4):
        data = draw(poisoned(data))
    for _ in range(0 if chance(draw, 4) else draw(st.integers(1, 3))):
        if chance(draw, 2):
            strings = [path for path in _paths(data) if path and isinstance(_at(data, path), str)]
            if strings:
                path = pick(draw, strings)
                _at(data, path[:-1])[path[-1]] = draw(STRINGS)
                continue
        paths = _paths(data)
        if chance(draw, 2):  # the fields a reader looks at first: top-level and one below
            paths = [path for path in paths if len(path) <= 2]
        path = pick(draw, paths)
        operation = draw(st.integers(0, 2))
        if not path:
            data = draw(JSON_VALUES) if operation == 0 else data
            continue
        parent, last = _at(data, path[:-1]), path[-1]
        if operation == 0:
            parent[last] = draw(JSON_VALUES)
        elif operation == 1:
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][draw(st.text(max_size=10))] = draw(JSON_VALUES)
    return data


# Characters a database or a terminal may choke on, in JSON that is otherwise what the provider sends.
POISON = ("\u0000", "\ud800", "\udfff", "\uffff", "\u202e", "\x1b[31m", "\r\n")


@st.composite
def poisoned(draw: st.DrawFn, data: Any) -> Any:
    """Some string values (ids, messages, names) end with a character that should never be stored raw."""
    if isinstance(data, dict):
        return {key: draw(poisoned(value)) for key, value in data.items()}
    if isinstance(data, list):
        return [draw(poisoned(value)) for value in data]
    if isinstance(data, str) and chance(draw, 4):
        return data + pick(draw, POISON)
    return data


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def encoded(draw: st.DrawFn, data: Any) -> bytes:
    """The data as bytes the way senders get it right and wrong."""
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    form = draw(st.integers(0, 15))  # 7 and above: plain JSON, as senders mostly send
    if form == 1:  # a number past Python's 4300-digit int conversion
        text = text[:-1] + ', "n": ' + "9" * 5000 + text[-1:] if text.endswith("}") else "9" * 5000
    if form == 2:
        return ("payload=" + quote_plus(text, errors="surrogatepass")).encode()
    if form == 3:
        return text.encode(pick(draw, ("utf-16", "utf-32", "utf-8-sig", "utf-16-be")), errors="surrogatepass")
    if form == 4:
        return text.encode("latin-1", errors="replace")
    if form == 5:
        raw = text.encode("utf-8", errors="surrogatepass")
        return raw[: draw(st.integers(0, len(raw)))]
    if form == 6:
        return draw(st.binary(max_size=64))
    return text.encode("utf-8", errors="surrogatepass")


@dataclass(frozen=True)
class Delivery:
    """What to send; ``signature`` is applied at test time with the pipeline's secret."""

    provider: str  # whose signature scheme to use
    headers: dict[str, str]
    body: bytes
    content_type: str
    signature: str  # right, wrong, missing, garbage, stale (right for the body before the last change)
    target: str  # the pipeline, or a pipeline that does not exist


@st.composite
def header_changes(draw: st.DrawFn, headers: dict[str, str]) -> dict[str, str]:
    headers = dict(headers)
    for _ in range(0 if chance(draw, 2) else draw(st.integers(1, 3))):
        change = draw(st.integers(0, 5))
        if change == 0 and headers:
            del headers[pick(draw, sorted(headers))]
        elif change == 1:
            headers[pick(draw, EVENT_HEADERS)] = pick(draw, EVENT_NAMES)
        elif change == 2 and headers:
            name = pick(draw, sorted(headers))
            headers[name] = headers[name] + ", " + headers[name]  # sent twice: the server joins them
        elif change == 3:
            headers[draw(HEADER_NAMES)] = draw(HEADER_TEXT)
        elif change == 4:
            delivery_header = pick(draw, ("X-GitHub-Delivery", "X-Gitea-Delivery", "X-Request-UUID", "X-Request-Id",
                                          "Idempotency-Key", "X-Gitlab-Event-UUID"))  # fmt: skip
            headers[delivery_header] = draw(HEADER_TEXT | st.just("d" * 500))
        elif headers:
            headers[pick(draw, sorted(headers))] = draw(HEADER_TEXT)
    return headers


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    provider = pick(draw, PROVIDERS)
    headers, data = pick(draw, PROVIDER_FIXTURES[provider])
    if chance(draw, 6):  # another provider's headers over this body
        headers, _ = pick(draw, PROVIDER_FIXTURES[pick(draw, PROVIDERS)])
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    body = draw(encoded(draw(mutated_json(data))))
    return Delivery(
        provider=provider,
        headers=draw(header_changes(headers)),
        body=body,
        content_type=pick(draw, CONTENT_TYPES),
        signature=pick(draw, ("right",) * 6 + ("wrong", "missing", "garbage", "stale")),
        target=pick(draw, ("pipeline",) * 9 + ("missing", "zero", "huge")),
    )


def fixture_delivery(provider: str, name: str, fields: dict[str, Any]) -> Delivery:
    """A provider's fixture, with dotted ``fields`` (list indexes as numbers) set, correctly signed for
    the pipeline: for ``@example``s that pin a case the fuzzing found."""
    folder = SCM_FIXTURES / PROVIDER_DIRS[provider]
    headers = json.loads((folder / "headers.json").read_text())[name]
    data = json.loads((folder / f"{name}.json").read_text())
    for dotted, value in fields.items():
        *parents, last = [int(part) if part.isdigit() else part for part in dotted.split(".")]
        _at(data, tuple(parents))[last] = value
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return Delivery(provider, headers, json.dumps(data).encode(), "application/json", "right", "pipeline")


@st.composite
def image_pushes(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes, str]:
    """(token kind, headers, body, content type) for the image hook."""
    headers, data = pick(draw, REGISTRY_FIXTURES)
    if chance(draw, 2):  # aim the push at the project's image trigger so matching runs too
        data = copy.deepcopy(data)
        data = _retarget(data)
    body = draw(encoded(draw(mutated_json(data))))
    token = pick(draw, ("right",) * 9 + ("wrong", "long", "odd"))
    return token, draw(header_changes({k: v for k, v in headers.items() if k.lower() != "content-type"})), body, \
        pick(draw, CONTENT_TYPES)  # fmt: skip


def _retarget(data: dict[str, Any]) -> dict[str, Any]:
    """Point a fixture at ``fuzz/app`` (what the test's image trigger wants)."""
    if "event_data" in data:
        data["event_data"]["repository"]["repo_full_name"] = "fuzz/app"
        for resource in data["event_data"].get("resources", []):
            resource["resource_url"] = f"harbor.example.com/fuzz/app:{resource.get('tag', 'v1')}"
    elif "repo_name" in data.get("repository", {}):
        data["repository"]["repo_name"] = "fuzz/app"
    else:
        data["repository"]["repo_full_name"] = "fuzz/app"
    return data
