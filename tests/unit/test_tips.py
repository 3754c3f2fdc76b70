"""The drip's rules: which tip comes next (tables), when the planner plans one (tip days, tip time,
zones and daylight saving, the welcome tip the next tip day, pause), what it costs (only the
members who are due), rendering at send time, receipts and 👍 / 👎."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import buttons, callbacks
from bot.config import Settings
from bot.content import ContentLibrary, Curriculum, CurriculumSession, Tip
from bot.db import Database
from bot.delivery import due as due_times
from bot.delivery.outbox import enqueue
from bot.delivery.registry import PlanWindow, RenderContext, Rendered, Skip
from bot.i18n import I18n
from bot.models import (
    Attendance,
    AttendanceMethod,
    Cohort,
    Delivery,
    Enrolment,
    Member,
    TipReceipt,
    TrainingSession,
)
from bot.services import preferences, tips
from bot.services.tips import TipProfile, Via, Vote
from tests.factories import content_library, make_cohort, make_member, make_session, plan_window

BRUSSELS = ZoneInfo("Europe/Brussels")


def local(
    y: int, m: int, d: int, hh: int = 0, mm: int = 0, zone: str = "Europe/Brussels"
) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(zone)).astimezone(UTC)


# -- choosing: a small library, and tables --------------------------------------------------


def tip(
    tip_id: str, theme: str, sectors: tuple[str, ...] = ("all",), level: int = 1, session: int = 1
) -> Tip:
    return Tip(
        id=tip_id,
        theme=theme,
        sectors=sectors,
        level=level,
        session=session,
        texts={
            "fr": f"<b>{tip_id}</b> texte",
            "nl": f"<b>{tip_id}</b> tekst",
            "en": f"<b>{tip_id}</b> text",
        },
    )


LIBRARY_TIPS = (
    tip("obj-1", "objectives"),
    tip("obj-2", "objectives", level=2),
    tip("rdv-1", "appointments_messages"),
    tip("photo-1", "photos", session=2),
    tip("photo-beauty", "photos", ("beauty",), session=2),
    tip("photo-food", "photos", ("food",), session=2),
    tip("photo-3", "photos", level=3, session=2),
    tip("rythme-1", "posting_rhythm", session=2),
    tip("video-1", "short_videos", session=3),
)


def small_library() -> ContentLibrary:
    names = {
        code: {"fr": code, "nl": code, "en": code}
        for code in (
            "objectives",
            "appointments_messages",
            "photos",
            "posting_rhythm",
            "short_videos",
        )
    }
    sessions = (
        CurriculumSession(1, {"fr": "S1"}, ("objectives", "appointments_messages"), {"fr": ""}),
        CurriculumSession(2, {"fr": "S2"}, ("photos", "posting_rhythm"), {"fr": ""}),
        CurriculumSession(3, {"fr": "S3"}, ("short_videos",), {"fr": ""}),
    )
    return ContentLibrary({t.id: t for t in LIBRARY_TIPS}, Curriculum(sessions, names))


@pytest.mark.parametrize(
    ("profile", "seen", "expected"),
    [
        # After session 2 (photos): the session's theme first, the sector's own tip first.
        (TipProfile("beauty", ("photos", "posting_rhythm")), set(), "photo-beauty"),
        (TipProfile("beauty", ("photos", "posting_rhythm")), {"photo-beauty"}, "photo-1"),
        # Never a tip for another sector; level 3 waits while easier ones are left.
        (
            TipProfile("beauty", ("photos", "posting_rhythm")),
            {"photo-beauty", "photo-1"},
            "rythme-1",
        ),
        # The same, once the member reached level 3.
        (
            TipProfile("beauty", ("photos", "posting_rhythm"), level=3),
            {"photo-beauty", "photo-1"},
            "photo-3",
        ),
        # No sector known: generic tips only.
        (TipProfile(None, ("photos",)), set(), "photo-1"),
        # The session's theme wins over the level once its easier tips are seen.
        (TipProfile("food", ("photos",)), {"photo-1", "photo-food"}, "photo-3"),
        # Outside the focus: the sector's own tip, then what the member liked.
        (TipProfile("food", (), taste={"short_videos": 2}), {"obj-1", "rdv-1"}, "photo-food"),
        (
            TipProfile("food", (), taste={"short_videos": 2}),
            {"obj-1", "rdv-1", "photo-food"},
            "video-1",
        ),
        # A theme they marked 👎 comes after the others.
        (TipProfile(None, (), taste={"objectives": -1}), set(), "rdv-1"),
        # Easiest first, then the curriculum's order.
        (TipProfile(None, ()), set(), "obj-1"),
        (TipProfile(None, ()), {"obj-1"}, "rdv-1"),
        (TipProfile(None, ()), {"obj-1", "rdv-1"}, "photo-1"),
        # The welcome: the first session's themes.
        (TipProfile("beauty", ("objectives", "appointments_messages")), set(), "obj-1"),
        (
            TipProfile("beauty", ("objectives", "appointments_messages")),
            {"obj-1"},
            "rdv-1",  # obj-2 is level 2: after the focus's level-1 tips
        ),
    ],
)
def test_choose_tip_follows_theme_level_sector_taste(
    profile: TipProfile, seen: set[str], expected: str
) -> None:
    found = tips.choose_tip(LIBRARY_TIPS, profile, seen)
    assert found is not None
    assert found.id == expected


def test_choose_tip_never_repeats_and_ends_when_everything_was_seen() -> None:
    profile = TipProfile("beauty", ("photos",))
    seen: set[str] = set()
    order = []
    while (found := tips.choose_tip(LIBRARY_TIPS, profile, seen)) is not None:
        assert found.id not in seen
        seen.add(found.id)
        order.append(found.id)
    assert "photo-food" not in order  # another sector's tip, never
    assert len(order) == len(set(order)) == len(LIBRARY_TIPS) - 1


@pytest.mark.parametrize(("received", "level"), [(0, 1), (5, 1), (6, 2), (11, 2), (12, 3), (99, 3)])
def test_level_rises_with_the_tips_received(received: int, level: int) -> None:
    assert tips.level_for(received) == level


@pytest.mark.parametrize(
    ("code", "focus"),
    [
        ("photos", ("photos", "posting_rhythm")),  # the main theme of session 2
        ("posting_rhythm", ("posting_rhythm",)),  # not a main theme: itself only
        ("short_videos", ("short_videos",)),
        ("unknown", ()),
        (None, ()),
    ],
)
def test_session_focus(code: str | None, focus: tuple[str, ...]) -> None:
    assert tips.session_focus(small_library(), code) == focus


def test_callback_data_of_every_real_tip_and_theme_fits_telegram() -> None:
    library = ContentLibrary.load()
    t = I18n()("fr")
    for item in library.tips:
        for row in buttons.tip_votes(t, item):
            for button in row:
                if button.callback_data:
                    assert len(button.callback_data.encode()) <= 64
        # The library's buttons (bc:tip / bc:push / bc:pushok): pack() refuses what does not fit.
        for shape in (callbacks.LibraryTip, callbacks.PushTip, callbacks.PushTipConfirm):
            assert shape.parse(shape(item.id).pack()) == shape(item.id)
    for theme in library.themes:
        assert callbacks.LibraryTheme.parse(callbacks.LibraryTheme(theme).pack())


# -- the database side ------------------------------------------------------------------------


async def cohort(session: AsyncSession, zone: str = "Europe/Brussels") -> Cohort:
    return await make_cohort(session, "Estaimpuis", timezone=zone)


async def merchant(
    session: AsyncSession,
    group: Cohort,
    *,
    joined: datetime,
    days: str = "tue,fri",
    at: time = time(9, 30),
    sector: str | None = "beauty",
    paused: bool = False,
) -> Member:
    """Alice of Salon Alice, enrolled in `group` since `joined`, with her tip rhythm."""
    return await make_member(
        session,
        group,
        "Alice",
        joined_at=joined,
        onboarded_at=joined,
        created_at=joined,
        business_name="Salon Alice",
        sector=sector,
        tip_days=days,
        tip_time=at,
        paused=paused,
    )


def window(settings: Settings, now: datetime) -> PlanWindow:
    return plan_window(settings, now, timedelta(seconds=60))


JOINED = local(2026, 11, 20, 12)  # a Friday, after the tip time


@pytest.mark.parametrize(
    ("now", "keys"),
    [
        (local(2026, 11, 24, 9, 28), []),  # Tuesday, too early
        (local(2026, 11, 24, 9, 29), ["tip:2026-11-24"]),  # within the planner's lookahead
        (local(2026, 11, 24, 9, 30), ["tip:2026-11-24"]),
        (local(2026, 11, 24, 15, 0), ["tip:2026-11-24"]),  # late (the bot was down): still today
        (local(2026, 11, 24, 16, 0), []),  # too late: no backlog
        (local(2026, 11, 25, 9, 30), []),  # Wednesday is not a tip day
        (local(2026, 11, 20, 9, 30) + timedelta(days=7), ["tip:2026-11-27"]),
    ],
)
async def test_planner_plans_one_tip_on_tip_days_around_tip_time(
    db: Database, settings: Settings, now: datetime, keys: list[str]
) -> None:
    async with db.unit_of_work() as session:
        member = await merchant(session, await cohort(session), joined=JOINED)
        planned = await tips.plan_tips(session, window(settings, now))
    assert [p.dedup_key for p in planned] == keys
    for item in planned:
        assert item.member_id == member.id
        assert item.kind == "tip"
        assert item.due_at == local(
            2026, int(item.dedup_key[9:11]), int(item.dedup_key[12:]), 9, 30
        )
        assert not item.urgent


async def test_the_welcome_tip_waits_for_the_first_tip_day_after_joining(
    db: Database, settings: Settings
) -> None:
    tuesday = local(2026, 11, 24, 9, 30)
    async with db.unit_of_work() as session:
        group = await cohort(session)
        same_day = await merchant(session, group, joined=local(2026, 11, 24, 8, 0))
        day_before = await merchant(session, group, joined=local(2026, 11, 23, 23, 59))
        planned = await tips.plan_tips(session, window(settings, tuesday))
    assert [p.member_id for p in planned] == [day_before.id]
    assert same_day.id not in [p.member_id for p in planned]


async def test_paused_unreachable_left_and_archived_get_no_tip(
    db: Database, settings: Settings
) -> None:
    tuesday = local(2026, 11, 24, 9, 30)
    async with db.unit_of_work() as session:
        group = await cohort(session)
        ok = await merchant(session, group, joined=JOINED)
        await merchant(session, group, joined=JOINED, paused=True)
        unreachable = await merchant(session, group, joined=JOINED)
        unreachable.reachable = False
        left = await merchant(session, group, joined=JOINED)
        enrolment = await session.scalar(select(Enrolment).where(Enrolment.member_id == left.id))
        assert enrolment is not None
        enrolment.left_at = JOINED + timedelta(days=1)
        archived = await cohort(session)
        archived.archived_at = JOINED
        await merchant(session, archived, joined=JOINED)
        await merchant(session, group, joined=JOINED, days="mon,wed")
        await merchant(session, group, joined=JOINED, at=time(18, 0))
        planned = await tips.plan_tips(session, window(settings, tuesday))
        # Planning again after the first delivery exists plans nothing more.
        await enqueue(session, planned)
        again = await tips.plan_tips(session, window(settings, tuesday + timedelta(minutes=1)))
    assert [p.member_id for p in planned] == [ok.id]
    assert again == []


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected_utc"),
    [
        # The Sunday of each change in Brussels: 09:30 local is 07:30 UTC, then 08:30 UTC.
        (
            "Europe/Brussels",
            date(2027, 3, 28),
            time(9, 30),
            datetime(2027, 3, 28, 7, 30, tzinfo=UTC),
        ),
        (
            "Europe/Brussels",
            date(2027, 10, 31),
            time(9, 30),
            datetime(2027, 10, 31, 8, 30, tzinfo=UTC),
        ),
        # A cohort in another zone is planned in its own wall time.
        (
            "America/Montreal",
            date(2026, 11, 29),
            time(9, 30),
            datetime(2026, 11, 29, 14, 30, tzinfo=UTC),
        ),
    ],
)
async def test_tip_time_is_wall_time_of_the_cohort_zone_across_dst(
    db: Database, settings: Settings, zone: str, day: date, at: time, expected_utc: datetime
) -> None:
    async with db.unit_of_work() as session:
        await merchant(session, await cohort(session, zone), joined=JOINED, days="sun", at=at)
        before = await tips.plan_tips(
            session, window(settings, expected_utc - timedelta(minutes=2))
        )
        planned = await tips.plan_tips(session, window(settings, expected_utc))
    assert before == []
    assert [(p.dedup_key, p.due_at) for p in planned] == [(f"tip:{day.isoformat()}", expected_utc)]


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


@pytest.mark.parametrize("population", [10, 200])
async def test_the_planner_reads_only_who_is_due_whatever_the_population(
    db: Database, settings: Settings, population: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cost grows with who is due: the same few queries for 10 or 200 members, each returning
    only due members (3 here); more due members than a batch take one more query per batch."""
    tuesday = local(2026, 11, 24, 9, 30)
    async with db.unit_of_work() as session:
        group = await cohort(session)
        due = [await merchant(session, group, joined=JOINED) for _ in range(3)]
        for index in range(population):
            await merchant(
                session,
                group,
                joined=JOINED,
                # Tuesday at another time, or another day at the same time: not due.
                days=("mon,wed", "tue,fri")[index % 2],
                at=(time(9, 30), time(18, 0))[index % 2],
            )
    # New members have no due time yet: a first tick (Monday evening) works out everyone's.
    async with db.unit_of_work() as session:
        assert await tips.plan_tips(session, window(settings, local(2026, 11, 23, 18, 30))) == []
    monkeypatch.setattr(due_times, "BATCH", 2)
    rows_seen: list[int] = []
    original = tips._evaluate_tips

    async def spy(rows: Any, plan_window: PlanWindow) -> Any:
        rows_seen.append(len(rows))
        return await original(rows, plan_window)

    monkeypatch.setattr(tips, "_evaluate_tips", spy)
    async with db.unit_of_work() as session:
        with counting(db) as statements:
            planned = await tips.plan_tips(session, window(settings, tuesday))
    assert sorted(p.member_id for p in planned) == [m.id for m in due]
    assert sum(rows_seen) == 3
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # 3 due members in batches of 2 -> 2 queries, then one for members changed meanwhile,
    # and one look in the outbox for the tips planned.
    assert len(selects) == 4
    assert sum("members.next_tip_at <=" in s for s in selects) == 2
    assert sum("members.next_tip_at IS NULL" in s for s in selects) == 1


