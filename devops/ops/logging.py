"""Structured logs: one JSON object per line (LOG_FORMAT=json), ids of what a line concerns, no secrets.

* ``log_context(execution_id=.., pipeline_id=.., project_id=..)`` sets the ids in a context variable for
  the code it wraps (task bodies, engine entry points). Log calls made inside need not pass them.
* ``ContextFilter`` copies those ids onto every record. A context that names only an execution (a
  task gets just the id) has its pipeline and project looked up once, lazily, and only when a line is
  actually emitted: a task that logs nothing costs no query.
* ``RedactFilter`` rewrites the message (and the traceback) so values of secret-looking keys
  (``token=``, ``"password": ...``, ``Authorization:`` headers), credentials in URLs and provider
  token shapes never reach a log line. Step output has its own masking (devops/logs/masking.py), which
  knows the actual secret values; application logs do not, hence patterns.
* ``JsonFormatter`` writes time, level, logger, message, the ids, and the traceback when there is one.

This module is named after the stdlib's ``logging``; absolute imports keep the two apart.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

__all__ = ["ContextFilter", "JsonFormatter", "RedactFilter", "current_context", "log_context", "redact"]

ID_FIELDS = ("execution_id", "pipeline_id", "project_id")
# Besides the ids, what a context may carry onto a line (e.g. the delivery a hooks task handles).
EXTRA_FIELDS = ("delivery_id", "task")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("devops_log_context", default=None)
_resolving: contextvars.ContextVar[bool] = contextvars.ContextVar("devops_log_resolving", default=False)


@contextmanager
def log_context(**ids: Any) -> Iterator[dict[str, Any]]:
    """Tag every log line emitted inside with these ids (None values are left out); nests."""
    outer = _context.get() or {}
    inner = {k: v for k, v in outer.items() if k != "_resolved"}  # lookups are per context
    inner.update({k: v for k, v in ids.items() if v is not None})
    if "execution_id" in ids and ids["execution_id"] != outer.get("execution_id"):
        # A different execution: the outer pipeline/project no longer apply unless given again.
        for key in ("pipeline_id", "project_id"):
            if key not in ids:
                inner.pop(key, None)
    token = _context.set(inner)
    try:
        yield inner
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    """A copy of the ids in force here (empty outside any ``log_context``)."""
    return dict(_context.get() or {})


def _resolve(ctx: dict[str, Any]) -> None:
    """Fill in pipeline_id/project_id from execution_id (or project_id from pipeline_id), once.

    Runs inside a logging call, so it must never raise nor log: any failure (no database, an aborted
    transaction, apps not ready) leaves the ids as they are and is not retried for this context.
    """
    if ctx.get("_resolved") or _resolving.get():
        return
    ctx["_resolved"] = True
    need_execution = "execution_id" in ctx and not ("pipeline_id" in ctx and "project_id" in ctx)
    need_pipeline = "pipeline_id" in ctx and "project_id" not in ctx
    if not (need_execution or need_pipeline):
        return
    token = _resolving.set(True)
    try:
        from django.apps import apps

        if not apps.ready:
            return
        if need_execution:
            row = (
                apps.get_model("devops", "PipelineExecution")
                .objects.filter(pk=ctx["execution_id"])
                .values_list("pipeline_id", "project_id")
                .first()
            )
            if row:
                ctx.setdefault("pipeline_id", row[0])
                ctx.setdefault("project_id", row[1])
        elif need_pipeline:
            project_id = (
                apps.get_model("devops", "Pipeline")
                .objects.filter(pk=ctx["pipeline_id"])
                .values_list("project_id", flat=True)
                .first()
            )
            if project_id is not None:
                ctx["project_id"] = project_id
    except Exception:  # noqa: BLE001, S110 - a log line must never fail because of its decoration
        pass
    finally:
        _resolving.reset(token)


class ContextFilter(logging.Filter):
    """Put the ids of the current ``log_context`` on the record (explicit ``extra=`` ids win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        if ctx:
            # Never query on behalf of the database's own logger (that would recurse).
            if not record.name.startswith("django.db"):
                _resolve(ctx)
            for key in (*ID_FIELDS, *EXTRA_FIELDS):
                if key in ctx and getattr(record, key, None) is None:
                    setattr(record, key, ctx[key])
        return True


# --- redaction ------------------------------------------------------------------------------------
_SECRET_KEY = (
    # Bounded repeats: a long run of word characters must not make the scan quadratic.
    r"[\w.-]{0,40}(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|authorization|cookie|session[_-]?id|signature|fernet)[\w.-]{0,40}"
)
REDACTED = "***"
_KEYWORD = re.compile(
    r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|authorization|"
    r"cookie|session[_-]?id|signature|fernet",
    re.IGNORECASE,
)
_KEYED: list[tuple[re.Pattern[str], str]] = [
    # Authorization / Proxy-Authorization headers, in header form or as a dict entry.
    (re.compile(r"((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|token|basic)\s+)?[^\s'\",}]+",
                re.IGNORECASE), r"\1" + REDACTED),
    # "key": "value" / 'key': 'value' (JSON, dict reprs) and key: "value" / key='value'.
    (re.compile(r"""((?:['"]|(?<![\w.-]))""" + _SECRET_KEY + r"""['"]?\s*[:=]\s*)(['"])(?:\\.|(?!\2).)*\2""",
                re.IGNORECASE), r"\1\2" + REDACTED + r"\2"),
    # key=value / key: value (query strings, env dumps, messages).
    (re.compile(r"(\b" + _SECRET_KEY + r"\s*[=:]\s*)(?![*'\"])[^\s&,;'\"}\])]+", re.IGNORECASE),
     r"\1" + REDACTED),
]  # fmt: skip
# Credentials in URLs: scheme://user:password@host.
_URL_CREDENTIALS = re.compile(r"(://[^/\s:@]{0,256}:)[^/\s@]{1,1024}@")
# Token shapes of the providers we talk to, wherever they appear.
_TOKEN_SHAPES = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})")


def redact(text: str) -> str:
    """``text`` with secret-looking values replaced by ``***``.

    The keyed patterns run only when a keyword occurs at all, which keeps ordinary lines (and long
    ones without secrets) at the cost of one scan.
    """
    if "://" in text:  # first: a user name such as x-access-token must not swallow the whole URL
        text = _URL_CREDENTIALS.sub(r"\1" + REDACTED + "@", text)
    if _KEYWORD.search(text):
        for pattern, replacement in _KEYED:
            text = pattern.sub(replacement, text)
    if "gh" in text or "glpat-" in text:
        text = _TOKEN_SHAPES.sub(REDACTED, text)
    return text


class RedactFilter(logging.Filter):
    """Format the message now and redact it; the traceback text too (formatters reuse ``exc_text``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context ids, exc when any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in (*ID_FIELDS, *EXTRA_FIELDS):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)
