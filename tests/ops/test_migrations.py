"""Upgrades: the migrations take an EMPTY PostgreSQL database to the latest state, and the latest
migration of the devops app rolls back and forward again.

The database is created here (``test_devops_migr_<pid>``, beside pytest-django's own test database)
and dropped afterwards; ``manage.py migrate`` runs in a subprocess with DATABASE_URL pointing at it,
exactly as an operator's upgrade does. (``makemigrations --check`` — models and migrations agree — is
part of ``make lint``.)
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), reason="needs PostgreSQL"
)


def _server() -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or "",
    }


def _admin() -> psycopg.Connection:
    return psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=10, **_server())


@pytest.fixture(scope="module")
def empty_database() -> Iterator[str]:
    """A brand-new database (no tables at all); yields its DATABASE_URL."""
    name = f"test_devops_migr_{os.getpid()}"
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    s = _server()
    password = f":{quote(s['password'], safe='')}" if s["password"] else ""
    try:
        yield f"postgres://{quote(s['user'], safe='')}{password}@{s['host']}:{s['port']}/{name}"
    finally:
        with _admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def manage(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": database_url,
        "DB_CONN_MAX_AGE": "0",
        "DEVOPS_VAR_DIR": str(settings.VAR_DIR),
    }
    python = str(settings.BASE_DIR / ".venv" / "bin" / "python")
    if not os.path.exists(python):
        import sys

        python = sys.executable
    return subprocess.run(
        [python, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )


def applied(database_url: str, app: str) -> list[str]:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        exists = conn.execute("SELECT to_regclass('django_migrations')").fetchone()[0]
        if exists is None:
            return []
        rows = conn.execute("SELECT name FROM django_migrations WHERE app = %s ORDER BY id", (app,)).fetchall()
    return [name for (name,) in rows]


def devops_migrations() -> tuple[list[str], str, str]:
    """(every devops migration in order, the latest, the one before it or "zero"), from the files."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = loader.graph.leaf_nodes("devops")
    assert len(leaves) == 1, f"the devops app has several latest migrations (merge them): {leaves}"
    latest = leaves[0]
    plan = [name for app, name in loader.graph.forwards_plan(latest) if app == "devops"]
    parents = [name for app, name in loader.graph.node_map[latest].parents if app == "devops"]
    return plan, latest[1], parents[0] if parents else "zero"


def test_migrate_an_empty_database_to_the_latest_state(empty_database):
    assert applied(empty_database, "devops") == []
    proc = manage(empty_database, "migrate", "--noinput")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan, latest, _ = devops_migrations()
    assert applied(empty_database, "devops") == plan
    assert applied(empty_database, "devops")[-1] == latest
    # Nothing left to apply for any app (exit 1 would mean unapplied migrations).
    check = manage(empty_database, "migrate", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    with psycopg.connect(empty_database) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"devops_pipelineexecution", "devops_steprun", "django_celery_beat_periodictask"} <= tables


def test_roll_the_latest_devops_migration_back_and_forward(empty_database):
    if not applied(empty_database, "devops"):
        proc = manage(empty_database, "migrate", "--noinput")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    plan, latest, previous = devops_migrations()

    back = manage(empty_database, "migrate", "devops", previous, "--noinput")
    assert back.returncode == 0, back.stdout + back.stderr
    assert f"Unapplying devops.{latest}... OK" in back.stdout
    assert applied(empty_database, "devops") == plan[:-1]
    unapplied = manage(empty_database, "migrate", "--check")
    assert unapplied.returncode == 1  # what an upgrade's pre-flight check sees: one migration to apply

    forward = manage(empty_database, "migrate", "devops", "--noinput")
    assert forward.returncode == 0, forward.stdout + forward.stderr
    assert applied(empty_database, "devops") == plan
    assert f"Applying devops.{latest}... OK" in forward.stdout
