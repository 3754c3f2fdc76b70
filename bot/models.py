"""The whole domain as SQLAlchemy 2 typed models.

Times are stored in UTC (timezone-aware in Python, whatever the engine). Enumerations
are short strings validated by the services (see the StrEnums below): adding a value
then needs no migration. Alembic migrations in migrations/ must match these models;
tests/migrations checks that autogenerate finds no difference.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Role(StrEnum):
    MERCHANT = "merchant"
    TRAINER = "trainer"
    COORDINATOR = "coordinator"


class Sector(StrEnum):
    BEAUTY = "beauty"  # hairdresser / beauty
    FOOD = "food"  # food shop
    BOOKS = "books"  # bookshop / gifts
    CLOTHING = "clothing"
    CRAFTS = "crafts"  # crafts / building trades
    PHOTO = "photo"
    LODGING = "lodging"  # holiday lodging / tourism
    HORECA = "horeca"  # restaurant / café
    OTHER = "other"


class RsvpAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    WAITLIST = "waitlist"


class AttendanceMethod(StrEnum):
    QR = "qr"
    ROLL_CALL = "roll_call"
    MANUAL = "manual"


class ObjectiveStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"
    NOT_REACHED = "not_reached"
    CLOSED = "closed"


class MeasureKind(StrEnum):
    COUNT = "count"  # a number per week
    BINARY = "binary"  # done / not done


class CheckinAnswer(StrEnum):
    DONE = "done"
    DOING = "doing"
    STUCK = "stuck"


class DeliveryKind(StrEnum):
    TIP = "tip"
    REMINDER = "reminder"
    CHECKIN = "checkin"
    BROADCAST = "broadcast"
    DIGEST = "digest"
    FOLLOWUP = "followup"
    NOTICE = "notice"
    PROGRESS = "progress"  # the monthly progress check and its reminder
    TRIO = "trio"  # the trio's weekly (monthly in the booster phase) digest
    ENCOURAGEMENT = "encourage"  # a one-tap word from a trio peer
    BOOSTER = "booster"  # the booster phase begins / the farewell at its end
    CHALLENGE = "challenge"  # a challenge reaching a member
    CHALLENGE_REMINDER = "chal_reminder"  # the day before its deadline, to those who did not answer
    SHOWCASE = "showcase"  # the consented proofs of a challenge, shown to the cohort


class EncouragementChoice(StrEnum):
    """The fixed words a trio peer can send (no free text: nothing to moderate)."""

    BRAVO = "bravo"
    COURAGE = "courage"
    TALK = "talk"


class AfterBooster(StrEnum):
    """What a member keeps once the booster phase is over (chosen in /reglages)."""

    MONTHLY = "monthly"  # keep the monthly check
    STOP = "stop"  # stop everything


class ObservationSource(StrEnum):
    BASELINE = "baseline"  # asked at the end of onboarding
    MONTHLY = "monthly"  # the monthly progress check (/point or the outbox)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


def _now() -> datetime:
    return datetime.now(UTC)


class Cohort(Base):
    """A group of merchants following one training programme in one commune."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    commune: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    join_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    archived_at: Mapped[datetime | None]
    # The end of the sessions when the coordinator sets it; NULL: the end of the last session.
    ends_at: Mapped[datetime | None]
    # The end of the booster phase when the coordinator extended or ended it; NULL: the end
    # plus BOOSTER_MONTHS (bot/services/booster.py).
    booster_until: Mapped[datetime | None]


