"""Privacy rights on the services: export, erasure that leaves no trace, retention."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.delivery.outbox import enqueue
from bot.delivery.planner import plan_window
from bot.delivery.registry import Planned
from bot.models import (
    Attendance,
    AuditEntry,
    Base,
    Broadcast,
    Challenge,
    ChallengeSubmission,
    ConversationState,
    Delivery,
    Encouragement,
    Enrolment,
    Lease,
    Member,
    Objective,
    ObjectiveCheckin,
    Observation,
    Question,
    Rsvp,
    SetupCode,
    StaffInvitation,
    StaffRole,
    TipReceipt,
    Trio,
    TrioMembership,
    UserData,
)
from bot.services import privacy
from tests.factories import build_cohort, build_member, build_objective, build_session, enrol
from tests.privacy_scan import table_counts, traces

ZEPH_ID = 987_654_321
TOM_ID = 333_444
ZEPH_NAMES = ("Zéphyrine", "Quincampoix", "zeph_qx", "Atelier Zéphyr")


@dataclass
class World:
    zeph: int
    bob: int
    tom: int
    past: int
    future: int
    other_session: int


async def _world(db: Database, now: datetime) -> World:
    """Zéphyrine in every table: merchant of cohort A, trainer of cohort B; Bob and Tom too.

    Other people's rows mention her (a trainer's draft, an answer, a broadcast, audit
    details, a payload), as real use would.
    """
    async with db.unit_of_work() as s:
        a, b = (
            build_cohort("Estaimpuis 2026", join_code="AAA1"),
            build_cohort("Pecq 2026", join_code="BBB1"),
        )
        s.add_all([a, b])
        await s.flush()
        zeph = build_member(
            "Zéphyrine",
            user_id=ZEPH_ID,
            last_name="Quincampoix",
            username="zeph_qx",
            business_name="Atelier Zéphyr",
            sector="crafts",
            commune="Estaimpuis",
            consent_at=now,
            onboarded_at=now,
            active_cohort_id=a.id,
            created_at=now,
        )
        bob = build_member(
            user_id=111_222, name="Bob", business_name="Boulangerie Bob", active_cohort_id=a.id
        )
        tom = build_member(user_id=TOM_ID, name="Tom", active_cohort_id=a.id)
        carl = build_member(user_id=None, name="Carl")  # added by name at a roll call
        s.add_all([zeph, bob, tom, carl])
        await s.flush()
        s.add_all(
            [
                Enrolment(cohort_id=a.id, member_id=zeph.id),
                Enrolment(cohort_id=a.id, member_id=bob.id),
                Enrolment(cohort_id=b.id, member_id=carl.id),
                StaffRole(cohort_id=a.id, member_id=tom.id, role="trainer"),
                StaffRole(cohort_id=b.id, member_id=zeph.id, role="trainer"),
                StaffInvitation(
                    token="inv-by-zeph",
                    cohort_id=b.id,
                    role="coordinator",
                    created_by_id=zeph.id,
                    expires_at=now + timedelta(days=3),
                ),
                StaffInvitation(
                    token="inv-for-zeph",
                    cohort_id=b.id,
                    role="trainer",
                    created_by_id=tom.id,
                    expires_at=now,
                    used_at=now,
                    used_by_id=zeph.id,
                ),
            ]
        )
        past = build_session(a, number=1, starts_at=now - timedelta(days=7), created_by_id=tom.id)
        future = build_session(
            a, number=2, starts_at=now + timedelta(days=7), capacity=1, created_by_id=tom.id
        )
        other = build_session(
            b,
            number=1,
            starts_at=now - timedelta(days=1),
            created_by_id=zeph.id,
            summary="Zéphyrine a montré les Reels de l'Atelier Zéphyr.",
        )
        s.add_all([past, future, other])
        await s.flush()
        s.add_all(
            [
                Rsvp(session_id=past.id, member_id=zeph.id, answer="yes"),
                Rsvp(session_id=past.id, member_id=bob.id, answer="yes"),
                Rsvp(session_id=future.id, member_id=zeph.id, answer="yes", answered_at=now),
                Rsvp(
                    session_id=future.id,
                    member_id=bob.id,
                    answer="waitlist",
                    answered_at=now + timedelta(minutes=1),
                ),
                Attendance(session_id=past.id, member_id=zeph.id, method="qr"),
                Attendance(session_id=past.id, member_id=bob.id, method="qr"),
                Attendance(
                    session_id=other.id, member_id=carl.id, method="manual", recorded_by_id=zeph.id
                ),
            ]
        )
        objective = build_objective(
            zeph, a, "Publier 2 Reels de l'Atelier Zéphyr par semaine", target_per_week=2
        )
        bobs = build_objective(bob, a, "Faire un live avec Zéphyrine", measure_kind="binary")
        s.add_all([objective, bobs])
        await s.flush()
        s.add_all(
            [
                ObjectiveCheckin(
                    objective_id=objective.id,
                    asked_at=now,
                    answered_at=now,
                    answer="stuck",
                    blocker="Je ne sais pas filmer",
                ),
                ObjectiveCheckin(objective_id=bobs.id, asked_at=now, answer="doing"),
                TipReceipt(member_id=zeph.id, tip_id="video-01", via="drip", feedback="up"),
                TipReceipt(member_id=bob.id, tip_id="video-01", via="drip"),
                Observation(
                    member_id=zeph.id,
                    cohort_id=a.id,
                    metric="followers",
                    value=120,
                    source="baseline",
                    period="2026-11",
                ),
                Observation(
                    member_id=bob.id,
                    cohort_id=a.id,
                    metric="practice:short_video",
                    value=1,
                    source="baseline",
                    period="2026-11",
                ),
                Question(member_id=zeph.id, cohort_id=a.id, text="Comment filmer mon atelier ?"),
                Question(
                    member_id=carl.id,
                    cohort_id=b.id,
                    text="Quel micro ?",
                    answer="Zéphyrine Quincampoix vous conseille un micro-cravate.",
                    answered_by_id=zeph.id,
                ),
                Broadcast(
                    cohort_id=b.id,
                    author_id=zeph.id,
                    text="Bonjour ! Écrivez-moi (@zeph_qx) pour vos questions.",
                    audience="all",
                    status="done",
                ),
                Delivery(
                    member_id=zeph.id,
                    kind="tip",
                    dedup_key="tip:2026-11-27",
                    due_at=now + timedelta(days=2),
                ),
                Delivery(
                    member_id=zeph.id,
                    kind="reminder",
                    dedup_key="reminder:1",
                    due_at=now,
                    status="sent",
                    sent_at=now,
                ),
                Delivery(
                    member_id=bob.id,
                    kind="digest",
                    dedup_key="digest:1",
                    due_at=now,
                    payload={"stuck": [{"member_id": zeph.id, "name": "Zéphyrine"}]},
                ),
                AuditEntry(
                    actor_id=zeph.id,
                    cohort_id=b.id,
                    action="attendance.add_name",
                    details={"member_id": carl.id, "by": "Zéphyrine"},
                ),
                AuditEntry(
                    actor_id=tom.id,
                    cohort_id=b.id,
                    action="staff.grant",
                    details={"member_id": zeph.id, "role": "trainer", "telegram": ZEPH_ID},
                ),
                ConversationState(
                    name="objective", key=f"[{ZEPH_ID},{ZEPH_ID}]", state={"state": "what"}
                ),
                ConversationState(name="question", key="[111222,111222]", state={"state": "ask"}),
                UserData(user_id=ZEPH_ID, data={"objective": {"text": "Reels"}}),
                UserData(user_id=TOM_ID, data={"broadcast": {"text": "Bravo Zéphyrine !"}}),
                Lease(name="dispatcher", holder="host:1", expires_at=now),
                SetupCode(code="SETUP1"),
            ]
        )
        # Her trio with Bob, and the words they sent each other.
        trio = Trio(cohort_id=a.id, number=1, confirmed_at=now)
        trio.memberships = [
            TrioMembership(member_id=zeph.id, joined_at=now),
            TrioMembership(member_id=bob.id, joined_at=now),
        ]
        s.add(trio)
        s.add_all(
            [
                Encouragement(
                    cohort_id=a.id,
                    sender_id=zeph.id,
                    recipient_id=bob.id,
                    choice="bravo",
                    day=now.date(),
                ),
                Encouragement(
                    cohort_id=a.id,
                    sender_id=bob.id,
                    recipient_id=zeph.id,
                    choice="talk",
                    day=now.date(),
                ),
            ]
        )
        # Challenges: she set one as trainer of B, answered one of A with a photo; Tom's 👏.
        hers = Challenge(
            cohort_id=b.id, author_id=zeph.id, title="Un Reel", text="Filmez", proof="photo",
            audience="all", timing="now", deadline_at=now + timedelta(days=3),
        )  # fmt: skip
        toms = Challenge(
            cohort_id=a.id, author_id=tom.id, title="Vitrine", text="Photo", proof="photo",
            audience="all", timing="now", deadline_at=now + timedelta(days=3),
        )  # fmt: skip
        s.add_all([hers, toms])
        await s.flush()
        s.add_all(
            [
                ChallengeSubmission(
                    challenge_id=toms.id, member_id=zeph.id, answer="proof", proof_kind="photo",
                    file_id="AgACzeph-photo", consent=True, bravo_by_id=tom.id, bravo_at=now,
                ),
                ChallengeSubmission(
                    challenge_id=toms.id, member_id=bob.id, answer="proof", proof_kind="link",
                    link="https://facebook.com/boulangeriebob", bravo_by_id=zeph.id,
                ),
            ]
        )  # fmt: skip
        return World(zeph.id, bob.id, tom.id, past.id, future.id, other.id)


async def test_the_world_fills_every_table(db: Database, clock: ManualClock) -> None:
    """The erasure test below is only as good as its data: every table holds rows."""
    await _world(db, clock.now())
    counts = await table_counts(db)
    assert set(counts) == set(Base.metadata.tables)
    assert [name for name, n in counts.items() if n == 0] == []


async def test_forgetting_leaves_no_trace_in_any_table(db: Database, clock: ManualClock) -> None:
    world = await _world(db, clock.now())
    assert len(await traces(db, ZEPH_ID, ZEPH_NAMES)) >= 15  # the scan does find her first

    async with db.unit_of_work() as s:
        report = await privacy.forget_member(s, world.zeph, clock.now())
    assert report is not None

    left = await traces(db, ZEPH_ID, ZEPH_NAMES)
    assert left == [], "\n".join(left)
    async with db.unit_of_work() as s:
        assert await s.get(Member, world.zeph) is None
        # The counts of the past session stay true: two RSVPs, two present, one anonymous.
        answers = (await s.scalars(select(Rsvp).where(Rsvp.session_id == world.past))).all()
        assert sorted((r.answer, r.member_id is None) for r in answers) == [
            ("yes", False),
            ("yes", True),
        ]
        present = (
            await s.scalars(select(Attendance).where(Attendance.session_id == world.past))
        ).all()
        assert len(present) == 2
        assert sum(a.member_id is None for a in present) == 1
        # Her seat at the session to come went to Bob, who is told through the outbox.
        future = (await s.scalars(select(Rsvp).where(Rsvp.session_id == world.future))).all()
        assert [(r.member_id, r.answer) for r in future] == [(world.bob, "yes")]
        notices = await s.scalar(
            select(func.count()).where(
                Delivery.member_id == world.bob, Delivery.kind == "session_notice"
            )
        )
        assert notices == 1
        # Other people's data stays, only her name is blanked out of it.
        bobs = await s.scalar(select(Objective).where(Objective.member_id == world.bob))
        assert bobs is not None
        assert bobs.text == "Faire un live avec […]"
        tom_draft = await s.get(UserData, TOM_ID)
        assert tom_draft is not None
        assert tom_draft.data == {"broadcast": {"text": "Bravo […] !"}}
        assert await s.scalar(select(func.count()).select_from(ConversationState)) == 1
        # One anonymous audit entry says an erasure happened.
        forgets = (
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.forget"))
        ).all()
        assert [(e.actor_id, e.cohort_id, e.details) for e in forgets] == [
            (None, None, {"reason": "self"})
        ]
    assert report.seats_released == 1
    assert report.deliveries_cancelled == 1
    assert report.deleted["objectives"] == 1
    assert report.anonymised["attendances.member_id"] == 1


async def test_forgetting_someone_unknown_changes_nothing(db: Database, clock: ManualClock) -> None:
    async with db.unit_of_work() as s:
        assert await privacy.forget_member(s, 424242, clock.now()) is None
        assert await privacy.export_member_data(s, 424242) is None


async def test_the_export_holds_everything_about_her_and_nothing_about_others(
    db: Database, clock: ManualClock
) -> None:
    world = await _world(db, clock.now())
    async with db.unit_of_work() as s:
        data = await privacy.export_member_data(s, world.zeph)
    assert data is not None
    text = json.dumps(data, ensure_ascii=False)  # JSON-ready as it is
    assert data["profile"]["business_name"] == "Atelier Zéphyr"
    assert data["profile"]["telegram_user_id"] == ZEPH_ID
    assert [c["cohort"] for c in data["cohorts"]] == ["Estaimpuis 2026"]
    assert [(r["cohort"], r["role"]) for r in data["staff_roles"]] == [("Pecq 2026", "trainer")]
    assert sorted(r["session"]["number"] for r in data["rsvps"]) == [1, 2]
    assert [a["method"] for a in data["attendance"]] == ["qr"]
    [objective] = data["objectives"]
    assert objective["checkins"][0]["blocker"] == "Je ne sais pas filmer"
    assert data["tips"][0]["feedback"] == "up"
    assert data["questions"][0]["text"] == "Comment filmer mon atelier ?"
    assert sorted(m["kind"] for m in data["messages"]) == ["reminder", "tip"]
    assert data["staff_actions"][0]["action"] == "attendance.add_name"
    assert data["drafts"]["conversations"] == {"objective": "what"}
    assert data["drafts"]["user_data"] == {"objective": {"text": "Reels"}}
    assert [m["trio"] for m in data["trios"]["memberships"]] == [1]
    assert [w["word"] for w in data["trios"]["encouragements_sent"]] == ["bravo"]
    assert [w["word"] for w in data["trios"]["encouragements_received"]] == ["talk"]
    for other in ("Bob", "Boulangerie", "Carl", "Tom", "micro"):
        assert other not in text


# --- retention ------------------------------------------------------------------------------

DAY = timedelta(days=1)


async def _inactive_merchant(
    db: Database, now: datetime, *, idle: timedelta, chat: bool = True, session_at: datetime | None
) -> int:
    async with db.unit_of_work() as s:
        cohort = build_cohort("Ancienne cohorte", join_code=f"OLD{int(idle.total_seconds())}{chat}")
        s.add(cohort)
        await s.flush()
        member = build_member(
            "Yvette",
            user_id=555_000 + int(idle.days) if chat else None,
            business_name="Mercerie Yvette",
            created_at=now - idle,
            last_seen_at=now - idle,
            onboarded_at=now - idle,
        )
        s.add(member)
        await s.flush()
        await enrol(s, cohort, member, joined_at=now - idle)
        if session_at is not None:
            s.add(build_session(cohort, number=1, starts_at=session_at))
        return member.id


async def _pass(db: Database, settings: Settings, now: datetime) -> list[str]:
    async with db.unit_of_work() as s:
        planned = await privacy.plan_retention(s, plan_window(settings, now))
        return [p.dedup_key for p in planned]


async def _exists(db: Database, member_id: int) -> bool:
    async with db.unit_of_work() as s:
        return await s.get(Member, member_id) is not None


async def test_an_inactive_member_is_warned_then_erased_a_week_later(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    idle = timedelta(days=settings.retention_days + 30)
    member_id = await _inactive_merchant(db, now, idle=idle, session_at=now - idle)

    keys = await _pass(db, settings, now)
    assert keys == [f"retention-warning:{(now - idle + timedelta(days=730)).date()}"]
    assert await _pass(db, settings, now + timedelta(hours=23)) == []  # once a day
    # The dispatcher sent it (after_send) at `now`.
    async with db.unit_of_work() as s:
        await enqueue(
            s, [Planned(member_id=member_id, kind="notice", dedup_key=keys[0], due_at=now)]
        )
        delivery = await s.scalar(select(Delivery).where(Delivery.member_id == member_id))
        assert delivery is not None
        delivery.status = "sent"
        await privacy.warning_sent(s, delivery, now)

    await _pass(db, settings, now + 6 * DAY)
    assert await _exists(db, member_id), "erased before the week of notice was over"
    await _pass(db, settings, now + 7 * DAY)
    assert not await _exists(db, member_id)


async def test_coming_back_after_the_warning_keeps_the_member(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    idle = timedelta(days=settings.retention_days)
    member_id = await _inactive_merchant(db, now, idle=idle, session_at=None)
    async with db.unit_of_work() as s:
        member = await s.get(Member, member_id)
        assert member is not None
        member.retention_warned_at = now
        member.last_seen_at = now + DAY  # tapped "I want to continue"
    for day in (7, 8, 30):
        await _pass(db, settings, now + day * DAY)
    assert await _exists(db, member_id)


async def test_a_member_whose_programme_still_runs_is_not_inactive(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    """Someone who only reads the tips never writes; their cohort's sessions keep them."""
    now = clock.now()
    idle = timedelta(days=settings.retention_days + 100)
    upcoming = await _inactive_merchant(db, now, idle=idle, session_at=now + 3 * DAY)
    async with db.unit_of_work() as s:
        assert await privacy.inactive_members(s, now, settings.retention_days) == []
    assert await _pass(db, settings, now) == []
    assert await _exists(db, upcoming)


