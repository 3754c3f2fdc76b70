"""Look through every column of every table for traces of a person (tests of erasure).

Generic on purpose: the tables come from `Base.metadata`, so a table added later is
searched too. A value is a trace when it is the Telegram id (an integer, or digits inside
a text), or a text / JSON document that contains one of the person's names (any case).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from bot.db import Database
from bot.models import Base


def _text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return None


async def traces(db: Database, telegram_user_id: int, needles: Iterable[str]) -> list[str]:
    """Every `table.column = value` that still mentions the person."""
    words = [needle.lower() for needle in needles if needle]
    digits = re.compile(rf"(?<!\d){telegram_user_id}(?!\d)")
    found: list[str] = []
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).mappings().all()
            for row in rows:
                for column, value in row.items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        hit = value == telegram_user_id
                    else:
                        text = _text_of(value)
                        hit = text is not None and (
                            bool(digits.search(text)) or any(w in text.lower() for w in words)
                        )
                    if hit:
                        found.append(f"{table.name}.{column} = {value!r}")
    return found


async def table_counts(db: Database) -> dict[str, int]:
    """Rows per table, for "was every table populated?" checks."""
    counts: dict[str, int] = {}
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = len((await conn.execute(select(table))).all())
    return counts


async def snapshot_all(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order (to prove that nothing changed)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            rows = (await conn.execute(select(table).order_by(*order))).all()
            found[table.name] = [tuple(row) for row in rows]
    return found
