"""The Alembic migrations and the models agree, and every migration can be undone and redone.

Runs on SQLite (a temporary file) and, when TEST_DATABASE_URL is set, on PostgreSQL in a
scratch database of its own (`<test database>_migrations`, created and dropped here) so
the tables the other tests share are never touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, inspect
from sqlalchemy.engine import Connection, make_url

from bot.cli.run import migrate_database
from bot.db import create_engine
from bot.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade
from bot.models import Base

from ..conftest import TEST_DATABASE_URL, sqlite_url


def _diff(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True, "target_metadata": metadata},
    )
    return list(compare_metadata(context, metadata))


async def schema_diff(url: str, metadata: MetaData = Base.metadata) -> list[Any]:
    """What `alembic revision --autogenerate` would write: empty when models == migrations."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff, metadata)
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def revision_of(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


async def _admin_connection(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each engine."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "migrations.db")
        return
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL")
    parsed = make_url(TEST_DATABASE_URL)
    name = f"{parsed.database}_migrations"
    admin = await _admin_connection(TEST_DATABASE_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_one_head_and_a_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "two migration heads: merge them (alembic merge)"
    for revision in script.walk_revisions():
        assert not revision.is_merge_point, f"{revision.revision} is a merge: keep history linear"


async def test_models_and_migrations_agree(scratch_url: str) -> None:
    await upgrade(scratch_url, "head")
    assert await revision_of(scratch_url) == head_revision()
    assert await schema_diff(scratch_url) == [], "models and migrations differ: add a migration"


async def test_the_comparison_sees_a_difference(tmp_path: Path) -> None:
    """Guard against a vacuous check: a changed model must show up in the diff."""
    url = sqlite_url(tmp_path / "changed.db")
    await upgrade(url, "head")
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    first = changed.sorted_tables[0]
    first.append_column(Column("added_by_the_test", Integer))
    second = changed.sorted_tables[1]
    name_column = next(column for column in second.columns if isinstance(column.type, String))
    name_column.type = Integer()
    kinds = {
        diff[0] if isinstance(diff, tuple) else diff[0][0]
        for diff in await schema_diff(url, changed)
    }
    assert {"add_column", "modify_type"} <= kinds


async def test_every_migration_goes_down_and_up_again(scratch_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(scratch_url))
    oldest_first = list(reversed(list(script.walk_revisions())))
    for revision in oldest_first:
        await upgrade(scratch_url, revision.revision)
        down_to = revision.down_revision
        assert isinstance(down_to, str | None), "linear history expected"
        await downgrade(scratch_url, down_to or "base")
        assert await revision_of(scratch_url) == down_to
        await upgrade(scratch_url, revision.revision)
        assert await revision_of(scratch_url) == revision.revision

    # All the way down leaves nothing behind but Alembic's own (empty) table...
    await downgrade(scratch_url, "base")
    assert await table_names(scratch_url) <= {"alembic_version"}
    assert await revision_of(scratch_url) is None
    # ...and all the way up again gives the models' schema.
    await upgrade(scratch_url, "head")
    assert await schema_diff(scratch_url) == []


async def test_processes_starting_together_migrate_once(scratch_url: str) -> None:
    """`relais run` migrates first: processes starting at once on PostgreSQL must not collide.

    (SQLite is one file for one process: nothing to serialise there.)
    """
    if not scratch_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: several machines share one PostgreSQL database")
    results = await asyncio.gather(*(migrate_database(scratch_url) for _ in range(3)))
    head = head_revision()
    assert sorted(results, key=str) == sorted([(None, head), (head, head), (head, head)], key=str)
    assert await schema_diff(scratch_url) == []
