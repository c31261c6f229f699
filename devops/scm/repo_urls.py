"""Taking repository URLs apart for every provider, without ever showing a credential they carry.

Users paste https, ``ssh://`` and scp-like (``git@host:group/name.git``) URLs, sometimes with a user
name and token in them (``https://oauth2:glpat-...@host/...``). Each provider turns the path into its
own repository name; the common part (the path segments, the instance's own path prefix removed) and
the masking for messages live here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from .base import ProviderError

_SCP = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)(?P<path>.+)$")
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.I)


def shown_url(url: str) -> str:
    """The URL for a message (quoted): a user name and password (or token) in it are never shown."""
    return repr(_USERINFO.sub(r"\1***@", url.strip()))


def strip_userinfo(url: str) -> str:
    """``https://user@host/ws/repo.git`` without the user: clones authenticate by header."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def url_path(repository_url: str, host: str, label: str) -> list[str]:
    """The path segments of a repository URL (https, ssh:// or scp-like ``git@host:path``), without
    ``.git`` and without the host's own path prefix (an instance under a relative URL root)."""
    url = repository_url.strip()
    scp = _SCP.match(url)
    if scp:
        path = scp["path"]
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ssh", "git") or not parts.netloc:
            raise ProviderError(f"{label}: {shown_url(repository_url)} is not a repository URL")
        path = parts.path.strip("/")
        prefix = urlsplit(host).path.strip("/") if host and parts.scheme in ("http", "https") else ""
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) + 1 :]
    segments = [s for s in path.strip("/").split("/") if s]
    if segments:
        segments[-1] = segments[-1].removesuffix(".git")
    return segments