# -- choosing with the member's data, rendering, receipts ------------------------------------


async def add_session(
    session: AsyncSession, group: Cohort, number: int, starts: datetime, code: str | None
) -> TrainingSession:
    return await make_session(
        session, group, starts, number=number, place="Salle", theme=code or "Libre", theme_code=code
    )


async def test_the_theme_of_the_last_attended_session_wins_over_the_cohorts_last(
    db: Database,
) -> None:
    library = ContentLibrary.load()
    now = local(2026, 11, 27, 9, 30)
    async with db.unit_of_work() as session:
        group = await cohort(session)
        alice = await merchant(session, group, joined=JOINED)
        bob = await merchant(session, group, joined=JOINED, sector="food")
        first, welcome_bob = await tips.pick_tip(session, library, bob, now)
        videos = await add_session(session, group, 1, local(2026, 11, 18, 19), "short_videos")
        await add_session(session, group, 2, local(2026, 11, 25, 19), "local_visibility")
        # A session in the future changes nothing yet.
        await add_session(session, group, 3, local(2026, 12, 2, 19), "live")
        session.add(
            Attendance(session_id=videos.id, member_id=alice.id, method=AttendanceMethod.QR)
        )
        await session.flush()
        alice_tip, _ = await tips.pick_tip(session, library, alice, now)
        bob_tip, _ = await tips.pick_tip(session, library, bob, now)
    assert first is not None
    assert (first.theme, welcome_bob) == ("objectives", True)  # before any session: the welcome
    assert alice_tip is not None
    assert alice_tip.theme == "short_videos"
    assert bob_tip is not None
    assert bob_tip.theme == "local_visibility"


