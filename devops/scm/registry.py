"""Provider plug-ins by name, and detection of an incoming delivery's provider by its headers."""

from __future__ import annotations

from collections.abc import Mapping

from .base import ScmProvider

_PROVIDERS: dict[str, type[ScmProvider]] = {}
# Detection order matters: Gitea also sends X-GitHub-Event, so it is asked before GitHub.
_DETECTION_ORDER: list[str] = []


def register(cls: type[ScmProvider], *, detect_before: str | None = None) -> type[ScmProvider]:
    _PROVIDERS[cls.name] = cls
    if cls.name in _DETECTION_ORDER:
        _DETECTION_ORDER.remove(cls.name)
    if detect_before and detect_before in _DETECTION_ORDER:
        _DETECTION_ORDER.insert(_DETECTION_ORDER.index(detect_before), cls.name)
    else:
        _DETECTION_ORDER.append(cls.name)
    return cls


def _load() -> None:
    # Importing the modules registers them; done lazily so models can import this module.
    from . import bitbucket, bitbucket_server, gitea, github, gitlab, plain  # noqa: F401


def provider_class(name: str) -> type[ScmProvider]:
    _load()
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise KeyError(f"unknown source code provider {name!r}") from None


def get_provider(name: str, host: str = "") -> ScmProvider:
    return provider_class(name)(host)


def detect(headers: Mapping[str, str]) -> type[ScmProvider] | None:
    """The provider whose headers these are (keys lower-cased), or None."""
    _load()
    for name in _DETECTION_ORDER:
        cls = _PROVIDERS[name]
        if cls.detects(headers):
            return cls
    return None


def all_providers() -> dict[str, type[ScmProvider]]:
    _load()
    return dict(_PROVIDERS)
