"""A fake source code provider over real HTTP: GitHub, GitLab, Bitbucket (Cloud and Server) and Gitea.

Used by the tests and ``bench/``; never imported by the service itself. See ``server.py``.
"""

from .server import FakeRepo, FakeScm, FakeUser

__all__ = ["FakeRepo", "FakeScm", "FakeUser"]