async def render(
    session: AsyncSession,
    library: ContentLibrary,
    delivery: Delivery,
    now: datetime,
    settings: Settings,
) -> Rendered | Skip:
    member = await session.get(Member, delivery.member_id)
    assert member is not None
    ctx = RenderContext(
        session=session,
        delivery=delivery,
        member=member,
        t=I18n()(member.language, BRUSSELS),
        now=now,
        settings=settings,
        bot_username="relais_test_bot",
    )
    return await tips.render_tip(ctx, library)


async def test_render_chooses_at_send_time_and_after_send_records_the_receipt(
    db: Database, settings: Settings
) -> None:
    library = ContentLibrary.load()
    friday = local(2026, 11, 27, 9, 30)
    async with db.unit_of_work() as session:
        member = await merchant(session, await cohort(session), joined=JOINED)
        await enqueue(session, await tips.plan_tips(session, window(settings, friday)))
        # Two tip deliveries rendered before either is sent never carry the same tip.
        session.add(
            Delivery(
                member_id=member.id,
                kind="tip",
                dedup_key="tip:2026-11-24",
                due_at=friday - timedelta(hours=1),
                payload={"day": "2026-11-24"},
            )
        )
        await session.flush()
        rows = list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())
        outcomes = [await render(session, library, row, friday, settings) for row in rows]
        for row in rows:
            await session.refresh(row)
    assert all(isinstance(o, Rendered) for o in outcomes)
    chosen = [row.payload["tip_id"] for row in rows]
    assert len(set(chosen)) == 2
    first = outcomes[0]
    assert isinstance(first, Rendered)
    assert "Voici votre première astuce" in first.text
    assert "chaque mardi et vendredi à 9 h 30" in first.text
    assert first.buttons[0][0].callback_data == f"tip:{chosen[0]}:up"

    async with db.unit_of_work() as session:
        for row in rows:
            await tips.tip_sent(session, row, friday)
        await tips.tip_sent(session, rows[0], friday)  # twice: still one receipt
        got = (await session.execute(select(TipReceipt.tip_id, TipReceipt.via))).all()
    assert sorted(got) == sorted((tip_id, "drip") for tip_id in chosen)


