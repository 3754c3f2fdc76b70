"""Members: registration after consent, profile rules, language, joining and switching cohorts."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.db import Database
from bot.models import Cohort, Enrolment, Member, Role, Sector
from bot.services import cohorts, members, staff
from bot.services.members import Identity, JoinOutcome, Profile, Rhythm
from bot.services.validation import InvalidValue, clean_text
from tests.factories import make_cohort

RHYTHM = Rhythm(("tue", "fri"), time(9, 30))
ALICE = Identity(telegram_user_id=10_001, chat_id=10_001, first_name="Alice", language="fr")
PROFILE = Profile(
    first_name="Alice",
    business_name="Salon Alice",
    sector=Sector.BEAUTY,
    commune="Estaimpuis",
    language="nl",
)


async def _cohort(db: Database, clock: ManualClock, name: str = "Estaimpuis") -> Cohort:
    async with db.unit_of_work() as tx:
        return await make_cohort(tx, name, created_at=clock.now())


async def test_register_stores_the_profile_the_consent_and_enrols(
    db: Database, clock: ManualClock
) -> None:
    cohort = await _cohort(db, clock)
    async with db.unit_of_work() as session:
        member = await members.register(
            session, ALICE, PROFILE, cohort_id=cohort.id, now=clock.now(), rhythm=RHYTHM
        )
    async with db.unit_of_work() as session:
        stored = await members.by_telegram_id(session, ALICE.telegram_user_id)
        assert stored is not None
        assert (stored.first_name, stored.business_name, stored.sector, stored.commune) == (
            "Alice",
            "Salon Alice",
            "beauty",
            "Estaimpuis",
        )
        assert stored.language == "nl"
        assert stored.consent_at == clock.now()
        assert stored.onboarded_at == clock.now()
        assert stored.active_cohort_id == cohort.id
        assert (stored.tip_days, stored.tip_time) == ("tue,fri", time(9, 30))
        assert members.has_merchant_profile(stored)
        assert await cohorts.is_enrolled(session, member.id, cohort.id)


async def test_register_twice_keeps_one_member(db: Database, clock: ManualClock) -> None:
    cohort = await _cohort(db, clock)
    for _ in range(2):
        async with db.unit_of_work() as session:
            await members.register(
                session, ALICE, PROFILE, cohort_id=cohort.id, now=clock.now(), rhythm=RHYTHM
            )
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 1
        assert await session.scalar(select(func.count()).select_from(Enrolment)) == 1


async def test_register_in_an_archived_cohort_fails_and_stores_nothing(
    db: Database, clock: ManualClock
) -> None:
    cohort = await _cohort(db, clock)
    async with db.unit_of_work() as session:
        archived = await session.get(Cohort, cohort.id)
        assert archived is not None
        archived.archived_at = clock.now()
    with pytest.raises(LookupError):
        async with db.unit_of_work() as session:
            await members.register(
                session, ALICE, PROFILE, cohort_id=cohort.id, now=clock.now(), rhythm=RHYTHM
            )
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 0


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("  Salon   Alice ", "Salon Alice"),
        ("Chez\tMarie\n", "Chez Marie"),
        ("Café <b>&</b>", "Café <b>&</b>"),  # stored as typed; escaped when shown
        ("Zéro\x00Déchet", "Zéro Déchet"),
    ],
)
def test_clean_text_tidies_what_people_type(typed: str, expected: str) -> None:
    assert clean_text(typed, max_length=80) == expected


@pytest.mark.parametrize(
    ("typed", "reason"), [("", "empty"), ("   \n", "empty"), ("x" * 4000, "too_long")]
)
def test_clean_text_refuses_empty_or_too_long_answers(typed: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as problem:
        clean_text(typed, max_length=80)
    assert problem.value.reason == reason


async def test_update_profile_validates_each_field(db: Database, clock: ManualClock) -> None:
    cohort = await _cohort(db, clock)
    async with db.unit_of_work() as session:
        member = await members.register(
            session, ALICE, PROFILE, cohort_id=cohort.id, now=clock.now(), rhythm=RHYTHM
        )
        await members.update_profile(
            session, member.id, business_name="Alice Coiffure", sector="food"
        )
        assert (member.business_name, member.sector) == ("Alice Coiffure", "food")
        with pytest.raises(InvalidValue):
            await members.update_profile(session, member.id, business_name="x" * 4000)
        with pytest.raises(ValueError, match="unknown sector"):
            await members.update_profile(session, member.id, sector="astronaut")
        with pytest.raises(LookupError):
            await members.update_profile(session, member.id + 100, commune="Dottignies")


@pytest.mark.parametrize(
    ("code", "changed"), [("en", True), ("nl", True), ("de", False), ("", False)]
)
async def test_set_language_accepts_only_supported_languages(
    db: Database, clock: ManualClock, code: str, changed: bool
) -> None:
    cohort = await _cohort(db, clock)
    async with db.unit_of_work() as session:
        member = await members.register(
            session, ALICE, PROFILE, cohort_id=cohort.id, now=clock.now(), rhythm=RHYTHM
        )
    async with db.unit_of_work() as session:
        assert await members.set_language(session, member.id, code) is changed
    async with db.unit_of_work() as session:
        stored = await session.get(Member, member.id)
        assert stored is not None
        assert stored.language == (code if changed else "nl")


async def test_a_merchant_joins_a_second_cohort(db: Database, clock: ManualClock) -> None:
    first = await _cohort(db, clock, "Premier")
    second = await _cohort(db, clock, "Second")
    async with db.unit_of_work() as session:
        member = await members.register(
            session, ALICE, PROFILE, cohort_id=first.id, now=clock.now(), rhythm=RHYTHM
        )
    async with db.unit_of_work() as session:
        assert (
            await members.join_cohort(session, member.id, second.id, clock.now())
            is JoinOutcome.JOINED
        )
        assert (
            await members.join_cohort(session, member.id, second.id, clock.now())
            is JoinOutcome.ALREADY
        )
        stored = await session.get(Member, member.id)
        assert stored is not None
        assert stored.active_cohort_id == second.id
        assert [m.cohort_id for m in await cohorts.memberships(session, member.id)] == [
            first.id,
            second.id,
        ]


async def test_staff_of_a_cohort_do_not_join_it_as_merchants(
    db: Database, clock: ManualClock
) -> None:
    cohort = await _cohort(db, clock)
    async with db.unit_of_work() as session:
        trainer, _ = await members.ensure_member(session, ALICE, now=clock.now(), rhythm=RHYTHM)
        await staff.grant_role(
            session,
            member_id=trainer.id,
            cohort_id=cohort.id,
            role=Role.TRAINER,
            actor_id=None,
            now=clock.now(),
        )
        assert (
            await members.join_cohort(session, trainer.id, cohort.id, clock.now())
            is JoinOutcome.STAFF
        )
        assert not await cohorts.is_enrolled(session, trainer.id, cohort.id)


async def test_someone_without_a_profile_must_onboard_first(
    db: Database, clock: ManualClock
) -> None:
    cohort = await _cohort(db, clock)
    async with db.unit_of_work() as session:
        known, created = await members.ensure_member(session, ALICE, now=clock.now(), rhythm=RHYTHM)
        assert created
        again, created_again = await members.ensure_member(
            session, ALICE, now=clock.now(), rhythm=RHYTHM
        )
        assert (again.id, created_again) == (known.id, False)
        assert (
            await members.join_cohort(session, known.id, cohort.id, clock.now())
            is JoinOutcome.NEEDS_PROFILE
        )


async def test_a_member_may_only_switch_to_their_own_cohorts(
    db: Database, clock: ManualClock
) -> None:
    mine = await _cohort(db, clock, "Le mien")
    other = await _cohort(db, clock, "Un autre")
    async with db.unit_of_work() as session:
        member = await members.register(
            session, ALICE, PROFILE, cohort_id=mine.id, now=clock.now(), rhythm=RHYTHM
        )
        assert await members.set_active_cohort(session, member.id, other.id) is None
        assert (
            await members.set_active_cohort(session, member.id, other.id + 100, is_admin=True)
            is None
        )
        switched = await members.set_active_cohort(session, member.id, other.id, is_admin=True)
        assert switched is not None
        assert switched.id == other.id
        assert (await members.set_active_cohort(session, member.id, mine.id)) is not None


def test_telegram_names_too_long_for_the_columns_are_cut() -> None:
    identity = Identity(telegram_user_id=1, chat_id=1, first_name="N" * 300, language="xx")
    assert members._fit(identity.first_name, members.FIRST_NAME_MAX) == "N" * members.FIRST_NAME_MAX