class Member(Base):
    """A person the bot knows: a merchant, a trainer, a coordinator.

    `telegram_user_id` is NULL for someone a trainer added by name at a roll call and who
    never joined the bot, so that attendance counts stay true.
    """

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    first_name: Mapped[str] = mapped_column(String(128))
    last_name: Mapped[str | None] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    business_name: Mapped[str | None] = mapped_column(String(128))
    sector: Mapped[str | None] = mapped_column(String(32))
    commune: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8))
    tip_days: Mapped[str] = mapped_column(String(32))  # "tue,fri"
    tip_time: Mapped[time] = mapped_column(Time())
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    checkins_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_at: Mapped[datetime | None]
    onboarded_at: Mapped[datetime | None]
    active_cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohorts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=_now)
    last_seen_at: Mapped[datetime | None]
    retention_warned_at: Mapped[datetime | None]
    # When the tip planner must look at this member next (bot/delivery/due.py): their next
    # tip moment, NULL when something it depends on changed (the next tick works it out).
    next_tip_at: Mapped[datetime | None] = mapped_column(index=True)
    # When the monthly progress check planner must look at this member next (same rule).
    next_progress_at: Mapped[datetime | None] = mapped_column(index=True)
    # The trio's digest shows this member's facts (objectives set / reached, stuck) to their peers.
    share_with_trio: Mapped[bool] = mapped_column(Boolean, default=True)
    # After the booster phase: AfterBooster ("monthly" / "stop"); NULL: not chosen (monthly).
    after_booster: Mapped[str | None] = mapped_column(String(16))

    enrolments: Mapped[list[Enrolment]] = relationship(
        back_populates="member", cascade="all, delete-orphan", passive_deletes=True
    )
    staff_roles: Mapped[list[StaffRole]] = relationship(
        back_populates="member", cascade="all, delete-orphan", passive_deletes=True
    )


