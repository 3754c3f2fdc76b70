"""Cohorts: creation with a unique human-friendly join code, lookup by code, enrolment."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.cli.cohort import create_and_describe
from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.models import AuditEntry, Cohort, Enrolment, Member, Role, StaffRole
from bot.services import cohorts
from bot.services.cohorts import JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH
from bot.services.validation import InvalidValue
from tests.factories import make_member


async def _create(session, clock: ManualClock, name: str = "Estaimpuis 2026", **kwargs):  # type: ignore[no-untyped-def]
    return await cohorts.create_cohort(
        session,
        name=name,
        commune=kwargs.pop("commune", "Estaimpuis"),
        timezone="Europe/Brussels",
        language="fr",
        now=clock.now(),
        **kwargs,
    )


async def test_a_new_cohort_gets_a_readable_join_code(db: Database, clock: ManualClock) -> None:
    async with db.unit_of_work() as session:
        cohort = await _create(session, clock, name="  Estaimpuis   printemps ")
    assert cohort.name == "Estaimpuis printemps"
    assert len(cohort.join_code) == JOIN_CODE_LENGTH
    assert set(cohort.join_code) <= set(JOIN_CODE_ALPHABET)
    assert cohort.created_at == clock.now()


async def test_join_codes_are_unique(db: Database, clock: ManualClock) -> None:
    async with db.unit_of_work() as session:
        made = [await _create(session, clock, name=f"Groupe {i}") for i in range(30)]
    assert len({cohort.join_code for cohort in made}) == 30


async def test_a_taken_code_is_drawn_again(
    db: Database, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.unit_of_work() as session:
        first = await _create(session, clock)
    draws = iter([first.join_code, first.join_code, "ZZZZZZ"])
    monkeypatch.setattr(cohorts, "new_join_code", lambda: next(draws))
    async with db.unit_of_work() as session:
        second = await _create(session, clock, name="Autre")
    assert second.join_code == "ZZZZZZ"


@pytest.mark.parametrize("typed", ["{code}", " {lower} ", "{lower}"])
async def test_find_by_code_ignores_case_and_spaces(
    db: Database, clock: ManualClock, typed: str
) -> None:
    async with db.unit_of_work() as session:
        cohort = await _create(session, clock)
    async with db.unit_of_work() as session:
        found = await cohorts.find_by_code(
            session, typed.format(code=cohort.join_code, lower=cohort.join_code.lower())
        )
    assert found is not None
    assert found.id == cohort.id


@pytest.mark.parametrize("code", ["", "NOPE00", "A" * 40, "abc;drop", "ÉÉÉÉÉÉ", "0O1IL"])
async def test_find_by_code_returns_none_for_unknown_or_malformed_codes(
    db: Database, clock: ManualClock, code: str
) -> None:
    async with db.unit_of_work() as session:
        await _create(session, clock)
        assert await cohorts.find_by_code(session, code) is None


async def test_an_archived_cohort_is_not_found(db: Database, clock: ManualClock) -> None:
    async with db.unit_of_work() as session:
        cohort = await _create(session, clock)
        cohort.archived_at = clock.now()
    async with db.unit_of_work() as session:
        assert await cohorts.find_by_code(session, cohort.join_code) is None
        assert await cohorts.get(session, cohort.id) is None


@pytest.mark.parametrize(
    ("name", "commune"), [("", "Estaimpuis"), ("x" * 81, "Estaimpuis"), ("Groupe", "  ")]
)
async def test_a_cohort_needs_a_short_name_and_a_commune(
    db: Database, clock: ManualClock, name: str, commune: str
) -> None:
    async with db.unit_of_work() as session:
        with pytest.raises(InvalidValue):
            await _create(session, clock, name=name, commune=commune)
        assert await session.scalar(select(func.count()).select_from(Cohort)) == 0


async def test_the_creator_becomes_coordinator_and_acts_on_the_cohort(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        member = await make_member(session, name="Claire", user_id=777, onboarded_at=None)
        cohort = await _create(session, clock, created_by_id=member.id)
    async with db.unit_of_work() as session:
        roles = (await session.scalars(select(StaffRole.role))).all()
        refreshed = await session.get(Member, member.id)
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert roles == [Role.COORDINATOR.value]
    assert refreshed is not None
    assert refreshed.active_cohort_id == cohort.id
    assert refreshed.onboarded_at == clock.now()
    assert actions == ["cohort.create", "staff.grant"]


async def test_enrol_is_idempotent_and_reopens_after_leaving(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        member = await make_member(session, name="Claire", user_id=777, onboarded_at=None)
        cohort = await _create(session, clock)
        assert await cohorts.enrol(session, member.id, cohort.id, clock.now()) is True
        assert await cohorts.enrol(session, member.id, cohort.id, clock.now()) is False
        assert await cohorts.is_enrolled(session, member.id, cohort.id)
        enrolment = await session.scalar(select(Enrolment))
        assert enrolment is not None
        enrolment.left_at = clock.now()
        await session.flush()
        assert not await cohorts.is_enrolled(session, member.id, cohort.id)
        assert await cohorts.enrol(session, member.id, cohort.id, clock.now()) is True


async def test_memberships_list_every_cohort_with_its_roles(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        member = await make_member(session, name="Claire", user_id=777, onboarded_at=None)
        first = await _create(session, clock, name="Premier", created_by_id=member.id)
        second = await _create(session, clock, name="Second")
        await cohorts.enrol(session, member.id, second.id, clock.now())
        await cohorts.enrol(session, member.id, first.id, clock.now())
        found = await cohorts.memberships(session, member.id)
    assert [(m.cohort_id, m.roles) for m in found] == [
        (first.id, frozenset({Role.COORDINATOR, Role.MERCHANT})),
        (second.id, frozenset({Role.MERCHANT})),
    ]


async def test_the_command_line_creates_a_cohort_and_prints_its_code(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    printed = await create_and_describe(settings, "Estaimpuis printemps", "Estaimpuis", clock=clock)
    async with db.unit_of_work() as session:
        cohort = await session.scalar(select(Cohort))
    assert cohort is not None
    assert (cohort.name, cohort.commune, cohort.timezone) == (
        "Estaimpuis printemps",
        "Estaimpuis",
        settings.timezone,
    )
    assert cohort.join_code in printed
    assert f"start=join_{cohort.join_code}" in printed
