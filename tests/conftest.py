"""Shared fixtures: a migrated database per test (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), a manual clock, settings.

The schema is built once per run by the real migrations; each test then gets a fresh
copy (SQLite: a copied file; PostgreSQL: every table truncated).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.migrate import _upgrade_sync
from bot.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
# A Wednesday in late November, 10:00 in Brussels.
DEFAULT_NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a database at the head revision (a file to copy, or the PostgreSQL one)."""
    if TEST_DATABASE_URL:
        _upgrade_sync(TEST_DATABASE_URL, "head")
        yield TEST_DATABASE_URL
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    _upgrade_sync(sqlite_url(path), "head")
    yield str(path)


async def truncate_all(db: Database) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    target = tmp_path / "relais.db"
    shutil.copyfile(migrated_template, target)
    return sqlite_url(target)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if TEST_DATABASE_URL:
        await truncate_all(database)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DEFAULT_NOW)


# Where the tests' settings send Bot API calls unless a test gives the sandbox's address: a
# closed local port, so that a test that forgot the sandbox fails at once instead of talking
# to Telegram (port 9, "discard": nothing listens there).
UNREACHABLE_BOT_API = "http://127.0.0.1:9/bot"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="123456:TEST-TOKEN",
        database_url=database_url,
        telegram_api_base_url=UNREACHABLE_BOT_API,
        admin_ids=[],
    )