async def test_render_skips_a_tip_too_late_or_for_someone_who_left(
    db: Database, settings: Settings
) -> None:
    library = ContentLibrary.load()
    friday = local(2026, 11, 27, 9, 30)
    async with db.unit_of_work() as session:
        member = await merchant(session, await cohort(session), joined=JOINED)
        await enqueue(session, await tips.plan_tips(session, window(settings, friday)))
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None
        late = await render(session, library, delivery, friday + timedelta(hours=19), settings)
        enrolment = await session.scalar(select(Enrolment).where(Enrolment.member_id == member.id))
        assert enrolment is not None
        enrolment.left_at = friday
        await session.flush()
        gone = await render(session, library, delivery, friday, settings)
    assert isinstance(late, Skip)
    assert isinstance(gone, Skip)


async def test_feedback_only_on_a_received_tip_and_the_cohort_summary(db: Database) -> None:
    now = local(2026, 11, 27, 10)
    async with db.unit_of_work() as session:
        group = await cohort(session)
        other = await cohort(session)
        people = [await merchant(session, group, joined=JOINED) for _ in range(3)]
        outsider = await merchant(session, other, joined=JOINED)
        votes: dict[str, list[str | None]] = {
            "tip-a": ["up", "up", "down"],
            "tip-b": ["down", "down", None],
            "tip-c": ["up", None, None],
        }
        for tip_id, answers in votes.items():
            for person, answer in zip(people, answers, strict=True):
                assert await tips.record_receipt(session, person.id, tip_id, Via.DRIP, now)
                if answer:
                    assert await tips.record_feedback(session, person.id, tip_id, Vote(answer), now)
        assert not await tips.record_receipt(session, people[0].id, "tip-a", Via.ASTUCE, now)
        await tips.record_receipt(session, outsider.id, "tip-b", Via.DRIP, now)
        for _ in range(3):
            await tips.record_feedback(session, outsider.id, "tip-b", Vote.UP, now)
        # Never received: refused.
        assert not await tips.record_feedback(session, people[0].id, "tip-z", Vote.UP, now)
        summary = await tips.feedback_summary(session, group.id)
    assert (summary.up, summary.down) == (3, 3)
    assert [(s.tip_id, s.up, s.down) for s in summary.most_useful] == [
        ("tip-a", 2, 1),
        ("tip-c", 1, 0),
    ]
    assert [(s.tip_id, s.up, s.down) for s in summary.least_useful] == [("tip-b", 0, 2)]


