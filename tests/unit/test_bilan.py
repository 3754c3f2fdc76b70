"""The impact report (/bilan): its figures match the database, figures over fewer than five
people are hidden ("< 5"), practices and numbers compare the same members, an empty cohort
gets empty states, the optional sections appear only when given; and this month's check for
/stats and the digest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.i18n import I18n
from bot.models import (
    Attendance,
    AttendanceMethod,
    Cohort,
    Enrolment,
    Member,
    ObjectiveStatus,
    ObservationSource,
    RsvpAnswer,
    TipReceipt,
)
from bot.reports import bilan, digest, observations
from bot.reports.bilan import (
    HIDDEN,
    MIN_PEOPLE,
    BilanData,
    ChallengeFigures,
    Figure,
    TrioFigures,
    count,
    figure,
    share,
)
from bot.reports.bilan_pdf import render_bilan, shown
from bot.services.checkins import digest_text
from tests.factories import (
    build_objective,
    content_library,
    make_cohort,
    make_members,
    make_rsvp,
    make_session,
    observation,
)

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
STARTED = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
BASELINE_AT = datetime(2026, 9, 10, 10, 0, tzinfo=UTC)
NOVEMBER_AT = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)  # week of Monday 2 November
VOTED_AT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # week of Monday 16 November
I18N = I18n()


def pdf_text(data: bytes) -> str:
    pages = PdfReader(BytesIO(data)).pages
    text = " ".join(page.extract_text() for page in pages)
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


# --- the one "< 5" rule -------------------------------------------------------------------


@pytest.mark.parametrize(("people", "hidden"), [(0, True), (1, True), (4, True), (5, False)])
def test_a_figure_over_fewer_than_five_people_is_hidden(people: int, hidden: bool) -> None:
    assert count(people).hidden is hidden
    assert figure(12.5, people).hidden is hidden
    assert share(1, people).hidden is hidden if people else share(0, 0).hidden


def test_a_hidden_figure_keeps_neither_its_value_nor_its_people() -> None:
    assert count(4) == HIDDEN == Figure(None, 0)
    assert share(3, 4) == HIDDEN
    assert figure(250.0, 3) == HIDDEN
    # A share over five people or more stands, however small its part.
    assert share(1, 20) == Figure(0.05, 20)


@pytest.mark.parametrize(
    ("lang", "value", "kind", "text"),
    [
        ("fr", count(4), "count", "< 5"),
        ("fr", share(2, 3), "share", "< 5"),
        ("fr", figure(130.0, 5), "median", "130"),
        ("fr", share(4, 5), "share", "80\xa0%"),
        ("en", share(4, 5), "share", "80%"),
        ("nl", figure(1.5, 6), "median", "1,5"),
    ],
)
def test_figures_print_as_the_reader_reads_them(
    lang: str, value: Figure, kind: str, text: str
) -> None:
    assert shown(I18N(lang), value, kind) == text
    assert MIN_PEOPLE == 5


# --- the report against the database -----------------------------------------------------


async def programme(tx: AsyncSession) -> tuple[Cohort, list[Member]]:
    """Six merchants since September; two sessions; objectives; a baseline in September for
    all six, a November check for five of them (M5 never answered again); tip votes."""
    cohort = await make_cohort(tx, created_at=STARTED)
    people = await make_members(tx, cohort, 6, name="M{index}")
    await tx.execute(
        update(Enrolment).where(Enrolment.cohort_id == cohort.id).values(joined_at=STARTED)
    )
    first = await make_session(tx, cohort, datetime(2026, 10, 1, 17, tzinfo=UTC), number=1)
    second = await make_session(tx, cohort, datetime(2026, 10, 8, 17, tzinfo=UTC), number=2)
    await make_session(tx, cohort, datetime(2026, 12, 20, 17, tzinfo=UTC), number=3)
    for ts, said_yes, came in ((first, 5, 6), (second, 3, 4)):
        for person in people[:said_yes]:
            await make_rsvp(tx, ts, person, RsvpAnswer.YES)
        tx.add_all(
            Attendance(session_id=ts.id, member_id=p.id, method=AttendanceMethod.QR)
            for p in people[:came]
        )
    done = ObjectiveStatus.DONE.value
    statuses = [(0, done), (0, done), (1, done), (2, done), (3, done), (4, "active")]
    tx.add_all(build_objective(people[i], cohort, status=status) for i, status in statuses)

    baseline = {
        "followers": [100, 200, 50, 80, 120, 10],
        "posts_7d": [0, 1, 2, 0, 1, 3],
        "customers_month": [0, 1, 2, 3, 0, 1],
        "practice:weekly_post": [0, 0, 1, 0, 1, 0],
        "practice:short_video": [0, 0, 0, 0, 0, 0],
    }
    november = {
        "followers": [150, 260, 60, 90, 130],
        "posts_7d": [2, 1, 3, 1, 1],
        "customers_month": [2, 2, 4, 3, 1],
        # Only the practices not yet adopted are asked again.
        "practice:weekly_post": {0: 1, 1: 1, 3: 0},
        "practice:short_video": [1, 0, 1, 0, 0],
    }
    for metric, values in baseline.items():
        for person, value in zip(people, values, strict=True):
            await observation(
                tx,
                person,
                metric,
                value,
                observed_at=BASELINE_AT,
                source=ObservationSource.BASELINE,
            )
    for metric, answers in november.items():
        pairs = answers.items() if isinstance(answers, dict) else enumerate(answers)
        for index, value in pairs:
            await observation(tx, people[index], metric, value, observed_at=NOVEMBER_AT)

    # Tip votes: every merchant likes a video tip; three vote on a live tip (too few people).
    videos = next(tip for tip in content_library().tips if tip.theme == "short_videos")
    live = next(tip for tip in content_library().tips if tip.theme == "live")
    tx.add_all(
        TipReceipt(
            member_id=p.id, tip_id=videos.id, via="drip", feedback="up", feedback_at=VOTED_AT
        )
        for p in people
    )
    tx.add_all(
        TipReceipt(member_id=p.id, tip_id=live.id, via="drip", feedback="up", feedback_at=VOTED_AT)
        for p in people[:3]
    )
    await tx.flush()
    return cohort, people


async def test_the_report_figures_match_the_database(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, _ = await programme(tx)
        data = await bilan.bilan_with_content(tx, cohort, NOW, content_library())

    assert (data.members, data.members_ever) == (count(6), count(6))
    assert data.started_on == date(2026, 9, 1)
    assert [(s.number, s.present, s.said_yes) for s in data.sessions] == [
        (1, count(6), count(5)),
        (2, HIDDEN, HIDDEN),  # 4 present, 3 said yes: fewer than five people
    ]
    assert data.upcoming_sessions == 1
    objectives = data.objectives
    assert (objectives.set_count, objectives.reached_count) == (count(6), count(5))
    assert (objectives.people_with_one, objectives.people_reached) == (count(5), HIDDEN)

    assert (data.followed, data.paired) == (count(6), count(5))
    practices = {line.practice_id: line for line in data.practices}
    assert [line.practice_id for line in data.practices] == [
        p.id for p in content_library().practices
    ]
    # weekly_post: 2 of the 5 paired members at first; now 4 (adopted ones are not re-asked).
    assert (practices["weekly_post"].first, practices["weekly_post"].latest) == (
        share(2, 5),
        share(4, 5),
    )
    assert (practices["short_video"].first, practices["short_video"].latest) == (
        share(0, 5),
        share(2, 5),
    )
    assert practices["gone_live"].first.hidden  # nobody answered it
    numbers = {line.metric: (line.first, line.latest) for line in data.numbers}
    assert numbers == {
        "followers": (figure(100, 5), figure(130, 5)),
        "posts_7d": (figure(1, 5), figure(1, 5)),
        "customers_month": (figure(1, 5), figure(2, 5)),
    }
    assert [(line.theme, line.liked, line.liked_share) for line in data.themes] == [
        ("short_videos", figure(6, 6), figure(1.0, 6))
    ]

    weeks = {line.week_start: line.answering for line in data.weeks}
    assert data.weeks[0].week_start == date(2026, 8, 31)
    assert data.weeks[-1].week_start == date(2026, 11, 30)
    assert weeks[date(2026, 9, 7)] == share(6, 6)  # the baseline
    assert weeks[date(2026, 11, 2)] == share(5, 6)  # the November check
    assert weeks[date(2026, 11, 16)] == share(6, 6)  # the tip votes
    assert weeks[date(2026, 10, 26)] == share(0, 6)
    assert data.answering_average.value == pytest.approx((1 + 5 / 6 + 1) / len(data.weeks))
    assert (data.challenges, data.trios) is not None
    assert data.challenges is None
    assert data.trios is None


async def test_practices_and_numbers_compare_the_same_members(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, people = await programme(tx)
        # A newcomer answers for the first time in November: nothing to compare yet.
        newcomer = (await make_members(tx, cohort, 1, name="N"))[0]
        for metric, value in (("followers", 5000), ("practice:weekly_post", 1)):
            await observation(tx, newcomer, metric, value, observed_at=NOVEMBER_AT)
        # M5 answers only the followers in December: paired for that number only.
        await observation(tx, people[5], "followers", 11, observed_at=NOW - timedelta(days=1))
        data = await bilan.bilan_with_content(tx, cohort, NOW, content_library())
    numbers = {line.metric: (line.first, line.latest) for line in data.numbers}
    # Six pairs now: first [100, 200, 50, 80, 120, 10], latest [150, 260, 60, 90, 130, 11].
    assert numbers["followers"] == (figure(90, 6), figure(110, 6))
    assert numbers["posts_7d"] == (figure(1, 5), figure(1, 5))
    practices = {line.practice_id: line for line in data.practices}
    # M5 answered a later check (December): their practices count, carried from September.
    assert (practices["weekly_post"].first, practices["weekly_post"].latest) == (
        share(2, 6),
        share(4, 6),
    )
    assert data.followed == count(7)
    assert data.paired == count(6)


async def test_a_small_cohort_shows_only_hidden_figures(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx, created_at=STARTED)
        people = await make_members(tx, cohort, 4)
        for person in people:
            await observation(tx, person, "followers", 100, observed_at=BASELINE_AT)
            await observation(tx, person, "followers", 150, observed_at=NOVEMBER_AT)
        data = await bilan.bilan_with_content(tx, cohort, NOW, content_library())
    assert data.members == HIDDEN
    assert all(line.answering.hidden for line in data.weeks)
    assert data.answering_average.hidden
    assert all(line.first.hidden and line.latest.hidden for line in data.numbers)
    pdf = render_bilan(data, I18N("fr", "Europe/Brussels"), content_library())
    text = pdf_text(pdf)
    assert "150" not in text
    assert "< 5 commerçants ont rejoint le programme" in text


async def test_the_pdf_shows_the_headline_figures(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, _ = await programme(tx)
        data = await bilan.bilan_with_content(tx, cohort, NOW, content_library())
    text = pdf_text(render_bilan(data, I18N("fr", "Europe/Brussels"), content_library()))
    assert "Bilan du programme" in text
    assert "Estaimpuis 2026 · Estaimpuis" in text
    assert "Du 1 septembre 2026 au 4 décembre 2026" in text
    assert "6 commerçants ont rejoint le programme" in text
    assert "2 séances ont eu lieu" in text
    assert "5 objectifs atteints" in text
    assert "1 1 oct. 2026 Vidéo et live 6 5" in text
    assert "2 8 oct. 2026 Vidéo et live < 5 < 5" in text
    assert "Je publie au moins une fois par semaine 40 % 80 %" in text
    assert "Abonnés de la page (médiane) 100 130" in text
    assert "Clients venus grâce à la page, par mois (médiane) 1 2" in text
    assert "Les vidéos courtes 6 100 %" in text
    assert "Défis lancés au groupe" not in text
    assert "Trios" not in text
    english = pdf_text(render_bilan(data, I18N("en", "Europe/Brussels"), content_library()))
    assert "6 merchants joined the programme" in english


async def test_an_empty_cohort_gets_a_report_with_empty_states(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx, created_at=STARTED)
        data = await bilan.bilan_with_content(tx, cohort, NOW, content_library())
    assert data.sessions == ()
    assert data.weeks == ()
    assert not data.has_observations
    text = pdf_text(render_bilan(data, I18N("fr", "Europe/Brussels"), content_library()))
    assert "Aucune séance n'a encore eu lieu pour ce groupe." in text
    assert "Personne n'a encore répondu au point mensuel" in text
    assert "Pas encore assez d'avis sur les astuces" in text


def test_the_challenge_and_trio_sections_appear_when_given() -> None:
    empty = BilanData(
        cohort_name="Ath 2027",
        commune="Ath",
        zone="Europe/Brussels",
        generated_at=NOW,
        started_on=date(2026, 9, 1),
        members=count(12),
        members_ever=count(12),
        sessions=(),
        upcoming_sessions=0,
        weeks=(),
        answering_average=HIDDEN,
        objectives=bilan.ObjectiveFigures(HIDDEN, HIDDEN, HIDDEN, HIDDEN),
        followed=HIDDEN,
        paired=HIDDEN,
        practices=(),
        numbers=(),
        themes=(),
    )
    full = replace(
        empty,
        challenges=ChallengeFigures.of(sent=3, taken=9, done=4),
        trios=TrioFigures(share(6, 12), {1: share(9, 12), 3: share(6, 10), 6: HIDDEN}),
    )
    text = pdf_text(render_bilan(full, I18N("fr"), content_library()))
    assert "défis lancés 3" in text
    assert "commerçants qui ont répondu à un défi 9" in text
    assert "commerçants qui en ont relevé un (preuve ou « fait ») < 5" in text
    assert "ont encouragé ou ont été encouragés par leur trio ce mois-ci 50 %" in text
    assert "répondent encore 1 mois après la dernière séance 75 %" in text
    assert "répondent encore 6 mois après la dernière séance < 5" in text
    without = pdf_text(render_bilan(empty, I18N("fr"), content_library()))
    assert "Défis lancés au groupe" not in without
    assert "Trios et suivi" not in without


# --- /stats and the digest: this month's check ----------------------------------------------


async def test_progress_summary_says_who_has_not_answered_and_who_moved(db: Database) -> None:
    async with db.unit_of_work() as tx:
        cohort, people = await programme(tx)
        november = await observations.progress_summary(tx, cohort, NOVEMBER_AT + timedelta(days=1))
        december = await observations.progress_summary(tx, cohort, NOW)
        await observation(tx, people[2], "posts_7d", 4, observed_at=NOW)
        later = await observations.progress_summary(tx, cohort, NOW + timedelta(hours=1))
        empty_cohort = await make_cohort(tx, "Vide")
        await make_members(tx, empty_cohort, 2)
        nothing = await observations.progress_summary(tx, empty_cohort, NOW)
    assert november is not None
    assert (november.period, november.merchants, november.answered) == ("2026-11", 6, 5)
    assert november.not_answered == ("M5",)
    # Up since their first answer: M0 (followers...), M1, M2, M3, M4 — not M5.
    assert november.moved == ("M0", "M1", "M2", "M3", "M4")
    assert december is not None
    assert (december.period, december.answered) == ("2026-12", 0)
    assert len(december.not_answered) == 6
    assert later is not None
    assert (later.answered, later.not_answered[:2]) == (1, ("M0", "M1"))
    assert nothing is None


async def test_the_trainers_digest_names_who_has_not_answered_and_who_moved(
    db: Database,
) -> None:
    async with db.unit_of_work() as tx:
        cohort, _ = await programme(tx)
        ts = await make_session(tx, cohort, NOVEMBER_AT + timedelta(days=2), number=9)
        data = await digest.trainer_digest(
            tx,
            cohort.id,
            since=NOVEMBER_AT - timedelta(days=7),
            now=NOVEMBER_AT + timedelta(days=1),
        )
        without_now = await digest.trainer_digest(tx, cohort.id, since=NOVEMBER_AT)
    assert data.progress is not None
    assert data.has_news
    assert without_now.progress is None
    text = digest_text(I18N("fr", "Europe/Brussels"), ts, data)
    assert "<b>📝 Point du mois</b>\n5 sur 6 ont répondu ce mois-ci." in text
    assert "Pas encore répondu : M5" in text
    assert "📈 En progrès depuis leur premier point : M0, M1, M2, M3, M4" in text
    english = digest_text(I18N("en", "Europe/Brussels"), ts, data)
    assert "5 of 6 answered this month." in english


@pytest.mark.parametrize(("n", "text"), [(0, "< 5"), (4, "< 5"), (5, "5"), (120, "120")])
def test_a_head_count_for_stats_follows_the_same_rule(n: int, text: str) -> None:
    assert bilan.head_count(n) == text


async def test_an_answer_counts_in_its_local_week(db: Database) -> None:
    """Weeks run Monday to Sunday in the cohort's zone: 23:30 on a Sunday in Brussels (22:30
    UTC) is that week; ten minutes past midnight (23:10 UTC) is the next one."""
    sunday_late = datetime(2026, 11, 29, 22, 30, tzinfo=UTC)
    monday_early = datetime(2026, 11, 29, 23, 10, tzinfo=UTC)
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx, created_at=STARTED)
        people = await make_members(tx, cohort, 5)
        await tx.execute(
            update(Enrolment).where(Enrolment.cohort_id == cohort.id).values(joined_at=STARTED)
        )
        tip = content_library().tips[0]
        tx.add_all(
            TipReceipt(
                member_id=p.id, tip_id=tip.id, via="drip", feedback="up", feedback_at=sunday_late
            )
            for p in people
        )
        for person in people[:3]:
            await observation(tx, person, "followers", 10, observed_at=monday_early)
        data = await bilan.bilan_with_content(tx, cohort, NOW, content_library())
    weeks = {line.week_start: line.answering for line in data.weeks}
    assert weeks[date(2026, 11, 23)] == share(5, 5)
    assert weeks[date(2026, 11, 30)] == share(3, 5)
    assert weeks[date(2026, 11, 16)] == share(0, 5)