async def test_a_recent_session_postpones_the_erasure(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    idle = timedelta(days=settings.retention_days + 100)
    await _inactive_merchant(db, now, idle=idle, session_at=now - 100 * DAY)
    async with db.unit_of_work() as s:
        assert await privacy.inactive_members(s, now, settings.retention_days) == []
        [found] = await privacy.inactive_members(
            s, now + timedelta(days=settings.retention_days - 100), settings.retention_days
        )
    assert found.last_activity == now - 100 * DAY


async def test_someone_who_cannot_be_warned_is_erased_on_the_date(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    idle = timedelta(days=settings.retention_days)
    member_id = await _inactive_merchant(db, now, idle=idle, chat=False, session_at=None)
    assert await _pass(db, settings, now) == []  # nobody to write to
    assert not await _exists(db, member_id)


async def test_a_warning_that_could_not_be_delivered_delays_by_a_week(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    idle = timedelta(days=settings.retention_days)
    member_id = await _inactive_merchant(db, now, idle=idle, session_at=None)
    async with db.unit_of_work() as s:
        report = await privacy.purge_inactive(s, now, settings.retention_days)
    assert (report.erased, report.warnings) == (0, 1)
    async with db.unit_of_work() as s:
        delivery = await s.scalar(select(Delivery).where(Delivery.member_id == member_id))
        assert delivery is not None
        delivery.status = "failed"
        delivery.created_at = now
    async with db.unit_of_work() as s:
        report = await privacy.purge_inactive(s, now + 6 * DAY, settings.retention_days)
    assert report.erased == 0
    async with db.unit_of_work() as s:
        report = await privacy.purge_inactive(s, now + 7 * DAY, settings.retention_days)
    assert report.erased == 1
    assert not await _exists(db, member_id)


async def test_active_members_are_left_alone_and_zero_disables(
    db: Database, clock: ManualClock, settings: Settings
) -> None:
    now = clock.now()
    await _inactive_merchant(db, now, idle=100 * DAY, session_at=None)
    old = await _inactive_merchant(db, now, idle=1000 * DAY, session_at=None)
    async with db.unit_of_work() as s:
        found = await privacy.inactive_members(s, now, settings.retention_days)
        assert [i.member_id for i in found] == [old]
        assert await privacy.inactive_members(s, now, 0) == []
        report = await privacy.purge_inactive(s, now, settings.retention_days, dry_run=True)
    assert (report.erased, report.warnings, report.waiting) == (0, 1, 1)
    off = settings.model_copy(update={"retention_days": 0})
    assert await _pass(db, off, now) == []


@pytest.mark.parametrize("hours", [0, 23])
async def test_the_daily_pass_is_claimed_once_a_day(
    db: Database, clock: ManualClock, hours: int
) -> None:
    now = clock.now()
    async with db.unit_of_work() as s:
        assert await privacy.claim_daily_pass(s, now)
    async with db.unit_of_work() as s:
        assert not await privacy.claim_daily_pass(s, now + timedelta(hours=hours))
    async with db.unit_of_work() as s:
        assert await privacy.claim_daily_pass(s, now + DAY)
        lease = await s.get(Lease, privacy.RETENTION_LEASE)
        assert lease is not None
        assert lease.expires_at == now + 2 * DAY
