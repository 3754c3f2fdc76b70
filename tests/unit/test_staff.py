"""Staff invitations: single use, expiring, one cohort and one role; every action audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.db import Database
from bot.models import AuditEntry, Cohort, Member, Role, StaffInvitation, StaffRole
from bot.services import cohorts, staff
from bot.services.staff import InviteOutcome
from tests.factories import build_member

TTL = timedelta(hours=72)


async def _setup(db: Database, clock: ManualClock) -> tuple[Cohort, Member, Member]:
    async with db.unit_of_work() as session:
        coordinator = build_member("Claire", user_id=1)
        trainer = build_member("Tom", user_id=2)
        session.add_all([coordinator, trainer])
        await session.flush()
        cohort = await cohorts.create_cohort(
            session,
            name="Estaimpuis",
            commune="Estaimpuis",
            timezone="Europe/Brussels",
            language="fr",
            now=clock.now(),
            created_by_id=coordinator.id,
        )
    return cohort, coordinator, trainer


async def _invite(db: Database, clock: ManualClock, cohort: Cohort, by: Member, role: Role) -> str:
    async with db.unit_of_work() as session:
        invitation = await staff.create_invitation(
            session, cohort_id=cohort.id, role=role, created_by_id=by.id, now=clock.now(), ttl=TTL
        )
    return invitation.token


async def test_an_invitation_grants_its_role_once(db: Database, clock: ManualClock) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    token = await _invite(db, clock, cohort, coordinator, Role.TRAINER)
    assert 1 <= len("staff_" + token) <= 64

    async with db.unit_of_work() as session:
        result = await staff.accept_invitation(
            session, token, member_id=trainer.id, now=clock.now()
        )
    assert result.outcome is InviteOutcome.ACCEPTED
    assert (result.cohort_id, result.cohort_name, result.role) == (
        cohort.id,
        cohort.name,
        Role.TRAINER,
    )

    async with db.unit_of_work() as session:
        assert await staff.roles_in(session, trainer.id, cohort.id) == {Role.TRAINER}
        member = await session.get(Member, trainer.id)
        assert member is not None
        assert member.active_cohort_id == cohort.id
        assert member.onboarded_at == clock.now()
        invitation = await session.scalar(select(StaffInvitation))
        assert invitation is not None
        assert invitation.used_by_id == trainer.id


async def test_a_used_invitation_is_refused_to_anyone_else(
    db: Database, clock: ManualClock
) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    token = await _invite(db, clock, cohort, coordinator, Role.TRAINER)
    async with db.unit_of_work() as session:
        intruder = build_member("Mallory", user_id=3)
        session.add(intruder)
        await session.flush()
        first = await staff.accept_invitation(session, token, member_id=trainer.id, now=clock.now())
        again = await staff.accept_invitation(
            session, token, member_id=intruder.id, now=clock.now()
        )
        assert (first.outcome, again.outcome) == (InviteOutcome.ACCEPTED, InviteOutcome.USED)
        assert await staff.roles_in(session, intruder.id, cohort.id) == frozenset()
        assert (
            await staff.check_invitation(session, token, clock.now())
        ).outcome is InviteOutcome.USED


async def test_an_expired_invitation_is_refused(db: Database, clock: ManualClock) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    token = await _invite(db, clock, cohort, coordinator, Role.COORDINATOR)
    clock.advance(TTL)
    async with db.unit_of_work() as session:
        assert (
            await staff.check_invitation(session, token, clock.now())
        ).outcome is InviteOutcome.EXPIRED
        result = await staff.accept_invitation(
            session, token, member_id=trainer.id, now=clock.now()
        )
        assert result.outcome is InviteOutcome.EXPIRED
        assert await staff.roles_in(session, trainer.id, cohort.id) == frozenset()


async def test_an_invitation_is_valid_until_just_before_expiry(
    db: Database, clock: ManualClock
) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    token = await _invite(db, clock, cohort, coordinator, Role.TRAINER)
    clock.advance(TTL - timedelta(seconds=1))
    async with db.unit_of_work() as session:
        assert (
            await staff.check_invitation(session, token, clock.now())
        ).outcome is InviteOutcome.VALID
        result = await staff.accept_invitation(
            session, token, member_id=trainer.id, now=clock.now()
        )
    assert result.outcome is InviteOutcome.ACCEPTED


@pytest.mark.parametrize("token", ["", "nope", "x" * 60, "abc;DROP TABLE", "ünïcode"])
async def test_unknown_or_malformed_tokens_change_nothing(
    db: Database, clock: ManualClock, token: str
) -> None:
    _, _, trainer = await _setup(db, clock)
    async with db.unit_of_work() as session:
        result = await staff.accept_invitation(
            session, token, member_id=trainer.id, now=clock.now()
        )
        assert result.outcome is InviteOutcome.UNKNOWN
        assert result.cohort_id is None
        assert (
            await session.scalars(select(StaffRole).where(StaffRole.member_id == trainer.id))
        ).all() == []


async def test_an_invitation_of_an_archived_cohort_is_unknown(
    db: Database, clock: ManualClock
) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    token = await _invite(db, clock, cohort, coordinator, Role.TRAINER)
    async with db.unit_of_work() as session:
        archived = await session.get(Cohort, cohort.id)
        assert archived is not None
        archived.archived_at = clock.now()
    async with db.unit_of_work() as session:
        result = await staff.accept_invitation(
            session, token, member_id=trainer.id, now=clock.now()
        )
    assert result.outcome is InviteOutcome.UNKNOWN


@pytest.mark.parametrize("role", [Role.MERCHANT])
async def test_merchants_are_not_invited_as_staff(
    db: Database, clock: ManualClock, role: Role
) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    async with db.unit_of_work() as session:
        with pytest.raises(ValueError, match="not a staff role"):
            await staff.create_invitation(
                session,
                cohort_id=cohort.id,
                role=role,
                created_by_id=coordinator.id,
                now=clock.now(),
                ttl=TTL,
            )
        with pytest.raises(ValueError, match="not a staff role"):
            await staff.grant_role(
                session,
                member_id=trainer.id,
                cohort_id=cohort.id,
                role=role,
                actor_id=None,
                now=clock.now(),
            )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("trainer", Role.TRAINER),
        ("coordinator", Role.COORDINATOR),
        ("merchant", None),
        ("admin", None),
        ("", None),
    ],
)
def test_parse_staff_role_accepts_only_staff_roles(value: str, expected: Role | None) -> None:
    assert staff.parse_staff_role(value) is expected


async def test_every_staff_action_is_audited(db: Database, clock: ManualClock) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    token = await _invite(db, clock, cohort, coordinator, Role.TRAINER)
    async with db.unit_of_work() as session:
        await staff.accept_invitation(session, token, member_id=trainer.id, now=clock.now())
    async with db.unit_of_work() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(r.action, r.actor_id) for r in rows] == [
        ("cohort.create", coordinator.id),
        ("staff.grant", coordinator.id),  # the creator becomes coordinator
        ("staff.invite", coordinator.id),
        ("staff.grant", coordinator.id),  # granted on the inviter's behalf
        ("staff.accept", trainer.id),
    ]
    assert all(r.cohort_id == cohort.id and r.at == clock.now() for r in rows)
    assert rows[2].details["role"] == "trainer"


async def test_granting_a_role_twice_changes_nothing(db: Database, clock: ManualClock) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    async with db.unit_of_work() as session:
        kwargs = {
            "member_id": trainer.id,
            "cohort_id": cohort.id,
            "role": Role.TRAINER,
            "actor_id": coordinator.id,
            "now": clock.now(),
        }
        assert await staff.grant_role(session, **kwargs) is True  # type: ignore[arg-type]
        assert await staff.grant_role(session, **kwargs) is False  # type: ignore[arg-type]


async def test_only_coordinators_and_admins_may_coordinate(
    db: Database, clock: ManualClock
) -> None:
    cohort, coordinator, trainer = await _setup(db, clock)
    async with db.unit_of_work() as session:
        await staff.grant_role(
            session,
            member_id=trainer.id,
            cohort_id=cohort.id,
            role=Role.TRAINER,
            actor_id=None,
            now=clock.now(),
        )
        assert await staff.can_coordinate(session, coordinator.id, cohort.id, is_admin=False)
        assert not await staff.can_coordinate(session, trainer.id, cohort.id, is_admin=False)
        assert not await staff.can_coordinate(session, None, cohort.id, is_admin=False)
        assert await staff.can_coordinate(session, None, cohort.id, is_admin=True)
        assert not await staff.can_coordinate(
            session, coordinator.id, cohort.id + 99, is_admin=True
        )


async def test_staff_chats_list_roles_and_admins(db: Database, clock: ManualClock) -> None:
    cohort, _, trainer = await _setup(db, clock)
    async with db.unit_of_work() as session:
        await staff.grant_role(
            session,
            member_id=trainer.id,
            cohort_id=cohort.id,
            role=Role.TRAINER,
            actor_id=None,
            now=clock.now(),
        )
        chats = await staff.staff_chats(session, admin_ids=[2, 999])
    assert [(c.chat_id, c.roles) for c in chats] == [
        (1, frozenset({Role.COORDINATOR})),
        (2, frozenset({Role.TRAINER, Role.COORDINATOR})),
        (999, frozenset({Role.COORDINATOR})),
    ]
