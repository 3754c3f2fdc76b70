"""The actor of an update (bot/services/access.py `load_actor`): one query, the right roles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, update

from bot.clock import ManualClock
from bot.db import Database
from bot.models import Cohort, Enrolment, Member, Role
from bot.services.access import Access, Actor, load_actor
from tests.factories import add_staff, enrol, make_cohort, make_member

ADMIN = 777


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)


async def actor_of(db: Database, telegram_user_id: int, language_code: str = "fr") -> Actor:
    async with db.read() as session:
        return await load_actor(
            session,
            telegram_user_id=telegram_user_id,
            language_code=language_code,
            admin_ids=[ADMIN],
            default_language="fr",
            default_zone="Europe/Brussels",
        )


async def test_a_stranger_is_known_by_their_telegram_language(db: Database) -> None:
    with statements(db) as seen:
        actor = await actor_of(db, 4242, "nl-BE")
    assert len(seen) == 1
    assert (actor.member_id, actor.language, actor.zone, actor.roles) == (
        None,
        "nl",
        "Europe/Brussels",
        frozenset(),
    )
    assert not actor.may(Access.MEMBER)


async def test_the_gate_reads_a_member_their_roles_and_zone_in_one_query(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        brussels = await make_cohort(session, "Estaimpuis 2026")
        lisbon = await make_cohort(session, "Lisboa 2026", timezone="Europe/Lisbon")
        tom = await make_member(session, brussels, "Tom", role=Role.TRAINER)
        await add_staff(session, brussels, tom, Role.COORDINATOR)
        await add_staff(session, lisbon, tom, Role.TRAINER)
        await enrol(session, lisbon, tom)
        tom.active_cohort_id = lisbon.id
        tom.last_seen_at = clock.now()
        tom_user = tom.telegram_user_id
    assert tom_user is not None
    with statements(db) as seen:
        actor = await actor_of(db, tom_user)
    assert len(seen) == 1
    assert actor.active_cohort_id == lisbon.id
    assert actor.zone == "Europe/Lisbon"
    assert actor.roles == {Role.TRAINER, Role.MERCHANT}
    assert actor.cohort_ids == {brussels.id, lisbon.id}
    assert actor.last_seen_at == clock.now()
    assert actor.onboarded

    # Back to the first cohort: the roles and the zone are that cohort's.
    async with db.unit_of_work() as session:
        member = await session.get(Member, tom.id)
        assert member is not None
        member.active_cohort_id = brussels.id
    actor = await actor_of(db, tom_user)
    assert actor.roles == {Role.TRAINER, Role.COORDINATOR}
    assert actor.zone == "Europe/Brussels"


async def test_a_left_cohort_gives_no_role_and_the_next_cohort_is_chosen(db: Database) -> None:
    async with db.unit_of_work() as session:
        first = await make_cohort(session)
        second = await make_cohort(session, "Pecq 2026", timezone="Europe/Paris")
        alice = await make_member(session, first, "Alice")
        await session.execute(
            update(Enrolment)
            .where(Enrolment.member_id == alice.id)
            .values(left_at=datetime(2026, 11, 2, tzinfo=UTC))
        )
        await enrol(session, second, alice)
        alice_user = alice.telegram_user_id
    assert alice_user is not None
    actor = await actor_of(db, alice_user)
    # Her saved choice is a cohort she left: the one she is in now is used instead.
    assert actor.active_cohort_id == second.id
    assert actor.zone == "Europe/Paris"
    assert actor.roles == {Role.MERCHANT}
    assert actor.cohort_ids == {second.id}


async def test_an_admin_keeps_their_chosen_cohort_and_is_its_coordinator(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        cohort.timezone = "Europe/Amsterdam"
        admin = Member(
            telegram_user_id=ADMIN,
            chat_id=ADMIN,
            first_name="Claire",
            language="fr",
            tip_days="tue",
            tip_time=datetime(2026, 1, 1, 9, 30).time(),
            active_cohort_id=cohort.id,
        )
        session.add(admin)
        other = Cohort(name="x", commune="x", timezone="UTC", language="fr", join_code="ADMINX")
        session.add(other)
    actor = await actor_of(db, ADMIN)
    assert actor.is_admin
    assert actor.active_cohort_id == cohort.id
    assert actor.roles == {Role.COORDINATOR}
    assert actor.zone == "Europe/Amsterdam"
    assert actor.cohort_ids == frozenset()


def test_activity_is_recorded_only_when_the_last_record_is_old() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    quarter = timedelta(minutes=15)
    member = Actor(telegram_user_id=1, language="fr", zone="UTC", member_id=5)
    assert member.seen_is_stale(now, quarter)  # never recorded
    recent = Actor(1, "fr", "UTC", member_id=5, last_seen_at=now - timedelta(minutes=14))
    assert not recent.seen_is_stale(now, quarter)
    old = Actor(1, "fr", "UTC", member_id=5, last_seen_at=now - timedelta(minutes=16))
    assert old.seen_is_stale(now, quarter)
    stranger = Actor(telegram_user_id=1, language="fr", zone="UTC")
    assert not stranger.seen_is_stale(now, quarter)
