"""A freshly migrated database per scenario, never the developer's own.

SQLite (no ``DATABASE_URL``): ``manage.py migrate`` runs once into a template
file, cached under ``var/bench/cache`` by a hash of every migration and of the
versions of the packages that bring migrations; each scenario gets a copy in
the run's temporary directory.

PostgreSQL (``DATABASE_URL`` set): the template is a database
``testenv_bench_<pid>_template`` on that server, migrated once per run; each
scenario gets ``CREATE DATABASE ... TEMPLATE`` of it. Every database the run
created is dropped at the end; the database named in ``DATABASE_URL`` is only
used to connect.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from bench.common import PYTHON, ROOT, log

CACHE_DIR = ROOT / "var" / "bench" / "cache"
MIGRATION_PACKAGES = ("Django", "django-celery-beat", "djangorestframework")


def _migrate(url: str, env: dict[str, str]) -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env={**env, "DATABASE_URL": url},
        check=True,
    )


def _migrations_key() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    for package in MIGRATION_PACKAGES:
        digest.update(f"{package}=={version(package)}".encode())
    return digest.hexdigest()[:16]


class Databases:
    """Hands out one migrated database URL per scenario; ``close()`` drops them."""

    def __init__(self, run_dir: Path, env: dict[str, str]) -> None:
        self.run_dir = run_dir
        self.env = env
        self.server_url = env.get("DATABASE_URL", "")
        self.vendor = "postgresql" if self.server_url else "sqlite"
        self.template: str | None = None
        self.created: list[str] = []

    # -- SQLite ---------------------------------------------------------------

    def _sqlite_template(self) -> Path:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        cached = CACHE_DIR / f"template-{_migrations_key()}.sqlite3"
        if cached.exists():
            log(f"migrated template database from the cache ({cached.name})")
            return cached
        log("migrating a template database (cached for later runs)")
        building = self.run_dir / "template.sqlite3"
        _migrate(f"sqlite:///{building}", self.env)
        # One self-contained file: fold the write-ahead log into it.
        with sqlite3.connect(building) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for stale in CACHE_DIR.glob("template-*.sqlite3"):
            stale.unlink(missing_ok=True)
        shutil.copyfile(building, cached)
        return cached

    # -- PostgreSQL -----------------------------------------------------------

    def _admin(self):
        import psycopg

        parts = urlsplit(self.server_url)
        conninfo = urlunsplit(parts._replace(scheme="postgresql"))
        return psycopg.connect(conninfo, autocommit=True)

    def _pg_url(self, name: str) -> str:
        parts = urlsplit(self.server_url)
        return urlunsplit(parts._replace(path="/" + quote(name)))

    def _pg_create(self, name: str, template: str | None = None) -> str:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        self.created.append(name)
        return self._pg_url(name)

    # -- both -----------------------------------------------------------------

    def for_scenario(self, scenario: str) -> str:
        """A fresh, migrated database URL for ``scenario``."""
        if self.vendor == "sqlite":
            if self.template is None:
                self.template = str(self._sqlite_template())
            target = self.run_dir / scenario / "db.sqlite3"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.template, target)
            return f"sqlite:///{target}"
        prefix = f"testenv_bench_{os.getpid()}"
        if self.template is None:
            log("migrating a template database on the PostgreSQL server")
            _migrate(self._pg_create(f"{prefix}_template"), self.env)
            self.template = f"{prefix}_template"
        return self._pg_create(f"{prefix}_{scenario}", self.template)

    def close(self) -> None:
        if self.vendor != "postgresql" or not self.created:
            return
        try:
            with self._admin() as conn:
                for name in reversed(self.created):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:
            log(f"could not drop the benchmark databases {self.created}: {exc}")
