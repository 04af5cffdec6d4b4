"""``loa backup`` and ``loa restore``: a consistent copy of the database while Loa runs, and
putting one back.

- **SQLite**: SQLite's online backup API copies the database in one step under a read
  transaction. In WAL mode writers go on meanwhile, and the copy is the database as it was when
  the step began: every committed transaction or none of it. The copy is checked
  (``PRAGMA integrity_check``) before it replaces the target file, which is 0600.
- **PostgreSQL**: ``pg_dump -Fc`` (a consistent snapshot as well), when it is on the PATH; else
  the documented command is printed for the operator to run. The password goes in
  ``PGPASSWORD``, never on a command line that ``ps`` shows.

A restore refuses while RQ workers are registered in Redis (stop them first, and the web too),
unless forced; it checks the file, copies it in, migrates it to the latest version, and audits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, make_url
from sqlalchemy.pool import NullPool

from gateway import audit, logs, migrate

# SQLite reads a database's first 16 bytes as this header.
SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class PgCommand:
    """A pg_dump/pg_restore command line and the password it needs in its environment."""

    argv: list[str]
    password: str | None

    def shown(self) -> str:
        """The command as an operator would type it (the password stays in PGPASSWORD)."""
        prefix = "PGPASSWORD=… " if self.password else ""
        return prefix + " ".join(self.argv)

    def run(self) -> None:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        done = subprocess.run(self.argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupError(f"{self.argv[0]} failed: {logs.mask_url(done.stderr.strip())}")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[str, str | None]:
    """A libpq URI (no driver, no password) for pg_dump/pg_restore, and the password."""
    parsed: URL = make_url(url)
    password = parsed.password
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return plain.render_as_string(hide_password=False), (
        str(password) if password is not None else None
    )


def pg_dump_command(url: str, path: Path) -> PgCommand:
    """``pg_dump -Fc`` of the database at ``url`` into ``path``."""
    uri, password = _libpq(url)
    return PgCommand(["pg_dump", "-Fc", "--no-owner", "-f", str(path), "-d", uri], password)


def pg_restore_command(url: str, path: Path) -> PgCommand:
    """``pg_restore`` of ``path`` over the database at ``url``, all or nothing."""
    uri, password = _libpq(url)
    argv = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction"]
    return PgCommand([*argv, "--exit-on-error", "-d", uri, str(path)], password)


def backup(url: str, path: Path) -> str:
    """Copy the database at ``url`` into ``path`` (replaced if present) while Loa runs.

    Returns:
        What was done, for the operator.

    Raises:
        BackupError: no pg_dump on the PATH (the message holds the command to run), or a
            failed copy.
    """
    path = Path(path)
    if is_sqlite(url):
        _sqlite_copy(_sqlite_path(url), path)
        return f"backed up to {path} (SQLite online backup, integrity checked)"
    command = pg_dump_command(url, path)
    if shutil.which("pg_dump") is None:
        raise BackupError(
            "pg_dump is not on the PATH (Debian: apt-get install postgresql-client); run:\n"
            + command.shown()
        )
    with _private_umask():
        command.run()
    return f"backed up to {path} (pg_dump -Fc)"


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    old = os.umask(0o077)  # a backup holds tips and numbers: readable by this user only
    try:
        yield
    finally:
        os.umask(old)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy ``source`` into ``target`` through a checked temporary file, with the backup API."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with _private_umask():
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(partial)
        try:
            # One step (pages=-1): a step-wise copy restarts whenever another connection writes,
            # so under constant writes it might never end; one step holds a read transaction,
            # which in WAL mode never blocks a writer.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            src.close()
            dst.close()
    check_sqlite_file(partial)
    partial.replace(target)


def check_sqlite_file(path: Path) -> None:
    """Raise unless ``path`` is an intact SQLite database of Loa (it has Alembic's version)."""
    if not path.is_file():
        raise BackupError(f"no file {path}")
    with path.open("rb") as f:
        if f.read(16) != SQLITE_HEADER:
            raise BackupError(f"{path} is not an SQLite database")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            raise BackupError(f"{path} is damaged: {result[0][0]}")
        version = conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()
        if version is None:
            raise BackupError(f"{path} is not a Loa database (no alembic_version table)")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    finally:
        conn.close()


def check_pg_file(path: Path) -> None:
    """Raise unless ``path`` is a pg_dump custom-format archive that pg_restore can list."""
    if not path.is_file():
        raise BackupError(f"no file {path}")
    with path.open("rb") as f:
        if f.read(5) != PG_DUMP_MAGIC:
            raise BackupError(f"{path} is not a pg_dump -Fc archive")
    listed = subprocess.run(
        ["pg_restore", "--list", str(path)], capture_output=True, text=True, check=False
    )
    if listed.returncode != 0 or "alembic_version" not in listed.stdout:
        raise BackupError(f"{path} is not a complete Loa archive: {listed.stderr.strip()[:300]}")


def running_workers(redis_url: str) -> list[str]:
    """The names of the RQ workers registered in Redis (they beat while they run).

    Raises:
        BackupError: Redis cannot be reached, so nobody can tell.
    """
    from redis.exceptions import RedisError
    from rq import Worker

    from gateway import queues

    try:
        conn = queues.connect(redis_url)
        try:
            return sorted(w.name for w in Worker.all(connection=conn))
        finally:
            conn.close()
    except (RedisError, OSError) as exc:
        raise BackupError(
            f"cannot ask Redis whether workers run ({type(exc).__name__}); "
            "make sure every worker and web process is stopped, then use --force"
        ) from None


def restore(url: str, path: Path, redis_url: str, force: bool = False) -> str:
    """Replace the database at ``url`` with the backup at ``path``, then migrate it to head.

    Args:
        force: restore even while workers are registered (or Redis cannot tell).

    Returns:
        What was done, for the operator.

    Raises:
        BackupError: workers are running, the file is not a sound backup, or the copy failed.
    """
    path = Path(path)
    sqlite = is_sqlite(url)
    (check_sqlite_file if sqlite else check_pg_file)(path)
    if not force and (workers := running_workers(redis_url)):
        raise BackupError(
            f"{len(workers)} worker(s) running ({', '.join(workers[:5])}): stop every worker "
            "and web process first (systemctl stop 'loa-*'), or use --force"
        )
    if sqlite:
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _private_umask():
            src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            dst = sqlite3.connect(target, timeout=30)
            try:
                src.backup(dst, pages=-1)  # page by page into the live file: WAL stays right
            finally:
                src.close()
                dst.close()
    else:
        if shutil.which("pg_restore") is None:
            raise BackupError(
                "pg_restore is not on the PATH (Debian: apt-get install postgresql-client); run:\n"
                + pg_restore_command(url, path).shown()
                + "\nthen: loa db upgrade"
            )
        pg_restore_command(url, path).run()
    migrate.upgrade(url)
    if not sqlite:
        _vacuum_analyze(url)
    _audit_restore(url, path)
    return f"restored {path} and migrated it to the latest version"


def _vacuum_analyze(url: str) -> None:
    """``VACUUM ANALYZE`` a restored PostgreSQL database: ``pg_restore`` brings no planner
    statistics and no visibility map, so until autovacuum comes by (minutes later) the planner
    guesses and the inbox counts' index-only scans read the table as well (with 1,000,000
    tips: 60-100 ms a count before the vacuum, 55-60 ms after)."""
    from campaigns.db import make_engine

    engine = make_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")  # not inside a transaction: autocommit
    finally:
        engine.dispose()


def _audit_restore(url: str, path: Path) -> None:
    from campaigns.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            audit.record(
                "db.restore", object_type="database", details={"file": path.name}, session=s
            )
            s.commit()
    finally:
        engine.dispose()
