"""Writing to the outbox: idempotent inserts, usable from planners and from services."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.registry import Planned
from bot.models import Delivery, DeliveryStatus

_BATCH = 500


async def enqueue(session: AsyncSession, items: Iterable[Planned]) -> int:
    """Insert the deliveries whose (member_id, dedup_key) is new; returns how many were new."""
    rows = [
        {
            "member_id": item.member_id,
            "kind": str(item.kind),
            "dedup_key": item.dedup_key,
            "payload": item.payload,
            "urgent": item.urgent,
            "due_at": item.due_at,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "broadcast_id": item.broadcast_id,
        }
        for item in items
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = 0
    for start in range(0, len(rows), _BATCH):
        statement = (
            insert(Delivery)
            .values(rows[start : start + _BATCH])
            .on_conflict_do_nothing(index_elements=["member_id", "dedup_key"])
        )
        result = await session.execute(statement)
        inserted += max(getattr(result, "rowcount", 0) or 0, 0)
    return inserted


async def skip_pending(
    session: AsyncSession,
    *,
    reason: str,
    member_id: int | None = None,
    dedup_prefix: str | None = None,
) -> int:
    """Mark pending deliveries skipped (e.g. a cancelled session's reminders)."""
    statement = update(Delivery).where(Delivery.status == DeliveryStatus.PENDING.value)
    if member_id is not None:
        statement = statement.where(Delivery.member_id == member_id)
    if dedup_prefix is not None:
        statement = statement.where(Delivery.dedup_key.startswith(dedup_prefix, autoescape=True))
    result = await session.execute(
        statement.values(status=DeliveryStatus.SKIPPED.value, last_error=reason[:500])
    )
    return max(getattr(result, "rowcount", 0) or 0, 0)
