"""SQLAlchemy 2 engine and one session per request.

The engine is created on first use, never at import or in `create_app`, so no connection is
opened before gunicorn forks its workers.
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Connection, DateTime, Engine, TypeDecorator, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .config import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE

T = TypeVar("T")
log = logging.getLogger(__name__)


class Database:
    """A lazily created engine and its session factory, for one database URL.

    Each worker process keeps two pools: one for transactions (pre-pinged) and one for the
    hottest reads; each holds up to `pool_size` idle connections and opens up to
    `max_overflow` more under load (DATABASE_POOL_SIZE, DATABASE_MAX_OVERFLOW).
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ):
        self.url = url
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self._engine: Engine | None = None
        self._read_engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config) -> "Database":
        return cls(
            config["DATABASE_URL"],
            pool_size=config.get("DATABASE_POOL_SIZE", DEFAULT_POOL_SIZE),
            max_overflow=config.get("DATABASE_MAX_OVERFLOW", DEFAULT_MAX_OVERFLOW),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = make_engine(self.url, **self._pool_options)
        return self._engine

    def read(self, query: Callable[[Connection], T]) -> T:
        """Run one idempotent read outside any transaction, for the hottest paths.

        Its pool skips the pre-ping round trip, which cost as much as the read itself; instead
        a connection that turns out to be dead is dropped and the read is tried once more."""
        if self._read_engine is None:
            with self._lock:
                if self._read_engine is None:
                    # Autocommit from the start: switching a pooled connection to it and back
                    # on every read cost more than the read's own statement.
                    self._read_engine = make_engine(
                        self.url, pre_ping=False, isolation_level="AUTOCOMMIT", **self._pool_options
                    )
        for attempt in (1, 2):
            try:
                with self._read_engine.connect() as connection:
                    return query(connection)
            except DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    @property
    def _pool_options(self) -> dict:
        return {"pool_size": self.pool_size, "max_overflow": self.max_overflow}

    def session(self) -> Session:
        if self._sessionmaker is None:
            self._sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        return self._sessionmaker()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        for engine in (self._engine, self._read_engine):
            if engine is not None:
                engine.dispose()


def make_engine(
    url: str,
    *,
    pre_ping: bool = True,
    isolation_level: str | None = None,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
) -> Engine:
    options = {"isolation_level": isolation_level} if isolation_level else {}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=pre_ping,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
        **options,
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and a writer work side by side across the four processes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_db(app: Flask) -> Database:
    database = Database.from_config(app.config)
    app.extensions["database"] = database
    app.teardown_appcontext(_close_session)
    return database


def get_database() -> Database:
    return current_app.extensions["database"]


def get_session() -> Session:
    """The session of the current request; rolled back and closed at teardown unless committed."""
    if "db_session" not in g:
        g.db_session = get_database().session()
    return g.db_session


def _close_session(_exc) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except DBAPIError as error:
        # The database went away during the request (a restart): the rollback on close fails.
        # The answer already made stands; the dead connection is thrown away, not reused.
        log.warning("closing a session on a lost connection: %s", str(error).splitlines()[0])
        session.invalidate()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on both backends (SQLite hands back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