async def test_astuce_counts_as_seen_and_feeds_the_drip(db: Database) -> None:
    library = ContentLibrary.load()
    now = local(2026, 11, 25, 10)
    async with db.unit_of_work() as session:
        member = await merchant(session, await cohort(session), joined=JOINED)
        first = await tips.tip_now(session, library, member.id, now)
        second = await tips.tip_now(session, library, member.id, now)
        drip, welcome = await tips.pick_tip(session, library, member, now)
    assert first is not None
    assert second is not None
    assert drip is not None
    assert first.first
    assert not second.first
    assert not welcome
    assert len({first.tip.id, second.tip.id, drip.id}) == 3


# -- /reglages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "toggle", "outcome", "after"),
    [
        ("tue,fri", "mon", "changed", ("mon", "tue", "fri")),
        ("tue,fri", "tue", "changed", ("fri",)),
        ("fri", "fri", "last_day", ("fri",)),
        ("tue,fri", "xyz", "not_offered", ("tue", "fri")),
    ],
)
async def test_toggle_day(
    db: Database, days: str, toggle: str, outcome: str, after: tuple[str, ...]
) -> None:
    async with db.unit_of_work() as session:
        member = await merchant(session, await cohort(session), joined=JOINED, days=days)
        change, chosen = await preferences.toggle_day(session, member.id, toggle)
    assert (change.value, chosen.days) == (outcome, after)


