"""SQLAlchemy's aiosqlite dialect with one trip to the database thread per statement.

aiosqlite runs each SQLite call on a thread of its own and hands the result back to the
event loop. SQLAlchemy's adapter makes four such trips for every statement: open a cursor,
execute, fetch the rows, close the cursor. Each trip wakes the thread, then the loop (a
self-pipe write), and hands the GIL back and forth: under a crowd, where the event loop is
busy, these hand-overs were a third of the database's share of the CPU per update
(docs/performance.md, "4 December 2026, night"). Here a statement is one function run on
the thread: open, execute, fetch, close, and the cursor's description, row count and last
row id are brought back with the rows.

Everything else (connection, transactions, server-side cursors, the error mapping) is the
stock dialect's. Registered as `sqlite+relais_aiosqlite`; `bot.db.create_engine` picks it
for `sqlite+aiosqlite://` URLs, so settings and Alembic keep the usual name.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import immutabledict
from sqlalchemy.util.concurrency import await_

DRIVER = "relais_aiosqlite"

# What the thread hands back: rows (None when the statement returns none), description,
# rowcount, lastrowid.
_Outcome = tuple[list[Any] | None, Any, int, int | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On aiosqlite's thread: the whole statement, cursor closed before returning."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return rows, description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement is one trip to the database thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor is opened here (that was a trip of its own).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = immutabledict()
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection
        try:
            rows, description, rowcount, lastrowid = await_(
                connection._execute(_run, connection._conn, operation, parameters, many)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._rows = deque(rows) if rows is not None else deque()
        self._description = description
        self._rowcount = rowcount
        self._lastrowid = lastrowid

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._trip(operation, seq_of_parameters, many=True)

    async def _async_soft_close(self) -> None:
        return None  # the cursor was closed on the thread

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        return None  # DB-API: no further result set (SQLite has one per statement)

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def _idle(self) -> bool:
        """No transaction open: after a statement run without BEGIN (`Database.glance()`),
        SQLAlchemy still ends its transaction; there is nothing to commit or roll back."""
        driver = self._connection._connection  # None once closed: the stock path then
        return driver is not None and not driver.in_transaction

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


class OneTripDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDBAPI:
        return OneTripDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripDialect")
