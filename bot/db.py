"""Async engine and sessionmaker factories. Nothing is created at import time.

SQLite gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL
(`postgresql+asyncpg://`) works unchanged.

Two kinds of transaction. `unit_of_work()` may write: on SQLite it starts with BEGIN
IMMEDIATE (the write lock up front, so no lock upgrade can fail) and the units of work of
one process queue for that lock on an asyncio lock, in arrival order, instead of polling for
it in SQLite's busy handler (whose sleeps grow to 100 ms) - many people's updates at once
then wait their turn rather than fail with "database is locked" or wait longer than needed;
the busy timeout is left for other processes. `read()` only reads: on SQLite a deferred
BEGIN, which in WAL mode neither takes nor waits for the write lock (it sees the last
commit); on PostgreSQL a READ ONLY transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot import sqlite_driver

try:
    from sqlalchemy.util import await_ as await_in_greenlet
except ImportError:  # pragma: no cover - SQLAlchemy 2.0 names it await_only
    from sqlalchemy.util import await_only as await_in_greenlet

SQLITE_BUSY_TIMEOUT_MS = 5000
# Connections kept open between transactions. SQLAlchemy's default (5, and 10 more opened and
# closed as needed) churned under a crowd, where dozens of people's updates run at once: each
# extra connection was a new aiosqlite thread, or a PostgreSQL login that lost its prepared
# statements when closed. 20 kept and 10 more stay within PostgreSQL's default 100 connections
# with a few processes (several dispatchers, the CLI) beside the bot.
POOL_SIZE = 20
POOL_OVERFLOW = 10
# Execution option of the engine behind `Database.read()`: start with a deferred BEGIN.
READ_ONLY = "relais_read_only"
# Execution option of the engine behind `Database.glance()`: no BEGIN at all.
SINGLE_STATEMENT = "relais_single_statement"
# Set while this task is inside a unit of work (a nested one must not wait for itself).
_in_unit_of_work: ContextVar[bool] = ContextVar("relais_in_unit_of_work", default=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`, configured for concurrent use by the bot."""
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    if is_sqlite(url):
        target = make_url(url)
        if target.get_driver_name() == "aiosqlite":
            # One trip to aiosqlite's thread per statement instead of four (bot/sqlite_driver.py).
            target = target.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
        # Autocommit at the driver level lets SQLAlchemy own BEGIN, so that we can
        # start write transactions with BEGIN IMMEDIATE (no lock upgrade deadlocks).
        # Every transaction ends with its own COMMIT or ROLLBACK (SQLAlchemy's Session and
        # Connection see to it), so the pool's extra rollback on return is a wasted trip.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(
            target,
            connect_args={
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "isolation_level": None,
                # Only so that the event loop may ask whether a transaction is open (to skip
                # a COMMIT with nothing to commit, bot/sqlite_driver.py); the statements
                # themselves all run on aiosqlite's thread.
                "check_same_thread": False,
            },
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(SINGLE_STATEMENT):
            return  # glance(): the statement is its own transaction (SQLite's autocommit)
        # A unit of work may write; taking the write lock up front turns lock
        # contention into a wait (busy_timeout) instead of a SQLITE_BUSY failure.
        # `query_only` makes SQLite refuse any write in a read() transaction, as PostgreSQL's
        # READ ONLY does (a connection serves both kinds, so it is set at every BEGIN).
        begin = (
            "PRAGMA query_only=ON; BEGIN"
            if options.get(READ_ONLY)
            else "PRAGMA query_only=OFF; BEGIN IMMEDIATE"
        )
        # Straight to aiosqlite: one trip to its thread for both statements, instead of three
        # per statement (a cursor opened, used and closed through SQLAlchemy's adapter).
        driver = connection.connection.dbapi_connection
        aiosqlite_connection = getattr(driver, "_connection", None)
        if aiosqlite_connection is None:  # pragma: no cover - not the aiosqlite driver
            for statement in begin.split("; "):
                connection.exec_driver_sql(statement)
            return
        await_in_greenlet(aiosqlite_connection.executescript(begin))


class Database:
    """The engine and the sessionmaker of one process."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        read_only = {READ_ONLY: True} if self.is_sqlite else {"postgresql_readonly": True}
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(**read_only), expire_on_commit=False
        )
        # One statement, no transaction around it: on SQLite no BEGIN and no COMMIT (one trip
        # to the database thread instead of three), on PostgreSQL autocommit (one round trip
        # instead of three). A single SELECT sees one consistent state on both.
        single = {SINGLE_STATEMENT: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        self.glance_sessionmaker = async_sessionmaker(
            self.engine.execution_options(**single), expire_on_commit=False
        )
        # SQLite has one writer at a time: this process's units of work take turns here.
        self._write_turn = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if self._write_turn is None or _in_unit_of_work.get():
            async with self.sessionmaker.begin() as session:
                yield session
            return
        async with self._write_turn:
            token = _in_unit_of_work.set(True)
            try:
                async with self.sessionmaker.begin() as session:
                    yield session
            finally:
                _in_unit_of_work.reset(token)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads (never write in it: PostgreSQL refuses, SQLite may
        fail to take the lock); it does not wait for SQLite's writers."""
        async with self.read_sessionmaker.begin() as session:
            yield session

    @asynccontextmanager
    async def glance(self) -> AsyncIterator[AsyncSession]:
        """For one SELECT that needs no transaction around it (the access gate's, run for
        every update). Only one statement, and never a write: each would be on its own."""
        async with self.glance_sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
