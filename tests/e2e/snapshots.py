"""What the database holds about people and cohorts, to prove that bad input changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.models import Cohort, Enrolment, Member, StaffInvitation, StaffRole
from tests.e2e.harness import Harness

_TABLES: dict[str, Any] = {
    "cohorts": Cohort,
    "members": Member,
    "enrolments": Enrolment,
    "staff_roles": StaffRole,
    "staff_invitations": StaffInvitation,
}
# Columns that move with mere activity, not with what someone did.
_IGNORED = {"last_seen_at"}


async def snapshot(relais: Harness) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    async with relais.session() as session:
        for name, model in _TABLES.items():
            rows = (await session.scalars(select(model).order_by(model.id))).all()
            columns = [c.key for c in model.__table__.columns if c.key not in _IGNORED]
            found[name] = [{c: getattr(row, c) for c in columns} for row in rows]
    return found


async def member_of(relais: Harness, telegram_user_id: int) -> Member | None:
    async with relais.session() as session:
        return await session.scalar(
            select(Member).where(Member.telegram_user_id == telegram_user_id)
        )
