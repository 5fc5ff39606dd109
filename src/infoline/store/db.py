"""Open the database, bring its schema up to date, and hand out sessions and transactions."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).with_name("migrations")
POOL_SIZE = 20  # PostgreSQL connections a process keeps (see config.yml: database.pool_size)
P = ParamSpec("P")
T = TypeVar("T")


def now() -> dt.datetime:
    """Return the current time in UTC; every stored timestamp comes from here."""
    return dt.datetime.now(dt.UTC)


def resolve_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the config file and create its folder."""
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return url
    path = Path(parsed.database)
    if not path.is_absolute():
        path = base_dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets the console read while the engine writes; NORMAL sync is durable across
    # application crashes (only a power cut can lose the last commits); foreign keys
    # are off by default in SQLite.
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=10000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _drop_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    # Instead of pool_pre_ping's round trip at every checkout (a third of a one-statement
    # transaction's time): a connection the server closed (a restart) is noticed by
    # asyncpg without asking, and the pool replaces it. One cut off silently fails its
    # transaction once, and the pool is renewed.
    if record.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def open_engine(url: str, pool_size: int = POOL_SIZE) -> AsyncEngine:
    """Create the engine for a database URL (sqlite+aiosqlite or postgresql+asyncpg);
    PostgreSQL gets at most `pool_size` connections."""
    if make_url(url).get_backend_name() != "sqlite":
        # No overflow: connections opened beyond the pool for a burst were closed again
        # after it, and each new one costs a server process and a login; when all are
        # busy, a transaction waits for one.
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
        event.listen(engine.sync_engine, "checkout", _drop_if_closed)
        return engine
    # SQLite has one writer at a time. One connection makes the sessions' transactions
    # queue in asyncio instead of meeting SQLITE_BUSY and sleeping in the driver's busy
    # handler; the engine's transactions queue in their own thread (Database.run), and
    # the two wait for each other's writes only in those threads, never in the loop.
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def migrate(connection: Connection) -> None:
    """Apply every Alembic migration that the database has not had yet (`Database.run`
    gives the transaction: on SQLite one that includes the DDL, so that a crash in the
    middle leaves no half-made schema)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class _SqliteThread:
    """One synchronous SQLite connection, used from one thread of its own.

    aiosqlite sends every step of a statement (cursor, execute, fetch, close) to its
    thread and back, four hops per statement; a whole transaction sent at once is one
    hop. A decision's transaction takes 0.4 ms this way and 2.2 ms through aiosqlite.
    """

    def __init__(self, url: URL) -> None:
        self._engine = create_engine(url.set(drivername="sqlite+pysqlite"))
        event.listen(self._engine, "connect", _sqlite_pragmas)
        event.listen(self._engine, "connect", _own_transactions)
        event.listen(self._engine, "begin", _begin_immediate)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="infoline-sqlite")
        # Kept open by the thread: a checkout from the pool and its return cost as much
        # as a short transaction's statements.
        self._connection: Connection | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, work)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        if self._connection is None:
            self._connection = self._engine.connect()
        with self._connection.begin():
            return work(self._connection)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._engine.dispose()

    async def close(self) -> None:
        # The connection may only be closed by the thread that opened it.
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown()


def _own_transactions(connection: Any, record: Any) -> None:
    # sqlite3 would begin a transaction only at the first write, leaving the reads before
    # it outside; _begin_immediate begins every transaction itself instead.
    connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at once, so what a transaction reads cannot change
    # before it writes (another connection or process waits, up to busy_timeout). Sent to
    # the driver directly: a statement has nothing to compile, bind or return.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]


class Database:
    """The engine, its session factory, and transactions for the repository functions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        url = engine.url
        in_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        self._sqlite = _SqliteThread(url) if in_file else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Give a session inside one transaction: committed on success, rolled back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    async def run(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `work` in one transaction and commit it when it returns; roll back on error.

        `work` is synchronous, so nothing it does can wait for the network: an SQLite
        file's transactions run in the database's own thread, PostgreSQL's through
        SQLAlchemy's bridge to asyncpg.
        """
        if self._sqlite is not None:
            return await self._sqlite.run(lambda connection: work(connection, *args, **kwargs))
        async with self.engine.begin() as connection:
            return await connection.run_sync(work, *args, **kwargs)

    async def run_single(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Like `run`, for work of a single statement, which is atomic by itself.

        PostgreSQL runs it without BEGIN and COMMIT: one round trip instead of three.
        """
        if self._sqlite is not None:
            return await self._sqlite.run(lambda connection: work(connection, *args, **kwargs))
        async with self._autocommit.connect() as connection:
            return await connection.run_sync(work, *args, **kwargs)

    async def close(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        await self.engine.dispose()


async def in_session(
    session: AsyncSession,
    work: Callable[Concatenate[Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run a repository function inside an ORM session's transaction (the consultant
    side's way to them). The session's pending changes are written first, as before any
    statement of its own, so that rows are changed and locked in the order written."""

    def on_connection(sync: Session) -> T:
        sync.flush()
        return work(sync.connection(), *args, **kwargs)

    return await session.run_sync(on_connection)


@asynccontextmanager
async def open_database(url: str, pool_size: int = POOL_SIZE) -> AsyncIterator[Database]:
    """Open and migrate the database for the block."""
    database = Database(open_engine(url, pool_size))
    try:
        await database.run(migrate)
        yield database
    finally:
        await database.close()
