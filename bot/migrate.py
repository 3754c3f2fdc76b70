"""Run and inspect Alembic migrations from code (`relais migrate`, start-up check, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _upgrade_sync(url: str, revision: str) -> None:
    command.upgrade(alembic_config(url), revision)


def _downgrade_sync(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` (env.py runs its own event loop, hence the thread)."""
    await asyncio.to_thread(_upgrade_sync, url, revision)


async def downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(_downgrade_sync, url, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )
