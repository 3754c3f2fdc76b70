"""Trios: the forming rule as tables (sizes, sectors, communes, seeds), and the cohort's trios
in the database (who is eligible, preview / move / confirm, late joiners, leaving, forged
moves), the encouragements' daily cap, the digest's shared facts and the booster phase."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.delivery.planner import plan_window
from bot.models import (
    Cohort,
    Delivery,
    Encouragement,
    Member,
    ObjectiveCheckin,
    Role,
    TrioMembership,
)
from bot.services import booster, cohorts, trio_week, trios
from bot.services.booster import Phase
from bot.services.trio_week import EncourageOutcome, FactKind
from bot.services.trios import Candidate, MoveOutcome
from tests import factories

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
# BOOSTER_MONTHS 6, and the programme's last session is number 6 (curriculum.yaml).
PROGRAMME = booster.Programme(months=6, sessions=6)
SECTORS = ["beauty", "crafts", "books", "food", "photo", "horeca", "clothing"]


def people(
    count: int, sectors: list[str] | None = None, communes: list[str] | None = None
) -> list[Candidate]:
    sectors = sectors or SECTORS
    communes = communes or ["Estaimpuis"]
    return [
        Candidate(index + 1, sectors[index % len(sectors)], communes[index % len(communes)])
        for index in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "sizes"),
    [
        (0, []),
        (1, []),  # no trio of one
        (2, [2]),
        (3, [3]),
        (4, [2, 2]),
        (5, [3, 2]),
        (7, [3, 2, 2]),
        (9, [3, 3, 3]),
        (10, [3, 3, 2, 2]),
    ],
)
def test_group_sizes_are_even_and_never_one(count: int, sizes: list[int]) -> None:
    assert trios.group_sizes(count, 3) == sizes
    groups = trios.form_groups(people(count), 3)
    assert sorted((len(group) for group in groups), reverse=True) == sizes
    assert (
        sorted(p.member_id for g in groups for p in g) == list(range(1, count + 1))
        if sizes
        else True
    )


@pytest.mark.parametrize("size", [2, 3, 4])
@pytest.mark.parametrize("count", [2, 4, 5, 7, 9])
def test_no_group_of_one_whatever_the_size(size: int, count: int) -> None:
    sizes = trios.group_sizes(count, size)
    assert sum(sizes) == count
    assert min(sizes) >= 2
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(
    ("sectors", "count"),
    [
        (["beauty", "crafts", "books"], 9),  # three of each sector: every trio mixed
        (["beauty", "crafts", "books"], 6),
        (["beauty", "beauty", "crafts", "books"], 8),
        (["beauty", "crafts"], 4),  # 2+2, each pair mixed
    ],
)
def test_sectors_are_mixed_first(sectors: list[str], count: int) -> None:
    candidates = people(count, sectors)
    overall = Counter(person.sector for person in candidates)
    for seed in range(5):
        groups = trios.form_groups(candidates, 3, seed=seed)
        for group in groups:
            # A sector is spread over the groups: never more of it in one than it must.
            for sector, n in Counter(person.sector for person in group).items():
                assert n <= -(-overall[sector] // len(groups))


def test_same_commune_when_possible() -> None:
    # Six people, three sectors, two communes: sectors can mix within each commune.
    candidates = people(6, ["beauty", "crafts", "books"], ["Estaimpuis"] * 3 + ["Dottignies"] * 3)
    candidates = [
        Candidate(c.member_id, c.sector, "Estaimpuis" if c.member_id <= 3 else "Dottignies")
        for c in candidates
    ]
    for seed in range(5):
        groups = trios.form_groups(candidates, 3, seed=seed)
        for group in groups:
            assert len({person.commune for person in group}) == 1
            assert len({person.sector for person in group}) == 3


def test_a_seed_reshuffles_deterministically() -> None:
    candidates = people(9, ["beauty", "crafts", "books"])
    first = trios.form_groups(candidates, 3, seed=1)
    assert trios.form_groups(candidates, 3, seed=1) == first
    others = {
        tuple(
            sorted(
                tuple(sorted(p.member_id for p in g))
                for g in trios.form_groups(candidates, 3, seed=s)
            )
        )
        for s in range(2, 12)
    }
    assert len(others) > 1  # another seed, another set


@pytest.mark.parametrize(
    ("groups", "newcomer", "expected"),
    [
        ([[1, 2, 3], [4, 5]], Candidate(9, "food"), 1),  # the smallest
        ([[1, 2], [4, 5]], Candidate(9, "beauty"), 1),  # equal: the one without a hairdresser
        ([], Candidate(9, "food"), None),
    ],
)
def test_a_late_joiner_goes_to_the_smallest_group(
    groups: list[list[int]], newcomer: Candidate, expected: int | None
) -> None:
    sector = {1: "beauty", 2: "crafts", 3: "books", 4: "crafts", 5: "books"}
    built = [[Candidate(i, sector[i]) for i in group] for group in groups]
    assert trios.smallest_group(built, newcomer) == expected


# -- in the database --------------------------------------------------------------------------


async def cohort_of(tx: object, count: int) -> tuple[Cohort, list[Member]]:
    cohort = await factories.make_cohort(tx)  # type: ignore[arg-type]
    members = []
    for index in range(count):
        members.append(
            await factories.make_member(
                tx,  # type: ignore[arg-type]
                cohort,
                f"M{index}",
                sector=SECTORS[index % 3],
                commune="Estaimpuis",
                joined_at=NOW - timedelta(days=30),
            )
        )
    return cohort, members


async def test_paused_left_unreachable_and_staff_are_not_in_a_trio(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, members = await cohort_of(tx, 7)
        members[0].paused = True
        members[1].reachable = False
        await factories.make_member(tx, cohort, "Tom", role=Role.TRAINER)
        from bot.models import Enrolment

        enrolment = await tx.scalar(select(Enrolment).where(Enrolment.member_id == members[2].id))
        assert enrolment is not None
        enrolment.left_at = NOW
        await tx.flush()
        eligible = {c.member_id for c in await trios.eligible(tx, cohort.id)}
    assert eligible == {m.id for m in members[3:]}


async def test_preview_move_confirm_then_late_joiner_and_leave(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, _ = await cohort_of(tx, 5)
        draft = await trios.preview(tx, cohort.id, size=3, seed=1, now=NOW)
        assert sorted(len(v.peers) for v in draft) == [2, 3]
        assert await trios.trios_of(tx, cohort.id) == []  # nothing confirmed yet
        big = next(v for v in draft if len(v.peers) == 3)
        small = next(v for v in draft if len(v.peers) == 2)
        moved = big.peers[0].member_id
        assert await trios.move(tx, cohort.id, moved, small.trio_id, NOW) is MoveOutcome.MOVED
        assert await trios.move(tx, cohort.id, moved, small.trio_id, NOW) is MoveOutcome.UNCHANGED
        # A trio of another cohort, a person of another cohort: refused, nothing changes.
        other, strangers = await cohort_of(tx, 2)
        other_draft = await trios.preview(tx, other.id, size=3, seed=0, now=NOW)
        assert (
            await trios.move(tx, cohort.id, moved, other_draft[0].trio_id, NOW)
            is MoveOutcome.REFUSED
        )
        assert (
            await trios.move(tx, cohort.id, strangers[0].id, small.trio_id, NOW)
            is MoveOutcome.REFUSED
        )
        confirmed = await trios.confirm(tx, cohort.id, NOW)
        assert sorted(len(v.peers) for v in confirmed) == [2, 3]
        told = (await tx.scalars(select(Delivery).where(Delivery.kind == "trio"))).all()
        assert len(told) == 5
        assert {d.dedup_key.split(":")[1] for d in told} == {"formed"}
        # A late joiner goes to the smallest trio (now the one of two).
        smallest = min(confirmed, key=lambda v: len(v.peers))
        late = await factories.make_member(tx, cohort, "Late", sector="food", role=None)
        await cohorts.enrol(tx, late.id, cohort.id, NOW)
        view = await trios.trio_of_member(tx, late.id)
        assert view is not None
        assert view.trio_id == smallest.trio_id
        # Leaving: out of the trio, and not put back by the next reshuffle.
        assert await trios.leave(tx, late.id, NOW)
        assert await trios.trio_of_member(tx, late.id) is None
        assert late.id not in {c.member_id for c in await trios.eligible(tx, cohort.id)}
        # Re-forming dissolves the old trios.
        await trios.preview(tx, cohort.id, size=3, seed=2, now=NOW)
        again = await trios.confirm(tx, cohort.id, NOW + timedelta(days=1))
        assert sum(len(v.peers) for v in again) == 5
        assert {v.trio_id for v in again}.isdisjoint({v.trio_id for v in confirmed})


async def formed(tx: object, count: int = 3) -> tuple[Cohort, list[Member]]:
    cohort, members = await cohort_of(tx, count)
    await trios.preview(tx, cohort.id, size=3, seed=0, now=NOW)  # type: ignore[arg-type]
    await trios.confirm(tx, cohort.id, NOW)  # type: ignore[arg-type]
    return cohort, members


async def test_encouragements_once_a_day_and_only_to_peers(db: Database) -> None:
    async with db.unit_of_work() as tx:
        _, (alice, bob, carla) = await formed(tx)
        _, (stranger, *_) = await formed(tx)
        sent = await trio_week.encourage(tx, alice.id, bob.id, "bravo", NOW)
        assert sent is EncourageOutcome.SENT
        again = await trio_week.encourage(tx, alice.id, bob.id, "courage", NOW + timedelta(hours=3))
        assert again is EncourageOutcome.ALREADY_TODAY
        assert (
            await trio_week.encourage(tx, alice.id, carla.id, "talk", NOW) is EncourageOutcome.SENT
        )
        assert (
            await trio_week.encourage(tx, alice.id, stranger.id, "bravo", NOW)
            is EncourageOutcome.NOT_PEER
        )
        assert (
            await trio_week.encourage(tx, alice.id, alice.id, "bravo", NOW)
            is EncourageOutcome.NOT_PEER
        )
        # The next day (in Brussels), once more.
        tomorrow = NOW + timedelta(days=1)
        assert (
            await trio_week.encourage(tx, alice.id, bob.id, "bravo", tomorrow)
            is EncourageOutcome.SENT
        )
        rows = (await tx.scalars(select(Encouragement))).all()
        relayed = (await tx.scalars(select(Delivery).where(Delivery.kind == "encourage"))).all()
    assert len(rows) == 3
    assert sorted(d.member_id for d in relayed) == sorted([bob.id, carla.id, bob.id])


async def test_digest_facts_only_of_peers_who_share(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, (alice, bob, carla) = await formed(tx)
        await factories.make_objective(tx, bob, cohort, now=NOW + timedelta(days=1))
        stuck = await factories.make_objective(tx, carla, cohort, now=NOW - timedelta(days=20))
        tx.add(
            ObjectiveCheckin(
                objective_id=stuck.id,
                asked_at=NOW,
                answered_at=NOW + timedelta(days=2),
                answer="stuck",
            )
        )
        carla.share_with_trio = False
        await tx.flush()
        week = await trio_week.trio_week(tx, alice.id, NOW, NOW + timedelta(days=7))
        assert week is not None
        assert [(f.member_id, f.kind) for f in week.facts] == [(bob.id, FactKind.OBJECTIVE_SET)]
        carla.share_with_trio = True
        bob.reachable = False  # blocked the bot: gone from the others' digest
        await tx.flush()
        week = await trio_week.trio_week(tx, alice.id, NOW, NOW + timedelta(days=7))
        assert week is not None
        assert [p.member_id for p in week.peers] == [carla.id]
        assert [(f.member_id, f.kind) for f in week.facts] == [(carla.id, FactKind.STUCK)]


# -- the booster phase -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "until", "phase"),
    [
        (datetime(2026, 12, 1, tzinfo=UTC), None, Phase.SESSIONS),
        (datetime(2026, 12, 20, tzinfo=UTC), None, Phase.BOOSTER),
        (datetime(2027, 6, 9, tzinfo=UTC), None, Phase.BOOSTER),
        (datetime(2027, 6, 11, tzinfo=UTC), None, Phase.AFTER),
        (datetime(2027, 1, 11, tzinfo=UTC), datetime(2027, 1, 10, tzinfo=UTC), Phase.AFTER),
        (datetime(2027, 8, 1, tzinfo=UTC), datetime(2027, 9, 10, tzinfo=UTC), Phase.BOOSTER),
    ],
)
def test_phase_of_a_cohort(now: datetime, until: datetime | None, phase: Phase) -> None:
    end = datetime(2026, 12, 10, tzinfo=UTC)
    assert booster.phase_at(end, until, now, 6) is phase
    assert booster.phase_at(None, until, now, 6) is Phase.SESSIONS


def test_add_months_keeps_the_day_or_the_last_one() -> None:
    assert booster.add_months(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(
        2027, 2, 28, tzinfo=UTC
    )
    assert booster.add_months(datetime(2026, 12, 10, tzinfo=UTC), -1) == datetime(
        2026, 11, 10, tzinfo=UTC
    )


async def test_cohort_phase_follows_the_last_session_and_the_coordinator(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort = await factories.make_cohort(tx)
        # Session 2 is past, the next not planned yet: the cohort has not ended.
        await factories.make_session(tx, cohort, starts_at=NOW - timedelta(days=9), number=2)
        assert await booster.cohort_phase(tx, cohort.id, NOW, PROGRAMME) is Phase.SESSIONS
        await factories.make_session(tx, cohort, starts_at=NOW + timedelta(days=5), number=6)
        assert await booster.cohort_phase(tx, cohort.id, NOW, PROGRAMME) is Phase.SESSIONS
        later = NOW + timedelta(days=10)
        assert await booster.in_booster(tx, cohort.id, later, PROGRAMME)
        until = await booster.extend(tx, cohort.id, 2, later, PROGRAMME)
        assert until is not None
        assert await booster.in_booster(tx, cohort.id, until - timedelta(days=1), PROGRAMME)
        assert await booster.end_now(tx, cohort.id, later, PROGRAMME)
        assert (
            await booster.cohort_phase(tx, cohort.id, later + timedelta(seconds=1), PROGRAMME)
            is Phase.AFTER
        )


async def test_booster_start_and_farewell_are_planned_once(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as tx:
        cohort, members = await cohort_of(tx, 2)
        session = await factories.make_session(
            tx, cohort, starts_at=NOW + timedelta(days=1), number=6
        )
        after = session.ends_at + timedelta(minutes=1)
        planned = await booster.plan_booster(tx, plan_window(settings, after), 6)
        assert sorted(p.member_id for p in planned) == sorted(m.id for m in members)
        assert {p.dedup_key for p in planned} == {f"booster:start:{cohort.id}"}
        from bot.delivery.outbox import enqueue

        await enqueue(tx, planned)
        assert await booster.plan_booster(tx, plan_window(settings, after), 6) == []
        end = booster.add_months(session.ends_at, settings.booster_months)
        farewell = await booster.plan_booster(
            tx, plan_window(settings, end + timedelta(hours=1)), 6
        )
        assert {p.dedup_key for p in farewell} == {f"booster:end:{cohort.id}"}


# -- figures ---------------------------------------------------------------------------------


async def test_trio_figures_count_who_encouraged_and_who_was_encouraged(db: Database) -> None:
    from bot.reports.trios import cohort_trio_figures

    async with db.unit_of_work() as tx:
        cohort, (alice, bob, _carla) = await formed(tx)
        await trio_week.encourage(tx, alice.id, bob.id, "bravo", NOW)
        await trio_week.encourage(tx, bob.id, alice.id, "talk", NOW)
        await trio_week.encourage(tx, alice.id, bob.id, "bravo", NOW + timedelta(days=10))
        november = await cohort_trio_figures(tx, cohort.id, "2026-11")
        december = await cohort_trio_figures(tx, cohort.id, "2026-12")
    assert (november.in_trios, november.encouraged, november.were_encouraged) == (3, 2, 2)
    assert november.encouragements == 2
    assert round(november.share_encouraged, 2) == 0.67
    assert (december.encouraged, december.were_encouraged, december.encouragements) == (1, 1, 1)


async def test_retention_counts_who_still_answers_after_the_last_session(db: Database) -> None:
    from bot.reports.trios import booster_retention

    async with db.unit_of_work() as tx:
        cohort, (alice, bob, _carla, _dan) = await cohort_of(tx, 4)
        session = await factories.make_session(tx, cohort, starts_at=NOW, number=6)
        end = session.ends_at
        # Alice answers a check-in three weeks after the end; Bob sets an objective 3 months on.
        objective = await factories.make_objective(tx, alice, cohort, now=NOW)
        tx.add(
            ObjectiveCheckin(
                objective_id=objective.id,
                asked_at=end,
                answered_at=end + timedelta(days=21),
                answer="doing",
            )
        )
        await factories.make_objective(
            tx,
            bob,
            cohort,
            "Une vitrine par mois",
            now=booster.add_months(end, 3) - timedelta(days=3),
            today=(booster.add_months(end, 3) - timedelta(days=3)).date(),
        )
        await tx.flush()
        early = await booster_retention(tx, cohort.id, end + timedelta(days=40), PROGRAMME)
        later = await booster_retention(tx, cohort.id, booster.add_months(end, 7), PROGRAMME)
    assert [(p.months, p.answering) for p in early] == [(1, 1), (3, None), (6, None)]
    assert early[0].share == 0.25
    assert [(p.months, p.answering) for p in later] == [(1, 1), (3, 1), (6, 0)]


# -- the coordinator's levers (relais cohort booster / alumni) -------------------------------


async def test_cli_extends_and_ends_the_booster_and_invites_alumni(
    db: Database, settings: Settings
) -> None:
    from bot.cli.cohort import alumni_command, booster_command
    from bot.clock import ManualClock

    async with db.unit_of_work() as tx:
        cohort, members = await cohort_of(tx, 3)
        await factories.make_session(tx, cohort, starts_at=NOW - timedelta(days=2), number=6)
        members[2].after_booster = "stop"
        code = cohort.join_code
    clock = ManualClock(NOW)
    shown = await booster_command(settings, code, clock=clock)
    assert "suite par message" in shown
    assert "Fin de la suite par message : 23/05/2027" in shown
    extended = await booster_command(settings, code, extend=2, clock=clock)
    assert "Fin de la suite par message : 23/07/2027" in extended
    ended = await booster_command(settings, str(cohort.id), end=True, clock=clock)
    assert "terminé" in ended
    told = await alumni_command(settings, code, "Estaimpuis 2027", "Estaimpuis", clock=clock)
    assert "2 ancien(s)" in told  # not the one who chose to stop everything
    async with db.unit_of_work() as tx:
        invited = (
            await tx.scalars(
                select(Delivery).where(Delivery.dedup_key.startswith("booster:alumni:"))
            )
        ).all()
    assert sorted(d.member_id for d in invited) == sorted(m.id for m in members[:2])


# -- rhythms across DST -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "monthly", "expected"),
    [
        # Weekly: every Tuesday at 09:30 in Brussels, 08:30 UTC in winter, 07:30 in summer.
        (
            datetime(2027, 3, 20, tzinfo=UTC),
            datetime(2027, 4, 7, tzinfo=UTC),
            False,
            [
                datetime(2027, 3, 23, 8, 30, tzinfo=UTC),
                datetime(2027, 3, 30, 7, 30, tzinfo=UTC),
                datetime(2027, 4, 6, 7, 30, tzinfo=UTC),
            ],
        ),
        # Monthly: the first Tuesday of each month only; back to winter time in November.
        (
            datetime(2027, 9, 20, tzinfo=UTC),
            datetime(2027, 11, 10, tzinfo=UTC),
            True,
            [datetime(2027, 10, 5, 7, 30, tzinfo=UTC), datetime(2027, 11, 2, 8, 30, tzinfo=UTC)],
        ),
    ],
)
def test_digest_moments_keep_the_wall_time_across_dst(
    start: datetime, end: datetime, monthly: bool, expected: list[datetime]
) -> None:
    from zoneinfo import ZoneInfo

    moments = trio_week.digest_moments(
        1, time(9, 30), ZoneInfo("Europe/Brussels"), start, end, monthly=monthly
    )
    assert [moment for _, moment in moments] == expected


async def test_in_the_booster_phase_tips_come_once_a_week(db: Database, settings: Settings) -> None:
    from bot.services import tips

    async with db.unit_of_work() as tx:
        cohort, (alice,) = await cohort_of(tx, 1)
        alice.tip_days, alice.tip_time = "tue,fri", time(9, 30)
        await factories.make_session(
            tx, cohort, starts_at=datetime(2026, 11, 24, 18, tzinfo=UTC), number=6
        )
        await tx.flush()
        days = []
        for day in range(25, 31):  # Wednesday 25 to Monday 30 November, then Tuesday
            for moment in (datetime(2026, 11, day, 8, 30, tzinfo=UTC),):
                planned = await tips.plan_tips(tx, plan_window(settings, moment), 6)
                days += [p.dedup_key for p in planned if p.member_id == alice.id]
        planned = await tips.plan_tips(
            tx, plan_window(settings, datetime(2026, 12, 1, 8, 30, tzinfo=UTC)), 6
        )
        days += [p.dedup_key for p in planned if p.member_id == alice.id]
    assert days == ["tip:2026-12-01"]  # not Friday 27: one a week, on her first tip day


async def test_someone_left_alone_by_a_leaver_joins_another_trio(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, members = await cohort_of(tx, 4)
        await trios.preview(tx, cohort.id, size=3, seed=0, now=NOW)
        pairs = await trios.confirm(tx, cohort.id, NOW)
        assert sorted(len(view.peers) for view in pairs) == [2, 2]
        leaver, alone = pairs[0].peers
        assert await trios.leave(tx, leaver.member_id, NOW)
        assert not await trios.leave(tx, leaver.member_id, NOW)  # once
        now_in = await trios.trio_of_member(tx, alone.member_id)
        assert now_in is not None
        assert now_in.trio_id == pairs[1].trio_id
        assert len(now_in.peers) == 3
        assert await trios.trio_of_member(tx, leaver.member_id) is None
        assert {m.id for m in members} - {p.member_id for p in now_in.peers} == {leaver.member_id}


async def test_an_erased_member_disappears_from_the_trio_and_its_digests(db: Database) -> None:
    from bot.services import privacy

    async with db.unit_of_work() as tx:
        _, (alice, bob, carla) = await formed(tx)
        await trio_week.encourage(tx, bob.id, alice.id, "bravo", NOW)
        await factories.make_objective(tx, bob, alice.active_cohort_id or 0, now=NOW)
        bob_id = bob.id
        assert await privacy.forget_member(tx, bob_id, NOW) is not None
    async with db.unit_of_work() as tx:
        week = await trio_week.trio_week(
            tx, alice.id, NOW - timedelta(days=1), NOW + timedelta(days=1)
        )
        assert week is not None
        assert [p.member_id for p in week.peers] == [carla.id]
        assert week.facts == ()
        words = (await tx.scalars(select(Encouragement))).all()
        assert [(w.sender_id, w.recipient_id) for w in words] == [(None, alice.id)]
        memberships = (
            await tx.scalars(select(TrioMembership).where(TrioMembership.member_id == bob_id))
        ).all()
        assert memberships == []


async def test_the_trainers_digest_says_how_the_trios_encouraged_each_other(
    db: Database,
) -> None:
    from bot.i18n import I18n
    from bot.reports.digest import trainer_digest
    from bot.services.trio_week import trio_figures_line

    async with db.unit_of_work() as tx:
        cohort, (alice, bob, _carla) = await formed(tx)
        await trio_week.encourage(tx, alice.id, bob.id, "courage", NOW)
        without = await trainer_digest(tx, cohort.id, since=NOW - timedelta(days=7))
        data = await trainer_digest(tx, cohort.id, since=NOW - timedelta(days=7), month="2026-11")
    assert without.trios is None
    assert data.trios is not None
    line = trio_figures_line(I18n(default_language="fr")("fr"), data.trios)
    assert line == (
        "👥 Trios ce mois-ci : 33 % ont encouragé quelqu'un, 33 % ont été encouragés (1 mot)."
    )


async def test_the_booster_phase_gets_one_library_challenge_a_month(
    db: Database, settings: Settings
) -> None:
    from bot.content import load as load_content
    from bot.models import Challenge

    content = load_content()
    async with db.unit_of_work() as tx:
        cohort, _members = await cohort_of(tx, 3)
        last = await factories.make_session(tx, cohort, starts_at=NOW + timedelta(days=1), number=6)

        async def start(at: datetime) -> list[int]:
            return await booster.start_monthly_challenges(tx, plan_window(settings, at), content, 6)

        async def count() -> int:
            return len((await tx.scalars(select(Challenge))).all())

        # During the sessions: the trainer sets the challenges, nothing automatic.
        assert await start(NOW) == []
        after = last.ends_at + timedelta(hours=1)
        assert await start(after) == [cohort.id]
        assert await start(after + timedelta(days=3)) == []  # once a month
        next_month = datetime(2027, 1, 2, 9, 0, tzinfo=UTC)
        assert await start(next_month) == [cohort.id]
        challenges = (await tx.scalars(select(Challenge).order_by(Challenge.id))).all()
        assert len({c.library_id for c in challenges}) == 2  # never the same one twice
        # Past the booster phase: nothing any more.
        end = booster.add_months(last.ends_at, settings.booster_months)
        assert await start(end + timedelta(days=40)) == []
        assert await count() == 2


def test_the_booster_planners_look_every_ten_minutes_not_every_tick() -> None:
    every = booster._Every(booster.PLAN_EVERY)
    assert every(NOW)  # the first tick after a start looks
    assert not every(NOW + timedelta(seconds=30))
    assert not every(NOW + timedelta(minutes=9, seconds=59))
    assert every(NOW + timedelta(minutes=10))
    assert every(NOW - timedelta(days=1))  # a clock set back (tests, a fixed NTP jump) looks
