"""The database layer under a crowd: one trip per SQLite statement, `glance()` outside any
transaction, on both databases (TEST_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from bot.db import Database
from bot.models import Member
from tests import factories


@contextmanager
def trips() -> Iterator[list[str]]:
    """Every function aiosqlite runs on its thread, by name, while the block runs."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]


SEEN = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


def sqlite_only(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("aiosqlite's thread is SQLite's")


async def test_a_sqlite_statement_is_one_trip_to_the_database_thread(db: Database) -> None:
    sqlite_only(db)
    async with db.read() as session:
        await session.execute(text("SELECT 1"))  # the connection and its BEGIN, not counted
        with trips() as seen:
            rows = (await session.execute(text("SELECT 1 UNION ALL SELECT 2"))).all()
    assert [row[0] for row in rows] == [1, 2]
    assert seen == ["_run"]  # was: cursor, execute, fetchall, close


async def test_rows_rowcount_and_ids_come_back_with_the_one_trip(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await factories.make_cohort(session)
        first = await factories.make_member(session, cohort, "Alice")
        await factories.make_member(session, cohort, "Bruno")
    assert first.id is not None  # the INSERT's id came back
    async with db.unit_of_work() as session:
        result = await session.execute(
            update(Member).where(Member.first_name.in_(["Alice", "Bruno"])).values(language="nl")
        )
        assert result.rowcount == 2  # type: ignore[attr-defined]
    async with db.read() as session:
        names = (await session.scalars(select(Member.first_name).order_by(Member.id))).all()
        assert names == ["Alice", "Bruno"]
        languages = set((await session.scalars(select(Member.language))).all())
    assert languages == {"nl"}


async def test_a_failing_statement_raises_sqlalchemys_error_and_changes_nothing(
    db: Database,
) -> None:
    async with db.unit_of_work() as session:
        cohort = await factories.make_cohort(session)
        member = await factories.make_member(session, cohort, "Alice")

    async def rename_then_add_a_twin() -> None:
        async with db.unit_of_work() as session:
            await session.execute(
                update(Member).where(Member.id == member.id).values(first_name="Alicia")
            )
            session.add(Member(telegram_user_id=member.telegram_user_id, first_name="Twin"))

    with pytest.raises(IntegrityError):
        await rename_then_add_a_twin()
    async with db.read() as session:
        assert await session.scalar(select(func.count(Member.id))) == 1
        assert await session.scalar(select(Member.first_name)) == "Alice"


async def test_glance_reads_the_last_commit_with_one_trip_and_no_transaction(
    db: Database,
) -> None:
    async with db.unit_of_work() as session:
        cohort = await factories.make_cohort(session)
        await factories.make_member(session, cohort, "Alice")
    async with db.glance() as session:
        await session.execute(text("SELECT 1"))  # a pooled connection, as the gate finds it
    with trips() as seen:
        async with db.glance() as session:
            name = await session.scalar(select(Member.first_name))
    assert name == "Alice"
    if db.is_sqlite:
        assert seen == ["_run"]  # no BEGIN, no COMMIT


async def test_glance_leaves_no_transaction_open_behind_it(db: Database) -> None:
    """A write right after a glance on the same pooled connection is not blocked nor lost."""
    async with db.unit_of_work() as session:
        cohort = await factories.make_cohort(session)
        member = await factories.make_member(session, cohort, "Alice")
    for _ in range(3):
        async with db.glance() as session:
            await session.scalar(select(Member.first_name))
        async with db.unit_of_work() as session:
            await session.execute(
                update(Member).where(Member.id == member.id).values(last_seen_at=SEEN)
            )
    other = Database(db.url)  # another process's view
    try:
        async with other.glance() as session:
            seen = await session.scalar(select(Member.last_seen_at))
    finally:
        await other.dispose()
    assert seen is not None
    assert seen.replace(tzinfo=None) == SEEN.replace(tzinfo=None)
