"""Members: the people the bot knows, their profile, language and rhythm."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Member

# Activity is recorded at most this often, to keep a write off most updates.
TOUCH_GRANULARITY = timedelta(minutes=15)


async def by_telegram_id(session: AsyncSession, telegram_user_id: int) -> Member | None:
    return await session.scalar(select(Member).where(Member.telegram_user_id == telegram_user_id))


async def touch(session: AsyncSession, member_id: int, now: datetime) -> None:
    """Remember that the member was active (retention counts from here)."""
    await session.execute(
        update(Member)
        .where(
            Member.id == member_id,
            or_(Member.last_seen_at.is_(None), Member.last_seen_at < now - TOUCH_GRANULARITY),
        )
        .values(last_seen_at=now)
    )
