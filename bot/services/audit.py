"""The audit log: every staff action (cohort created, invitation made, role granted...)
leaves one row, so that a commune can see who did what and when (`relais audit`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import AuditEntry


async def audit(
    session: AsyncSession,
    actor_id: int | None,
    cohort_id: int | None,
    action: str,
    details: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    """Record that `actor_id` did `action` (e.g. "staff.invite") in `cohort_id`.

    `details` must be JSON-serialisable plain data; `at` comes from the injected clock
    (the column's default is the wall clock, which tests cannot move).
    """
    entry = AuditEntry(
        actor_id=actor_id, cohort_id=cohort_id, action=action, details=dict(details or {})
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    await session.flush()
    return entry


async def entries(session: AsyncSession, *, cohort_id: int | None = None) -> list[AuditEntry]:
    """The audit log, oldest first (one cohort's, or everything)."""
    query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
    if cohort_id is not None:
        query = query.where(AuditEntry.cohort_id == cohort_id)
    return list((await session.scalars(query)).all())
