"""SQLAlchemy 2 engine and one session per request.

The engine is created on first use, never at import or in `create_app`, so no connection is
opened before gunicorn forks its workers.
"""

import threading
from datetime import UTC, datetime

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """A lazily created engine and its session factory, for one database URL."""

    def __init__(self, url: str):
        self.url = url
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = make_engine(self.url)
        return self._engine

    def session(self) -> Session:
        if self._sessionmaker is None:
            self._sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        return self._sessionmaker()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and a writer work side by side across the four processes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_db(app: Flask) -> Database:
    database = Database(app.config["DATABASE_URL"])
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
    if session is not None:
        session.close()


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