class Enrolment(Base):
    """A merchant's participation in a cohort."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("cohort_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(default=_now)
    left_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship(back_populates="enrolments")
    cohort: Mapped[Cohort] = relationship()


class StaffRole(Base):
    """A trainer or coordinator of one cohort."""

    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("cohort_id", "member_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(default=_now)

    member: Mapped[Member] = relationship(back_populates="staff_roles")
    cohort: Mapped[Cohort] = relationship()


class StaffInvitation(Base):
    """A single-use, expiring link (`/start staff_<token>`) for one cohort and role."""

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(48), unique=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class TrainingSession(Base):
    """One evening session of a cohort, numbered within the cohort."""

    __tablename__ = "training_sessions"
    __table_args__ = (UniqueConstraint("cohort_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(String(200))
    theme_code: Mapped[str | None] = mapped_column(String(48))
    capacity: Mapped[int | None] = mapped_column(Integer)
    checkin_token: Mapped[str] = mapped_column(String(48), unique=True)
    summary: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)
    # Bumped when the session moves, so reminders planned for the old time are told apart.
    revision: Mapped[int] = mapped_column(Integer, default=1)


class Rsvp(Base):
    """A member's answer for one session: yes, no, or on the waiting list."""

    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"))
    # NULL once the member asked to be forgotten: the count stays true, the person is gone.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    answer: Mapped[str] = mapped_column(String(16))
    # Order on the waiting list; the first answer time wins.
    answered_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class Attendance(Base):
    """Presence at a session, recorded by QR check-in, roll call or by hand."""

    __tablename__ = "attendances"
    __table_args__ = (UniqueConstraint("session_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    method: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=_now)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )


class Objective(Base):
    """A concrete objective a merchant set for themself."""

    __tablename__ = "objectives"
    # The check-in planner reads the active objectives that fall due, on this index.
    __table_args__ = (Index("ix_objectives_status_next_checkin_at", "status", "next_checkin_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(String(500))
    theme: Mapped[str | None] = mapped_column(String(48))
    template_code: Mapped[str | None] = mapped_column(String(48))
    measure_kind: Mapped[str] = mapped_column(String(16))
    target_per_week: Mapped[int | None] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date())
    status: Mapped[str] = mapped_column(String(16), default=ObjectiveStatus.ACTIVE)
    carried_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("objectives.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=_now)
    closed_at: Mapped[datetime | None]
    # When the check-in planner must look at this objective next (bot/delivery/due.py);
    # NULL when something it depends on changed (the next tick works it out).
    next_checkin_at: Mapped[datetime | None]

    checkins: Mapped[list[ObjectiveCheckin]] = relationship(
        back_populates="objective",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ObjectiveCheckin.id",
    )


class ObjectiveCheckin(Base):
    """One check-in on an objective: asked (by a delivery), then maybe answered."""

    __tablename__ = "objective_checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(
        ForeignKey("objectives.id", ondelete="CASCADE"), index=True
    )
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(String(16))
    number: Mapped[int | None] = mapped_column(Integer)
    blocker: Mapped[str | None] = mapped_column(String(1000))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)

    objective: Mapped[Objective] = relationship(back_populates="checkins")


class TipReceipt(Base):
    """A tip a member has seen (never sent twice) and what they thought of it."""

    __tablename__ = "tip_receipts"
    __table_args__ = (UniqueConstraint("member_id", "tip_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    tip_id: Mapped[str] = mapped_column(String(64), index=True)
    via: Mapped[str] = mapped_column(String(16))  # drip, astuce, broadcast, stuck
    received_at: Mapped[datetime] = mapped_column(default=_now)
    feedback: Mapped[str | None] = mapped_column(String(8))  # up / down
    feedback_at: Mapped[datetime | None]


class Observation(Base):
    """One dated answer to the progress check: a number or a practice (adopted: 1, not yet: 0).

    Never overwritten: a new answer is a new row, so the history is the curve. `metric` is a
    number's code ("followers", "posts_7d", "customers_month") or "practice:<id>" (the ids of
    content/practices.yaml). `period` is the month the answer stands for ("2026-11"), so a month
    without an answer is a gap, not a zero.
    """

    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_member_id_metric_observed_at", "member_id", "metric", "observed_at"),
        Index("ix_observations_cohort_id_period", "cohort_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    # The cohort the member was in when answering (reports aggregate by cohort).
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"))
    metric: Mapped[str] = mapped_column(String(48))
    value: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(7))
    observed_at: Mapped[datetime] = mapped_column(default=_now)


class Trio(Base):
    """A peer group of a cohort (TRIO_SIZE merchants who encourage each other).

    A trio with `confirmed_at` NULL is a draft the trainer is still looking at (/trios);
    `dissolved_at` is set when a later reshuffle replaced it.
    """

    __tablename__ = "trios"
    __table_args__ = (Index("ix_trios_cohort_id_dissolved_at", "cohort_id", "dissolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    confirmed_at: Mapped[datetime | None]
    dissolved_at: Mapped[datetime | None]

    memberships: Mapped[list[TrioMembership]] = relationship(
        back_populates="trio",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TrioMembership.id",
    )


class TrioMembership(Base):
    """A merchant in a trio; `left_at` when they left it (or the trio was dissolved)."""

    __tablename__ = "trio_memberships"
    __table_args__ = (UniqueConstraint("trio_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trio_id: Mapped[int] = mapped_column(ForeignKey("trios.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(default=_now)
    left_at: Mapped[datetime | None]
    # left (their choice: not put in a trio again), reshuffled, moved (bot/services/trios.py).
    left_reason: Mapped[str | None] = mapped_column(String(16))
    # When the digest planner must look at this membership next (bot/delivery/due.py).
    next_digest_at: Mapped[datetime | None] = mapped_column(index=True)

    trio: Mapped[Trio] = relationship(back_populates="memberships")


class Encouragement(Base):
    """A one-tap word from one trio peer to another (at most one per pair and day)."""

    __tablename__ = "encouragements"
    __table_args__ = (
        UniqueConstraint("sender_id", "recipient_id", "day"),
        Index("ix_encouragements_cohort_id_sent_at", "cohort_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"))
    # NULL once that person asked to be forgotten: the count stays true, the person is gone.
    sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    choice: Mapped[str] = mapped_column(String(16))
    # The sender's local day (the daily cap counts in the cohort's zone).
    day: Mapped[date] = mapped_column(Date())
    sent_at: Mapped[datetime] = mapped_column(default=_now)


class Question(Base):
    """A merchant's question to the cohort's trainers, and the answer."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(2000))
    # A photo or a voice note sent as the question (kept by Telegram file_id, never
    # downloaded); `text` is then its caption, possibly empty.
    media_kind: Mapped[str | None] = mapped_column(String(8))
    media_file_id: Mapped[str | None] = mapped_column(String(256))
    asked_at: Mapped[datetime] = mapped_column(default=_now)
    answer: Mapped[str | None] = mapped_column(String(2000))
    # The trainer may answer with a voice note.
    answer_file_id: Mapped[str | None] = mapped_column(String(256))
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL")
    )


class Broadcast(Base):
    """A trainer's message to (part of) a cohort, sent through the outbox."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    tip_id: Mapped[str | None] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(64))  # all, sector:<code>, attended, missed
    status: Mapped[str] = mapped_column(String(16), default=BroadcastStatus.DRAFT)
    scheduled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class ChallengeAnswer(StrEnum):
    PROOF = "proof"  # a photo, a link or a voice note
    DONE = "done"  # "✅ Done", no proof
    SKIP = "skip"  # "⏭ Not this time"


class ProofKind(StrEnum):
    PHOTO = "photo"
    LINK = "link"
    VOICE = "voice"


class Challenge(Base):
    """A small, concrete task a trainer sets the cohort, with a deadline (issue 13).

    Taken from the library (`library_id`, content/challenges/) or written by the trainer; the
    title and text are copied at creation (in the trainer's language for a written one, the
    library's text in each member's language at send time otherwise).
    """

    __tablename__ = "challenges"
    __table_args__ = (
        Index("ix_challenges_cohort_id_deadline_at", "cohort_id", "deadline_at"),
        # The showcase planner reads the challenges whose deadline passed, not yet shown.
        Index("ix_challenges_showcased_at_deadline_at", "showcased_at", "deadline_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    library_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    proof: Mapped[str] = mapped_column(String(8))  # photo, link, done
    audience: Mapped[str] = mapped_column(String(64))
    timing: Mapped[str] = mapped_column(String(8))  # now, tip (each member's tip time)
    deadline_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=_now)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # How many showcases were planned (each one's dedup_key carries its number).
    showcases: Mapped[int] = mapped_column(Integer, default=0)
    # Set once the automatic showcase after the deadline was planned.
    showcased_at: Mapped[datetime | None]


class ChallengeSubmission(Base):
    """A member's answer to a challenge. A new answer makes the earlier ones history
    (`current` False): the last one counts, the first ones are kept."""

    __tablename__ = "challenge_submissions"
    __table_args__ = (
        Index("ix_challenge_submissions_challenge_id_current", "challenge_id", "current"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(8))  # ChallengeAnswer
    proof_kind: Mapped[str | None] = mapped_column(String(8))  # ProofKind
    file_id: Mapped[str | None] = mapped_column(String(256))
    link: Mapped[str | None] = mapped_column(String(1000))
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    submitted_at: Mapped[datetime] = mapped_column(default=_now)
    # "May I show it to the group?": None not asked / not answered yet.
    consent: Mapped[bool | None] = mapped_column(Boolean)
    consent_at: Mapped[datetime | None]
    bravo_at: Mapped[datetime | None]
    bravo_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    starred_at: Mapped[datetime | None]


class Delivery(Base):
    """The outbox: one scheduled or bulk message to one member.

    `dedup_key` is unique per recipient, so planning is idempotent. Content is rendered
    at send time from `kind` + `payload`, in the member's language.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("member_id", "dedup_key"),
        Index("ix_deliveries_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # When quiet hours do not apply (e.g. the reminder two hours before a session).
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=_now)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )


class AuditEntry(Base):
    """What a staff member did, for `relais audit`."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=_now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConversationState(Base):
    """python-telegram-bot ConversationHandler states (see bot/persistence.py)."""

    __tablename__ = "ptb_conversations"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class UserData(Base):
    """python-telegram-bot user_data, for the draft answers of a conversation in progress."""

    __tablename__ = "ptb_user_data"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class Lease(Base):
    """A named lease with an expiry: one update consumer per bot on SQLite and PostgreSQL."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class SetupCode(Base):
    """A one-time code printed at first run that makes its sender a coordinator."""

    __tablename__ = "setup_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    used_at: Mapped[datetime | None]
