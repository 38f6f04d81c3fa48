"""Engine and sessions. One engine per process and URL; SQLite is migrated automatically on first use.

Postgres is migrated explicitly (`farm db upgrade`) under an advisory lock, so that many workers
starting at once never race the schema.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from farm.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

# What a task retries: the database's own errors (a restart, a dropped connection, a serialisation failure).
RETRYABLE: tuple[type[Exception], ...] = (DBAPIError,)
ALEMBIC_DIR = Path(__file__).resolve().parents[2] / "alembic"
_ENGINES: dict[str, Engine] = {}
_READY: set[str] = set()
_LOCK = threading.Lock()
_PG_MIGRATION_LOCK = 0x6661726D  # "farm": advisory lock id serialising migrations


def _first_line(error: BaseException | None) -> str:
    """A driver's message as one line (psycopg adds a second, indented, "Is the server running ...")."""
    return " ".join(str(error).split()) if error is not None else "unknown error"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; make the driver explicit so psycopg2 is never looked for."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def alembic_config(url: str) -> Config:
    # Alembic is imported only when the schema is checked or migrated: it is a large share of start-up time.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")  # readers (progress, status) never block the writer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def get_engine(url: str) -> Engine:
    """The process-wide engine for `url` (created once; Celery workers dispose it after fork)."""
    url = normalise_url(url)
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            try:
                parsed = make_url(url)
            except ArgumentError:
                raise ConfigError("FARM_DATABASE_URL", "database.url", f"not a database URL: {url!r}") from None
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                # Sized for a worker's threads; stale connections are recycled, and a failed statement is
                # retried by the task (autoretry on DBAPIError) rather than pinged before every checkout.
                engine = create_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800)
            _ENGINES[url] = engine
        return engine


# The schema revision this code expects. Checked against Alembic's head by a test, so reading the
# database's revision needs no Alembic import on every command (it is most of `farm`'s start-up).
SCHEMA_HEAD = "0004"


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None for an empty database)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextmanager
def _sqlite_migration_lock(database: str | None) -> Iterator[None]:
    """One migration at a time per SQLite file, across processes (a sweep and `farm sweep status` started
    together on a fresh file both migrate it; SQLite's DDL is not serialised by the driver's transaction)."""
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrate-lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(url: str) -> str:
    """Migrate the database at `url` to head; returns the revision. Safe to run concurrently."""
    from alembic import command

    url = normalise_url(url)
    engine = get_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                try:
                    cfg = alembic_config(url)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    conn.commit()
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    conn.commit()
        else:
            with _sqlite_migration_lock(engine.url.database), engine.begin() as conn:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise ConfigError("database", "url",
                          f"cannot reach {engine.url.render_as_string()}: {_first_line(exc.orig)}") from None
    _READY.add(url)
    return head_revision()


def ensure_schema(url: str) -> Engine:
    """The engine for `url`, its schema at head: SQLite is upgraded in place, Postgres must be already."""
    url = normalise_url(url)
    engine = get_engine(url)
    if url in _READY:
        return engine
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise ConfigError("database", "url",
                          f"cannot reach {engine.url.render_as_string()}: {_first_line(exc.orig)}") from None
    if current != SCHEMA_HEAD:
        if engine.dialect.name == "sqlite":
            upgrade(url)
        else:
            raise ConfigError(
                "database", "url",
                f"schema is at {current or 'nothing'}, expected {SCHEMA_HEAD}: run `farm db upgrade`",
            )
    _READY.add(url)
    return engine


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(ensure_schema(url), expire_on_commit=False)


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with session_factory(url)() as session, session.begin():
        yield session


def dispose_all() -> None:
    """After a fork (Celery prefork child): drop inherited connections without closing the parent's."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
