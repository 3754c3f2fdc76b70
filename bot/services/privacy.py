"""Privacy rights: a copy of what is stored about a member, erasure, and retention.

Export (`export_member_data`)
    Everything the database holds about one member, as plain JSON-ready data: profile,
    cohorts and roles, RSVPs, attendance, objectives and their check-ins, tips received and
    the feedback given, questions, the answers to the progress check (observations),
    deliveries (kind, status, dates: never the payload, which
    may be about the cohort), staff actions they took, and a conversation draft in progress.

Erasure (`forget_member`)
    The member row goes, and with it everything personal:

    * every row that points to the member through a foreign key is handled generically from
      `Base.metadata` (so a table added later is covered without touching this file): a
      nullable reference becomes NULL — attendance and past RSVPs stay as anonymous rows, so
      the coordinator's counts stay true; audit entries lose their actor; sessions, answers,
      broadcasts lose their author — and a required one is deleted with its row —
      enrolments, staff roles, objectives (and their check-ins), tip receipts, questions,
      progress observations, deliveries (the pending ones are cancelled first);
    * an answer for a session still to come is withdrawn instead, and the seat it held goes
      to the first on the waiting list, as if the member had said no;
    * PTB's rows keyed by their Telegram id (conversation states, user_data) are deleted;
    * copies of who they were elsewhere are scrubbed: in every JSON column (audit details,
      delivery payloads, drafts) a member reference (`member_id`, `actor_id`...) to them
      becomes null and their Telegram id too; in JSON strings and in every free-text column
      (Text, or String of 500+ characters: broadcasts, questions and answers, session
      summaries, objectives, blockers) their first name, last name, username and business
      name become "[…]" (whole words, any case). Short labels (cohort names, places,
      themes) and other members' own rows are never rewritten.

    One anonymous audit entry (`privacy.forget`, with the reason) records that an erasure
    happened, so that the commune can account for it without knowing whose.

Retention (`inactive_members`, `purge_inactive`, `plan_retention`)
    A member's last activity is the latest of: their last update to the bot (or their
    creation), joining a cohort or getting a role, and the latest session of an open cohort
    they still belong to (a session to come counts as now: while their programme runs, a
    member who only reads is not inactive). After `RETENTION_DAYS` without activity they are
    erased as above, with a warning through the outbox (kind `notice`, key
    `retention-warning:<date of erasure>`) a week before; any action (the warning's button,
    any message) keeps them. Erasure never comes less than a week after the warning was
    sent; a member who cannot be warned (no chat, blocked the bot) is erased on the date.
    The planner `retention` runs the whole pass (erasures, then warnings) once a day: the
    first tick of the day claims the `retention` lease row, the others return at once.

Longer than our ~600 lines on purpose, along three banners (export, erasure, retention):
they must change together whenever a table gains personal data, and a test walks every
model against all three, so they stay side by side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    CursorResult,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import buttons
from bot.delivery.outbox import enqueue, skip_pending
from bot.delivery.registry import (
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.models import (
    Attendance,
    AuditEntry,
    Base,
    Challenge,
    ChallengeSubmission,
    Cohort,
    ConversationState,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrolment,
    Lease,
    Member,
    Objective,
    ObjectiveCheckin,
    Observation,
    Question,
    Rsvp,
    RsvpAnswer,
    StaffRole,
    TipReceipt,
    TrainingSession,
    UserData,
)
from bot.services.audit import audit

# What replaces a name in someone else's text.
ERASED = "[…]"
# JSON keys whose value is a member id (audit details, payloads).
MEMBER_KEYS = frozenset(
    {
        "member_id",
        "actor_id",
        "author_id",
        "by_id",
        "created_by_id",
        "used_by_id",
        "recorded_by_id",
        "answered_by_id",
        "trainer_id",
    }
)
# A String column this long (or Text) holds free text that may mention people.
FREE_TEXT_MIN_LENGTH = 500

# Retention.
NOTICE_KIND = DeliveryKind.NOTICE.value
RETENTION_WARNING = "retention_warning"
WARNING_NOTICE = timedelta(days=7)
RETENTION_LEASE = "retention"
RETENTION_PASS_EVERY = timedelta(days=1)

FORGET_SELF = "self"
FORGET_RETENTION = "retention"


# --- export -------------------------------------------------------------------------------------


def _iso(value: datetime | date | time | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_member_data(session: AsyncSession, member_id: int) -> dict[str, Any] | None:
    """Everything stored about the member, JSON-ready; None if there is no such member."""
    member = await session.get(Member, member_id)
    if member is None:
        return None
    cohort_names: dict[int, str] = {
        row.id: row.name for row in await session.execute(select(Cohort.id, Cohort.name))
    }

    def cohort_name(cohort_id: int | None) -> str | None:
        return cohort_names.get(cohort_id) if cohort_id is not None else None

    profile = {
        "telegram_user_id": member.telegram_user_id,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "username": member.username,
        "business_name": member.business_name,
        "sector": member.sector,
        "commune": member.commune,
        "language": member.language,
        "tip_days": member.tip_days,
        "tip_time": _iso(member.tip_time),
        "paused": member.paused,
        "checkins_paused": member.checkins_paused,
        "reachable": member.reachable,
        "consent_at": _iso(member.consent_at),
        "onboarded_at": _iso(member.onboarded_at),
        "created_at": _iso(member.created_at),
        "last_seen_at": _iso(member.last_seen_at),
        "retention_warned_at": _iso(member.retention_warned_at),
        "active_cohort": cohort_name(member.active_cohort_id),
        "share_with_trio": member.share_with_trio,
        "after_booster": member.after_booster,
    }
    enrolments = (
        await session.scalars(
            select(Enrolment).where(Enrolment.member_id == member_id).order_by(Enrolment.id)
        )
    ).all()
    roles = (
        await session.scalars(
            select(StaffRole).where(StaffRole.member_id == member_id).order_by(StaffRole.id)
        )
    ).all()
    sessions = {
        ts.id: ts
        for ts in (
            await session.scalars(
                select(TrainingSession).where(
                    or_(
                        TrainingSession.id.in_(
                            select(Rsvp.session_id).where(Rsvp.member_id == member_id)
                        ),
                        TrainingSession.id.in_(
                            select(Attendance.session_id).where(Attendance.member_id == member_id)
                        ),
                    )
                )
            )
        ).all()
    }

    def session_of(session_id: int) -> dict[str, Any]:
        ts = sessions[session_id]
        return {
            "cohort": cohort_name(ts.cohort_id),
            "number": ts.number,
            "starts_at": _iso(ts.starts_at),
            "theme": ts.theme,
        }

    rsvps = (
        await session.scalars(select(Rsvp).where(Rsvp.member_id == member_id).order_by(Rsvp.id))
    ).all()
    attendance = (
        await session.scalars(
            select(Attendance).where(Attendance.member_id == member_id).order_by(Attendance.id)
        )
    ).all()
    objectives = (
        await session.scalars(
            select(Objective).where(Objective.member_id == member_id).order_by(Objective.id)
        )
    ).all()
    checkins: dict[int, list[ObjectiveCheckin]] = {}
    for row in await session.scalars(
        select(ObjectiveCheckin)
        .where(ObjectiveCheckin.objective_id.in_([o.id for o in objectives]))
        .order_by(ObjectiveCheckin.id)
    ):
        checkins.setdefault(row.objective_id, []).append(row)
    tips = (
        await session.scalars(
            select(TipReceipt).where(TipReceipt.member_id == member_id).order_by(TipReceipt.id)
        )
    ).all()
    questions = (
        await session.scalars(
            select(Question).where(Question.member_id == member_id).order_by(Question.id)
        )
    ).all()
    observations = (
        await session.scalars(
            select(Observation).where(Observation.member_id == member_id).order_by(Observation.id)
        )
    ).all()
    deliveries = (
        await session.scalars(
            select(Delivery).where(Delivery.member_id == member_id).order_by(Delivery.id)
        )
    ).all()
    challenge_answers = (
        await session.execute(
            select(ChallengeSubmission, Challenge.title)
            .join(Challenge, Challenge.id == ChallengeSubmission.challenge_id)
            .where(ChallengeSubmission.member_id == member_id)
            .order_by(ChallengeSubmission.id)
        )
    ).all()
    actions = (
        await session.scalars(
            select(AuditEntry).where(AuditEntry.actor_id == member_id).order_by(AuditEntry.id)
        )
    ).all()
    drafts: dict[str, Any] = {}
    if member.telegram_user_id is not None:
        drafts = await _ptb_data(session, member.telegram_user_id)
    return {
        "profile": profile,
        "cohorts": [
            {
                "cohort": cohort_name(e.cohort_id),
                "joined_at": _iso(e.joined_at),
                "left_at": _iso(e.left_at),
            }
            for e in enrolments
        ],
        "staff_roles": [
            {"cohort": cohort_name(r.cohort_id), "role": r.role, "granted_at": _iso(r.granted_at)}
            for r in roles
        ],
        "rsvps": [
            {
                "session": session_of(r.session_id),
                "answer": r.answer,
                "answered_at": _iso(r.answered_at),
                "updated_at": _iso(r.updated_at),
            }
            for r in rsvps
        ],
        "attendance": [
            {
                "session": session_of(a.session_id),
                "method": a.method,
                "recorded_at": _iso(a.recorded_at),
            }
            for a in attendance
        ],
        "objectives": [
            {
                "text": o.text,
                "theme": o.theme,
                "measure": o.measure_kind,
                "target_per_week": o.target_per_week,
                "due_on": _iso(o.due_on),
                "status": o.status,
                "created_at": _iso(o.created_at),
                "closed_at": _iso(o.closed_at),
                "checkins": [
                    {
                        "asked_at": _iso(c.asked_at),
                        "answered_at": _iso(c.answered_at),
                        "answer": c.answer,
                        "number": c.number,
                        "blocker": c.blocker,
                    }
                    for c in checkins.get(o.id, [])
                ],
            }
            for o in objectives
        ],
        "tips": [
            {
                "tip": r.tip_id,
                "via": r.via,
                "received_at": _iso(r.received_at),
                "feedback": r.feedback,
                "feedback_at": _iso(r.feedback_at),
            }
            for r in tips
        ],
        "questions": [
            {
                "text": q.text,
                "asked_at": _iso(q.asked_at),
                "answer": q.answer,
                "answered_at": _iso(q.answered_at),
            }
            for q in questions
        ],
        "progress_answers": [
            {
                "metric": o.metric,
                "value": o.value,
                "source": o.source,
                "month": o.period,
                "cohort": cohort_name(o.cohort_id),
                "observed_at": _iso(o.observed_at),
            }
            for o in observations
        ],
        "challenges": [
            {
                "challenge": title,
                "answer": c.answer,
                "proof": c.proof_kind,
                "link": c.link,
                "photo_or_voice_kept_by_telegram": c.file_id is not None,
                "current": c.current,
                "submitted_at": _iso(c.submitted_at),
                "shown_to_the_group": c.consent,
                "bravo_at": _iso(c.bravo_at),
            }
            for c, title in challenge_answers
        ],
        "messages": [
            {
                "kind": d.kind,
                "status": d.status,
                "due_at": _iso(d.due_at),
                "sent_at": _iso(d.sent_at),
            }
            for d in deliveries
        ],
        "staff_actions": [
            {"at": _iso(a.at), "action": a.action, "cohort": cohort_name(a.cohort_id)}
            for a in actions
        ],
        "drafts": drafts,
        "trios": await _trio_data(session, member_id, cohort_name),
    }


async def _trio_data(
    session: AsyncSession, member_id: int, cohort_name: Callable[[int | None], str | None]
) -> dict[str, Any]:
    """Her trios and the one-tap words she sent and received (never the others' names)."""
    from bot.models import Encouragement, Trio, TrioMembership

    memberships = (
        await session.execute(
            select(Trio.cohort_id, Trio.number, TrioMembership.joined_at, TrioMembership.left_at)
            .join(Trio, Trio.id == TrioMembership.trio_id)
            .where(TrioMembership.member_id == member_id, Trio.confirmed_at.is_not(None))
            .order_by(TrioMembership.id)
        )
    ).all()
    words = (
        await session.execute(
            select(Encouragement.sender_id, Encouragement.choice, Encouragement.sent_at)
            .where(
                or_(Encouragement.sender_id == member_id, Encouragement.recipient_id == member_id)
            )
            .order_by(Encouragement.id)
        )
    ).all()
    return {
        "memberships": [
            {
                "cohort": cohort_name(cohort_id),
                "trio": number,
                "joined_at": _iso(joined_at),
                "left_at": _iso(left_at),
            }
            for cohort_id, number, joined_at, left_at in memberships
        ],
        "encouragements_sent": [
            {"word": choice, "at": _iso(at)} for sender, choice, at in words if sender == member_id
        ],
        "encouragements_received": [
            {"word": choice, "at": _iso(at)} for sender, choice, at in words if sender != member_id
        ],
    }


async def _ptb_data(session: AsyncSession, telegram_user_id: int) -> dict[str, Any]:
    """Drafts of guided conversations in progress (PTB's user_data and states)."""
    found: dict[str, Any] = {}
    row = await session.get(UserData, telegram_user_id)
    if row is not None and row.data:
        found["user_data"] = row.data
    states = {
        state.name: state.state.get("state")
        for state in await session.scalars(select(ConversationState))
        if telegram_user_id in _conversation_key(state.key)
    }
    if states:
        found["conversations"] = states
    return found


def _conversation_key(text: str) -> tuple[object, ...]:
    try:
        decoded = json.loads(text)
    except ValueError:
        return ()
    return tuple(decoded) if isinstance(decoded, list) else ()


# --- erasure ------------------------------------------------------------------------------------


@dataclass
class ForgetReport:
    """What an erasure changed, per table (for logs and tests)."""

    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    scrubbed: dict[str, int] = field(default_factory=dict)
    seats_released: int = 0
    deliveries_cancelled: int = 0

    def add(self, bucket: dict[str, int], table: str, count: int) -> None:
        if count:
            bucket[table] = bucket.get(table, 0) + count


def _rowcount(result: Any) -> int:
    return max(cast(CursorResult[Any], result).rowcount or 0, 0)


def _needles(member: Member) -> list[str]:
    """The strings that identify the member: names, username, business name."""
    values = {member.first_name, member.last_name, member.username, member.business_name}
    return sorted({v.strip() for v in values if v and v.strip()}, key=len, reverse=True)


def _pattern(needles: Sequence[str], telegram_user_id: int | None) -> re.Pattern[str] | None:
    parts = [re.escape(n) for n in needles]
    if telegram_user_id is not None:
        parts.append(re.escape(str(telegram_user_id)))
    if not parts:
        return None
    # Whole words only: forgetting "Ana" must not touch "Banane".
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _scrub_json(value: Any, member_id: int, telegram_user_id: int | None, pattern: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                None
                if key in MEMBER_KEYS and _same_int(item, member_id)
                else _scrub_json(item, member_id, telegram_user_id, pattern)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub_json(item, member_id, telegram_user_id, pattern) for item in value]
    if isinstance(value, str):
        return pattern.sub(ERASED, value) if pattern is not None else value
    if telegram_user_id is not None and _same_int(value, telegram_user_id):
        return None
    return value


def _same_int(value: Any, expected: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value == expected


def _variants(needle: str) -> set[str]:
    """Spellings to pre-select rows with LIKE (the regex decides), JSON escapes included."""
    forms = {needle, needle.lower(), needle.upper(), needle.capitalize(), needle.title()}
    return forms | {json.dumps(form)[1:-1] for form in forms}


def _scrubbable_columns() -> list[tuple[Table, Column[Any], bool]]:
    """(table, column, is_json) of every JSON column and every free-text column."""
    found: list[tuple[Table, Column[Any], bool]] = []
    for table in Base.metadata.sorted_tables:
        if table.name == Member.__tablename__:
            continue  # other members' own names are theirs
        for column in table.columns:
            kind = column.type
            if isinstance(kind, JSON):
                found.append((table, column, True))
            elif isinstance(kind, Text) or (
                isinstance(kind, String) and (kind.length or 0) >= FREE_TEXT_MIN_LENGTH
            ):
                found.append((table, column, False))
    return found


async def _scrub_copies(session: AsyncSession, member: Member, report: ForgetReport) -> None:
    """Rewrite JSON and free text that still mention the member (see the module docstring)."""
    needles = _needles(member)
    tid = member.telegram_user_id
    pattern = _pattern(needles, tid)
    likes = set().union(*(_variants(n) for n in needles)) if needles else set()
    if tid is not None:
        likes.add(str(tid))
    for table, column, is_json in _scrubbable_columns():
        as_text: ColumnElement[str] = sql_cast(column, String) if is_json else column
        conditions: list[ColumnElement[bool]] = [
            as_text.contains(like, autoescape=True) for like in sorted(likes)
        ]
        if is_json:
            # A member reference in a JSON object: "...": <id>, with or without a space.
            conditions += [
                as_text.contains(f'_id":{sep}{member.id}', autoescape=True) for sep in ("", " ")
            ]
        if not conditions:
            continue
        keys = list(table.primary_key.columns)
        rows = (await session.execute(select(*keys, column).where(or_(*conditions)))).all()
        changed = 0
        for row in rows:
            value = row[-1]
            if is_json:
                new = _scrub_json(value, member.id, tid, pattern)
            else:
                new = pattern.sub(ERASED, value) if pattern is not None and value else value
            if new == value:
                continue
            where = [key == row[index] for index, key in enumerate(keys)]
            await session.execute(update(table).where(*where).values({column.name: new}))
            changed += 1
        report.add(report.scrubbed, f"{table.name}.{column.name}", changed)


async def _withdraw_upcoming_answers(
    session: AsyncSession, member_id: int, now: datetime, report: ForgetReport
) -> None:
    """Answers for sessions to come: withdrawn, and a freed seat goes to the waiting list."""
    from bot.services.rsvp import promote_waiting

    rows = (
        await session.execute(
            select(Rsvp, TrainingSession)
            .join(TrainingSession, TrainingSession.id == Rsvp.session_id)
            .where(
                Rsvp.member_id == member_id,
                TrainingSession.starts_at > now,
                TrainingSession.cancelled_at.is_(None),
            )
        )
    ).all()
    for rsvp, ts in rows:
        had_seat = rsvp.answer == RsvpAnswer.YES.value
        await session.delete(rsvp)
        await session.flush()
        report.add(report.deleted, Rsvp.__tablename__, 1)
        if had_seat:
            report.seats_released += 1
            await promote_waiting(session, ts, now)


async def _delete_ptb_rows(
    session: AsyncSession, telegram_user_id: int, report: ForgetReport
) -> None:
    result = await session.execute(delete(UserData).where(UserData.user_id == telegram_user_id))
    report.add(report.deleted, UserData.__tablename__, _rowcount(result))
    rows = (
        await session.execute(
            select(ConversationState.name, ConversationState.key).where(
                ConversationState.key.contains(str(telegram_user_id))
            )
        )
    ).all()
    for name, key in rows:
        if telegram_user_id in _conversation_key(key):
            await session.execute(
                delete(ConversationState).where(
                    ConversationState.name == name, ConversationState.key == key
                )
            )
            report.add(report.deleted, ConversationState.__tablename__, 1)


async def _sweep_references(session: AsyncSession, member_id: int, report: ForgetReport) -> None:
    """Every foreign key to members: NULL where allowed, else the row goes (see docstring)."""
    members = cast(Table, Member.__table__)
    # Check-ins go with their objectives (explicitly: no reliance on ON DELETE CASCADE).
    result = await session.execute(
        delete(ObjectiveCheckin).where(
            ObjectiveCheckin.objective_id.in_(
                select(Objective.id).where(Objective.member_id == member_id)
            )
        )
    )
    report.add(report.deleted, ObjectiveCheckin.__tablename__, _rowcount(result))
    for table in reversed(Base.metadata.sorted_tables):
        if table is members:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is not members:
                continue
            column = fk.parent
            if column.nullable:
                result = await session.execute(
                    update(table).where(column == member_id).values({column.name: None})
                )
                report.add(report.anonymised, f"{table.name}.{column.name}", _rowcount(result))
            else:
                result = await session.execute(delete(table).where(column == member_id))
                report.add(report.deleted, table.name, _rowcount(result))


async def forget_member(
    session: AsyncSession, member_id: int, now: datetime, *, reason: str = FORGET_SELF
) -> ForgetReport | None:
    """Erase the member and everything personal about them; None if there is no such member."""
    member = await session.get(Member, member_id)
    if member is None:
        return None
    report = ForgetReport()
    report.deliveries_cancelled = await skip_pending(
        session, reason="member forgotten", member_id=member_id
    )
    await _withdraw_upcoming_answers(session, member_id, now, report)
    await _scrub_copies(session, member, report)
    if member.telegram_user_id is not None:
        await _delete_ptb_rows(session, member.telegram_user_id, report)
    await _sweep_references(session, member_id, report)
    session.expunge(member)
    await session.execute(delete(Member).where(Member.id == member_id))
    report.add(report.deleted, Member.__tablename__, 1)
    await audit(session, None, None, "privacy.forget", {"reason": reason}, at=now)
    return report


async def forget_telegram_user(session: AsyncSession, telegram_user_id: int) -> int:
    """A stranger's drafts (onboarding answers before consent): deleted; returns rows gone."""
    report = ForgetReport()
    await _delete_ptb_rows(session, telegram_user_id, report)
    return sum(report.deleted.values())


async def has_drafts(session: AsyncSession, telegram_user_id: int) -> bool:
    return bool(await _ptb_data(session, telegram_user_id))


# --- retention ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inactivity:
    """A member close to (or past) the end of the retention period."""

    member_id: int
    last_activity: datetime
    erase_on: datetime  # last activity + retention
    warned_at: datetime | None  # the warning sent since the last activity, if any
    warnable: bool  # a chat to write to, and the bot not blocked
    warning_status: str | None  # the warning delivery's status, if one was queued
    warning_queued_at: datetime | None

    @property
    def warning_key(self) -> str:
        return retention_key(self.erase_on)

    def warning_due(self, now: datetime) -> bool:
        return (
            self.warnable
            and self.warned_at is None
            and self.warning_status is None
            and now >= self.erase_on - WARNING_NOTICE
        )

    def erasure_due(self, now: datetime) -> bool:
        if now < self.erase_on:
            return False
        if self.warned_at is not None:
            return now >= self.warned_at + WARNING_NOTICE
        if not self.warnable:
            return True
        # The warning was tried and could not be delivered: a week later, erase anyway.
        return (
            self.warning_status in (DeliveryStatus.FAILED.value, DeliveryStatus.SKIPPED.value)
            and self.warning_queued_at is not None
            and now >= self.warning_queued_at + WARNING_NOTICE
        )


def retention_key(erase_on: datetime) -> str:
    return f"retention-warning:{erase_on.date().isoformat()}"


async def _cohort_activity(session: AsyncSession, member_ids: Sequence[int]) -> dict[int, datetime]:
    """Per member: the latest of joining, getting a role, and their open cohorts' sessions."""
    found: dict[int, datetime] = {}

    def keep(rows: Iterable[Any]) -> None:
        # (member_id, moment) rows
        for member_id, moment in rows:
            if moment is not None and (member_id not in found or moment > found[member_id]):
                found[member_id] = moment

    open_cohort = Cohort.archived_at.is_(None)
    keep(
        (
            await session.execute(
                select(Enrolment.member_id, func.max(TrainingSession.starts_at))
                .join(Cohort, Cohort.id == Enrolment.cohort_id)
                .join(TrainingSession, TrainingSession.cohort_id == Enrolment.cohort_id)
                .where(
                    Enrolment.member_id.in_(member_ids),
                    Enrolment.left_at.is_(None),
                    TrainingSession.cancelled_at.is_(None),
                    open_cohort,
                )
                .group_by(Enrolment.member_id)
            )
        ).all()
    )
    keep(
        (
            await session.execute(
                select(StaffRole.member_id, func.max(TrainingSession.starts_at))
                .join(Cohort, Cohort.id == StaffRole.cohort_id)
                .join(TrainingSession, TrainingSession.cohort_id == StaffRole.cohort_id)
                .where(
                    StaffRole.member_id.in_(member_ids),
                    TrainingSession.cancelled_at.is_(None),
                    open_cohort,
                )
                .group_by(StaffRole.member_id)
            )
        ).all()
    )
    keep(
        (
            await session.execute(
                select(Enrolment.member_id, func.max(Enrolment.joined_at))
                .where(Enrolment.member_id.in_(member_ids))
                .group_by(Enrolment.member_id)
            )
        ).all()
    )
    keep(
        (
            await session.execute(
                select(StaffRole.member_id, func.max(StaffRole.granted_at))
                .where(StaffRole.member_id.in_(member_ids))
                .group_by(StaffRole.member_id)
            )
        ).all()
    )
    return found


async def inactive_members(
    session: AsyncSession, now: datetime, retention_days: int
) -> list[Inactivity]:
    """Members whose erasure date (last activity + retention) is within a week, or past."""
    if retention_days <= 0:
        return []
    retention = timedelta(days=retention_days)
    threshold = now - retention + WARNING_NOTICE
    seen_at = func.coalesce(Member.last_seen_at, Member.created_at)
    candidates = (
        await session.scalars(select(Member).where(seen_at <= threshold).order_by(Member.id))
    ).all()
    if not candidates:
        return []
    found: list[Inactivity] = []
    for start in range(0, len(candidates), 500):
        batch = candidates[start : start + 500]
        activity = await _cohort_activity(session, [m.id for m in batch])
        for member in batch:
            seen = member.last_seen_at or member.created_at
            cohort_activity = activity.get(member.id)
            if cohort_activity is not None and cohort_activity > now:
                continue  # a session to come: their programme is running
            last = max(seen, cohort_activity) if cohort_activity is not None else seen
            if last > threshold:
                continue
            erase_on = last + retention
            warned = member.retention_warned_at
            found.append(
                Inactivity(
                    member_id=member.id,
                    last_activity=last,
                    erase_on=erase_on,
                    warned_at=warned if warned is not None and warned > last else None,
                    warnable=member.chat_id is not None
                    and member.telegram_user_id is not None
                    and member.reachable,
                    warning_status=None,
                    warning_queued_at=None,
                )
            )
    return await _with_warning_deliveries(session, found)


async def _with_warning_deliveries(
    session: AsyncSession, found: list[Inactivity]
) -> list[Inactivity]:
    if not found:
        return found
    rows = (
        await session.execute(
            select(
                Delivery.member_id, Delivery.dedup_key, Delivery.status, Delivery.created_at
            ).where(
                Delivery.member_id.in_([i.member_id for i in found]),
                Delivery.dedup_key.startswith("retention-warning:"),
            )
        )
    ).all()
    queued = {(member_id, key): (status, created) for member_id, key, status, created in rows}
    result = []
    for item in found:
        status, created = queued.get((item.member_id, item.warning_key), (None, None))
        result.append(
            Inactivity(
                member_id=item.member_id,
                last_activity=item.last_activity,
                erase_on=item.erase_on,
                warned_at=item.warned_at,
                warnable=item.warnable,
                warning_status=status,
                warning_queued_at=created,
            )
        )
    return result


def retention_warnings(inactive: Iterable[Inactivity], now: datetime) -> list[Planned]:
    """The warnings due now (idempotent: one key per erasure date)."""
    return [
        Planned(
            member_id=item.member_id,
            kind=NOTICE_KIND,
            dedup_key=item.warning_key,
            due_at=now,
            payload={
                "notice": RETENTION_WARNING,
                "last_activity": item.last_activity.isoformat(),
                "erase_on": item.erase_on.isoformat(),
            },
        )
        for item in inactive
        if item.warning_due(now)
    ]


@dataclass(frozen=True)
class PurgeReport:
    erased: int
    warnings: int
    waiting: int  # inactive members still within their notice period


async def purge_inactive(
    session: AsyncSession, now: datetime, retention_days: int, *, dry_run: bool = False
) -> PurgeReport:
    """Erase the members whose retention period and notice are over; queue due warnings."""
    inactive = await inactive_members(session, now, retention_days)
    due = [item for item in inactive if item.erasure_due(now)]
    warnings = retention_warnings(inactive, now)
    if dry_run:
        return PurgeReport(len(due), len(warnings), len(inactive) - len(due))
    for item in due:
        await forget_member(session, item.member_id, now, reason=FORGET_RETENTION)
    queued = await enqueue(session, warnings)
    return PurgeReport(len(due), queued, len(inactive) - len(due))


async def claim_daily_pass(session: AsyncSession, now: datetime) -> bool:
    """Take today's retention pass (True) unless a process took it within the last day."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    until = now + RETENTION_PASS_EVERY
    statement = (
        insert(Lease)
        .values(name=RETENTION_LEASE, holder="planner", expires_at=until)
        .on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"expires_at": until},
            where=Lease.expires_at <= now,
        )
        .returning(Lease.name)
    )
    return (await session.execute(statement)).first() is not None


async def plan_retention(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    """Planner `retention`: once a day, erase who is due and return the warnings due."""
    days = window.settings.retention_days
    if days <= 0 or not await claim_daily_pass(session, window.now):
        return []
    inactive = await inactive_members(session, window.now, days)
    for item in inactive:
        if item.erasure_due(window.now):
            await forget_member(session, item.member_id, window.now, reason=FORGET_RETENTION)
    return retention_warnings(inactive, window.now)


async def last_activity(session: AsyncSession, member: Member, now: datetime) -> datetime:
    activity = (await _cohort_activity(session, [member.id])).get(member.id)
    seen = member.last_seen_at or member.created_at
    return min(max(seen, activity), now) if activity is not None else seen


async def render_notice(ctx: RenderContext) -> Rendered | Skip:
    """Kind `notice`: the retention warning (payload `notice` says which notice)."""
    payload = ctx.delivery.payload
    if payload.get("notice") != RETENTION_WARNING:
        return Skip(f"unknown notice {payload.get('notice')!r}")
    try:
        planned_from = datetime.fromisoformat(str(payload["last_activity"]))
        erase_on = datetime.fromisoformat(str(payload["erase_on"]))
    except (KeyError, ValueError):
        return Skip("malformed retention warning")
    if await last_activity(ctx.session, ctx.member, ctx.now) > planned_from:
        return Skip("the member was active again")
    t = ctx.t
    # Never sooner than a week after this message (see Inactivity.erasure_due).
    when = max(erase_on, ctx.now + WARNING_NOTICE)
    return Rendered(
        text=t(
            "👋 Bonjour {name},\n\n"
            "Vous n'avez plus utilisé Relais depuis longtemps. Pour protéger vos données, "
            "je les effacerai le <b>{date}</b>.\n\n"
            "Vous souhaitez continuer ? Appuyez simplement sur le bouton ci-dessous.",
            name=ctx.member.first_name,
            date=t.date(when),
        ),
        buttons=buttons.keep_my_data(t),
    )


async def warning_sent(session: AsyncSession, delivery: Delivery, now: datetime) -> None:
    await session.execute(
        update(Member).where(Member.id == delivery.member_id).values(retention_warned_at=now)
    )


def register_deliveries(registry: DeliveryRegistry) -> None:
    """Retention: the daily pass and its warnings (see bot/delivery/features.py)."""
    registry.add_planner("retention", plan_retention)
    # Sent even to a member who paused the bot: they must know before their data goes.
    registry.add_renderer(NOTICE_KIND, render_notice, after_send=warning_sent, when_paused=True)