@pytest.mark.parametrize(
    ("at", "outcome"),
    [
        (time(18, 0), "changed"),
        (time(9, 30), "unchanged"),
        (time(7, 0), "not_offered"),
        (time(23, 0), "not_offered"),
    ],
)
async def test_only_offered_times_outside_quiet_hours(db: Database, at: time, outcome: str) -> None:
    quiet = (time(21, 0), time(8, 0))
    assert preferences.offered_times(quiet) == (
        time(8, 0),
        time(9, 30),
        time(12, 0),
        time(14, 0),
        time(18, 0),
    )
    assert time(8, 0) not in preferences.offered_times((time(20, 0), time(8, 30)))
    async with db.unit_of_work() as session:
        member = await merchant(session, await cohort(session), joined=JOINED)
        change, _ = await preferences.set_time(session, member.id, at, quiet)
    assert change.value == outcome


def test_a_tips_title_is_its_front_matter_title_in_the_readers_language() -> None:
    library = content_library()
    tip = library.tip("objectifs-03-ce-qui-depend-de-vous")
    assert tip is not None
    assert tips.tip_title(library, tip, "fr") == "Viser ce qui dépend de vous"
    assert tips.tip_title(library, tip, "nl") == "Mik op wat van u afhangt"
    assert tips.tip_title(library, tip, "en") == "Aim at what depends on you"
    # Not the first bold words of the text any more ("objectif d'action").
    assert tips.tip_title(library, tip, "fr", limit=10) == "Viser ce…"
