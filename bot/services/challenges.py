"""Challenges: a small task the trainer sets, the proof members send, the bravo, the showcase.

A trainer (or coordinator) sets a challenge for an audience of the cohort, from the library
(content/challenges/) or written by hand, with a deadline (by default the day before the next
session). It reaches each member through the outbox, now or at their own tip time, with a
reminder the day before the deadline to those who have not answered ("not this time" is an
answer). A member answers with a proof (a photo or voice note kept by Telegram `file_id`,
never downloaded; or a link), "done", or "not this time"; a new answer makes the earlier ones
history. Each proof asks "may I show it to the group?" (changeable later). The trainer
congratulates a submission (👏, once) and stars the consented ones (⭐); the showcase sends the
consented photos of a challenge to the cohort as one album, once its deadline passed or when
the trainer asks, with the consent read again at send time (a withdrawn consent is never
shown, an erased member neither: their submissions went with them).

Dedup keys (unique per recipient):

    challenge:<challenge_id>            the challenge itself
    challenge:<challenge_id>:remind     the day before the deadline, if still unanswered
    showcase:<challenge_id>:<n>         the n-th showcase of that challenge

Plain data only: no telegram import; the renderers and the answer buttons of the outbox
messages are here, as in the other areas' services.

Longer than our ~600 lines on purpose: setting, reaching, answering, showing and counting a
challenge are one state machine over two tables; its planners, renderers and the figures
other features read (/progres, /bilan, trios) follow the same rules ("reached" is a sent
delivery, "done" a proof or "done", the last answer counts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import ChallengeAnswerButton, ChallengeConsent
from bot.config import Settings
from bot.content import ContentLibrary
from bot.delivery.outbox import enqueue
from bot.delivery.registry import (
    Button,
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.i18n import N_, Html, Translator, escape
from bot.models import (
    Challenge,
    ChallengeAnswer,
    ChallengeSubmission,
    Cohort,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrolment,
    Member,
    ProofKind,
)
from bot.services import broadcasts, sessions
from bot.services.audit import audit
from bot.services.checkins import member_rhythm, moment_on_or_after
from bot.services.validation import clean_text

CHALLENGE_KIND = DeliveryKind.CHALLENGE.value
REMINDER_KIND = DeliveryKind.CHALLENGE_REMINDER.value
SHOWCASE_KIND = DeliveryKind.SHOWCASE.value
TITLE_MAX = 60
TEXT_MAX = 700
LINK_MAX = 1000
ALBUM_MAX = 10  # Telegram's limit for one media group
CAPTION_MAX = 1024
DEFAULT_DAYS = 7  # without a session ahead, the deadline is a week away
DEADLINE_TIME = time(20, 0)  # the deadline's local hour
REMIND_BEFORE = timedelta(days=1)
TIMINGS = ("now", "tip")
DONE_ANSWERS = (ChallengeAnswer.PROOF.value, ChallengeAnswer.DONE.value)
SENT = DeliveryStatus.SENT.value


def challenge_key(challenge_id: int) -> str:
    return f"challenge:{challenge_id}"


def reminder_key(challenge_id: int) -> str:
    return f"challenge:{challenge_id}:remind"


def showcase_key(challenge_id: int, number: int) -> str:
    return f"showcase:{challenge_id}:{number}"


# -- links ------------------------------------------------------------------------------------

_LINKISH = re.compile(r"^\s*(?:https?://|www\.|[a-z0-9-]+\.(?:com|be|net|org|eu|fr|nl)/)", re.I)


def looks_like_link(text: str) -> bool:
    """Whether a message is probably meant as a link (http(s), www., facebook.com/...)."""
    return bool(_LINKISH.match(text)) and len(text.split()) == 1


class LinkProblem(StrEnum):
    SCHEME = "scheme"  # not http(s)
    TOO_LONG = "too_long"


def clean_link(text: str) -> str | LinkProblem:
    """A proof link: http:// or https://, one word, at most 1,000 characters."""
    link = text.strip()
    if len(link) > LINK_MAX:
        return LinkProblem.TOO_LONG
    if not re.fullmatch(r"https?://[^\s<>\"]+\.[^\s<>\"]+", link, flags=re.I):
        return LinkProblem.SCHEME
    return link


# -- deadlines and defaults -------------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Europe/Brussels")
    except (ValueError, KeyError):
        return ZoneInfo("Europe/Brussels")


async def default_deadline(tx: AsyncSession, cohort_id: int, now: datetime) -> datetime:
    """The day before the next session (at 20:00 in the cohort's zone), else a week from now."""
    cohort = await tx.get(Cohort, cohort_id)
    zone = _zone(cohort.timezone if cohort else None)
    ahead = [s for s in await sessions.upcoming(tx, cohort_id, now, 5) if s.starts_at > now]
    day = (now + timedelta(days=DEFAULT_DAYS)).astimezone(zone).date()
    for upcoming in ahead:
        candidate = upcoming.starts_at.astimezone(zone).date() - timedelta(days=1)
        if candidate > now.astimezone(zone).date():
            day = candidate
            break
    return datetime.combine(day, DEADLINE_TIME, zone)


async def deadline_on(tx: AsyncSession, cohort_id: int, day: date) -> datetime:
    """`day` at the deadline's hour (20:00) in the cohort's zone."""
    cohort = await tx.get(Cohort, cohort_id)
    return datetime.combine(day, DEADLINE_TIME, _zone(cohort.timezone if cohort else None))


async def deadline_choices(tx: AsyncSession, cohort_id: int, now: datetime) -> list[date]:
    """The days a trainer may pick: the default (the day before the next session), in three
    days, in a week, in two weeks — distinct, in order."""
    cohort = await tx.get(Cohort, cohort_id)
    zone = _zone(cohort.timezone if cohort else None)
    today = now.astimezone(zone).date()
    default = (await default_deadline(tx, cohort_id, now)).astimezone(zone).date()
    days = {default, *(today + timedelta(days=n) for n in (3, 7, 14))}
    return sorted(days)


def valid_deadline(day: date, now: datetime, zone_name: str | None = None) -> bool:
    """A picked day (callback data, untrusted): after today, at most 60 days ahead."""
    today = now.astimezone(_zone(zone_name)).date()
    return today < day <= today + timedelta(days=60)


async def suggested_theme(
    tx: AsyncSession, cohort_id: int, now: datetime, library: ContentLibrary
) -> str | None:
    """The theme of the last session that took place (the /defi library opens on it)."""
    last = await sessions.latest_started(tx, cohort_id, now)
    if last is None:
        return None
    if last.theme_code and last.theme_code in library.themes:
        return last.theme_code
    return library.session_theme(last.number)


async def used_library_ids(tx: AsyncSession, cohort_id: int) -> set[str]:
    rows = await tx.scalars(
        select(Challenge.library_id).where(
            Challenge.cohort_id == cohort_id, Challenge.library_id.is_not(None)
        )
    )
    return {row for row in rows.all() if row}


# -- setting a challenge ---------------------------------------------------------------------


def clean_title(text: str) -> str:
    return clean_text(text, max_length=TITLE_MAX)


def clean_body(text: str) -> str:
    return clean_text(text, max_length=TEXT_MAX)


@dataclass(frozen=True)
class Created:
    challenge_id: int
    recipients: int


async def create(
    tx: AsyncSession,
    *,
    cohort_id: int,
    author_id: int | None,
    title: str,
    text: str,
    proof: str,
    audience: str,
    timing: str,
    deadline_at: datetime,
    now: datetime,
    settings: Settings,
    library_id: str | None = None,
) -> Created:
    """Store a challenge and queue it (and its day-before reminder) for its audience.

    Raises ValueError for an unknown audience, timing or proof (callback data is untrusted).
    """
    if broadcasts.parse_audience(audience) is None or timing not in TIMINGS:
        raise ValueError("unknown audience or timing")
    if proof not in ("photo", "link", "done"):
        raise ValueError("unknown proof")
    challenge = Challenge(
        cohort_id=cohort_id,
        author_id=author_id,
        library_id=library_id,
        title=title[:120],
        text=text,
        proof=proof,
        audience=audience,
        timing=timing,
        deadline_at=deadline_at,
        created_at=now,
        recipients=0,
        showcases=0,
    )
    tx.add(challenge)
    await tx.flush()
    member_ids = await broadcasts.recipient_ids(tx, cohort_id, audience, now)
    cohort = await tx.get(Cohort, cohort_id)
    zone_name = cohort.timezone if cohort else settings.timezone
    planned: list[Planned] = []
    members = (
        (await tx.scalars(select(Member).where(Member.id.in_(member_ids)))).all()
        if timing == "tip"
        else []
    )
    due: dict[int, datetime] = {}
    for member in members:
        rhythm = member_rhythm(member, zone_name, settings)
        due[member.id] = moment_on_or_after(now, rhythm.days, rhythm.at, rhythm.zone)
    payload = {"challenge_id": challenge.id}
    for member_id in member_ids:
        planned.append(
            Planned(
                member_id,
                CHALLENGE_KIND,
                challenge_key(challenge.id),
                due.get(member_id, now),
                payload,
            )
        )
        remind_at = deadline_at - REMIND_BEFORE
        if remind_at > now:
            planned.append(
                Planned(member_id, REMINDER_KIND, reminder_key(challenge.id), remind_at, payload)
            )
    await enqueue(tx, planned)
    challenge.recipients = len(member_ids)
    await audit(
        tx,
        author_id,
        cohort_id,
        "challenge.create",
        {"challenge_id": challenge.id, "audience": audience, "recipients": len(member_ids)}
        | ({"library_id": library_id} if library_id else {}),
        at=now,
    )
    await tx.flush()
    return Created(challenge.id, len(member_ids))


async def start_library_challenge(
    tx: AsyncSession,
    cohort_id: int,
    now: datetime,
    *,
    library: ContentLibrary,
    settings: Settings,
    author_id: int | None = None,
    audience: str = broadcasts.ALL,
    timing: str = "tip",
    theme: str | None = None,
    deadline_at: datetime | None = None,
) -> Created | None:
    """Pick a library challenge the cohort has not had yet (of `theme` first, the last
    session's theme otherwise) and plan it; None when the library is used up.

    For the booster phase (issue 14): one challenge a month, at each member's tip time.
    """
    used = await used_library_ids(tx, cohort_id)
    theme = theme or await suggested_theme(tx, cohort_id, now, library)
    fresh = [c for c in library.challenges.values() if c.id not in used]
    if not fresh:
        return None
    fresh.sort(key=lambda c: (c.theme != theme, c.level, c.id))
    chosen = fresh[0]
    return await create(
        tx,
        cohort_id=cohort_id,
        author_id=author_id,
        title=chosen.title("fr"),
        text=chosen.text("fr"),
        proof=chosen.proof,
        audience=audience,
        timing=timing,
        deadline_at=deadline_at or await default_deadline(tx, cohort_id, now),
        now=now,
        settings=settings,
        library_id=chosen.id,
    )


# -- the member's side -----------------------------------------------------------------------


@dataclass(frozen=True)
class MemberChallenge:
    """A challenge as one member sees it."""

    id: int
    title: str
    library_id: str | None
    text: str
    proof: str
    deadline_at: datetime
    answer: str | None  # the current answer, None when not answered
    proof_kind: str | None
    consent: bool | None

    def is_open(self, now: datetime) -> bool:
        return self.deadline_at > now


async def _received_ids(tx: AsyncSession, member_id: int) -> list[int]:
    """The challenges that reached this member (their delivery was sent)."""
    keys = await tx.scalars(
        select(Delivery.dedup_key).where(
            Delivery.member_id == member_id,
            Delivery.kind == CHALLENGE_KIND,
            Delivery.status == SENT,
        )
    )
    return [int(key.split(":")[1]) for key in keys.all()]


async def _current(
    tx: AsyncSession, challenge_id: int, member_id: int
) -> ChallengeSubmission | None:
    return await tx.scalar(
        select(ChallengeSubmission).where(
            ChallengeSubmission.challenge_id == challenge_id,
            ChallengeSubmission.member_id == member_id,
            ChallengeSubmission.current.is_(True),
        )
    )


async def _view(tx: AsyncSession, challenge: Challenge, member_id: int) -> MemberChallenge:
    current = await _current(tx, challenge.id, member_id)
    return MemberChallenge(
        id=challenge.id,
        title=challenge.title,
        library_id=challenge.library_id,
        text=challenge.text,
        proof=challenge.proof,
        deadline_at=challenge.deadline_at,
        answer=current.answer if current else None,
        proof_kind=current.proof_kind if current else None,
        consent=current.consent if current else None,
    )


async def received(tx: AsyncSession, member_id: int) -> list[MemberChallenge]:
    """Every challenge that reached the member, latest deadline first."""
    ids = await _received_ids(tx, member_id)
    if not ids:
        return []
    rows = await tx.scalars(
        select(Challenge).where(Challenge.id.in_(ids)).order_by(Challenge.deadline_at.desc())
    )
    return [await _view(tx, challenge, member_id) for challenge in rows.all()]


async def open_for(tx: AsyncSession, member_id: int, now: datetime) -> list[MemberChallenge]:
    """The member's challenges whose deadline has not passed, soonest deadline first."""
    found = [c for c in await received(tx, member_id) if c.is_open(now)]
    return sorted(found, key=lambda c: (c.deadline_at, c.id))


async def for_member(tx: AsyncSession, member_id: int, challenge_id: int) -> MemberChallenge | None:
    """One challenge, if it reached this member (callback data is untrusted)."""
    if challenge_id not in await _received_ids(tx, member_id):
        return None
    challenge = await tx.get(Challenge, challenge_id)
    return await _view(tx, challenge, member_id) if challenge else None


class Outcome(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"  # never reached this member (or forged)
    CLOSED = "closed"  # the deadline passed
    NOTHING = "nothing"  # no proof to ask about (consent on a skip, ...)


@dataclass(frozen=True)
class Answered:
    outcome: Outcome
    challenge: MemberChallenge | None = None
    submission_id: int | None = None
    replaced: bool = False  # an earlier answer became history


async def answer(
    tx: AsyncSession,
    *,
    member_id: int,
    challenge_id: int,
    answer: ChallengeAnswer,
    now: datetime,
    proof_kind: ProofKind | None = None,
    file_id: str | None = None,
    link: str | None = None,
) -> Answered:
    """Record the member's answer; the last one counts, the earlier ones stay as history."""
    view = await for_member(tx, member_id, challenge_id)
    if view is None:
        return Answered(Outcome.NOT_FOUND)
    if not view.is_open(now):
        return Answered(Outcome.CLOSED, view)
    previous = await _current(tx, challenge_id, member_id)
    consent = None
    if previous is not None:
        previous.current = False
        consent = previous.consent if answer != ChallengeAnswer.SKIP else None
    submission = ChallengeSubmission(
        challenge_id=challenge_id,
        member_id=member_id,
        answer=answer.value,
        proof_kind=proof_kind.value if proof_kind else None,
        file_id=file_id,
        link=link,
        current=True,
        submitted_at=now,
        consent=consent,
        consent_at=now if consent is not None else None,
    )
    tx.add(submission)
    await tx.flush()
    # Later messages about this challenge lose their reason: the reminder is skipped at send
    # time (it reads the answer), nothing to do here.
    return Answered(
        Outcome.OK,
        await for_member(tx, member_id, challenge_id),
        submission.id,
        replaced=previous is not None and previous.answer != ChallengeAnswer.SKIP.value,
    )


async def set_consent(
    tx: AsyncSession, *, member_id: int, challenge_id: int, consent: bool, now: datetime
) -> Answered:
    """ "May I show it to the group?" — on the member's current answer (changeable later)."""
    view = await for_member(tx, member_id, challenge_id)
    if view is None:
        return Answered(Outcome.NOT_FOUND)
    current = await _current(tx, challenge_id, member_id)
    if current is None or current.answer == ChallengeAnswer.SKIP.value:
        return Answered(Outcome.NOTHING, view)
    current.consent = consent
    current.consent_at = now
    if not consent:
        current.starred_at = None
    await tx.flush()
    return Answered(Outcome.OK, await for_member(tx, member_id, challenge_id), current.id)


# -- the trainer's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChallengeFigures:
    id: int
    title: str
    deadline_at: datetime
    recipients: int  # planned
    sent: int  # reached the member
    answered: int  # any answer, "not this time" included (seen, by answer)
    done: int  # a proof or "done"


async def _figures(tx: AsyncSession, challenge: Challenge) -> ChallengeFigures:
    sent = await tx.scalar(
        select(func.count()).where(
            Delivery.dedup_key == challenge_key(challenge.id), Delivery.status == SENT
        )
    )
    rows = (
        await tx.execute(
            select(ChallengeSubmission.answer, func.count())
            .where(
                ChallengeSubmission.challenge_id == challenge.id,
                ChallengeSubmission.current.is_(True),
            )
            .group_by(ChallengeSubmission.answer)
        )
    ).all()
    counts = {answer: int(n) for answer, n in rows}
    return ChallengeFigures(
        id=challenge.id,
        title=challenge.title,
        deadline_at=challenge.deadline_at,
        recipients=challenge.recipients,
        sent=int(sent or 0),
        answered=sum(counts.values()),
        done=sum(n for answer, n in counts.items() if answer in DONE_ANSWERS),
    )


async def list_for_cohort(
    tx: AsyncSession, cohort_id: int, limit: int = 8
) -> list[ChallengeFigures]:
    rows = await tx.scalars(
        select(Challenge)
        .where(Challenge.cohort_id == cohort_id)
        .order_by(Challenge.deadline_at.desc(), Challenge.id.desc())
        .limit(limit)
    )
    return [await _figures(tx, challenge) for challenge in rows.all()]


async def get_in_cohort(tx: AsyncSession, challenge_id: int, cohort_id: int) -> Challenge | None:
    challenge = await tx.get(Challenge, challenge_id)
    return challenge if challenge is not None and challenge.cohort_id == cohort_id else None


async def figures(tx: AsyncSession, challenge_id: int, cohort_id: int) -> ChallengeFigures | None:
    challenge = await get_in_cohort(tx, challenge_id, cohort_id)
    return await _figures(tx, challenge) if challenge else None


@dataclass(frozen=True)
class SubmissionView:
    id: int
    member_id: int
    first_name: str
    business_name: str | None
    answer: str
    proof_kind: str | None
    file_id: str | None
    link: str | None
    submitted_at: datetime
    consent: bool | None
    bravo: bool
    starred: bool


def _submission_view(submission: ChallengeSubmission, member: Member) -> SubmissionView:
    return SubmissionView(
        id=submission.id,
        member_id=member.id,
        first_name=member.first_name,
        business_name=member.business_name,
        answer=submission.answer,
        proof_kind=submission.proof_kind,
        file_id=submission.file_id,
        link=submission.link,
        submitted_at=submission.submitted_at,
        consent=submission.consent,
        bravo=submission.bravo_at is not None,
        starred=submission.starred_at is not None,
    )


async def submissions(
    tx: AsyncSession, challenge_id: int, cohort_id: int
) -> list[SubmissionView] | None:
    """The current answers of a challenge of this cohort (proofs and "done"), latest first."""
    if await get_in_cohort(tx, challenge_id, cohort_id) is None:
        return None
    rows = await tx.execute(
        select(ChallengeSubmission, Member)
        .join(Member, Member.id == ChallengeSubmission.member_id)
        .where(
            ChallengeSubmission.challenge_id == challenge_id,
            ChallengeSubmission.current.is_(True),
            ChallengeSubmission.answer.in_(DONE_ANSWERS),
        )
        .order_by(ChallengeSubmission.submitted_at.desc(), ChallengeSubmission.id.desc())
    )
    return [_submission_view(submission, member) for submission, member in rows.all()]


async def submission_in_cohort(
    tx: AsyncSession, submission_id: int, cohort_id: int
) -> tuple[ChallengeSubmission, Challenge, Member] | None:
    row = (
        await tx.execute(
            select(ChallengeSubmission, Challenge, Member)
            .join(Challenge, Challenge.id == ChallengeSubmission.challenge_id)
            .join(Member, Member.id == ChallengeSubmission.member_id)
            .where(ChallengeSubmission.id == submission_id, Challenge.cohort_id == cohort_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


@dataclass(frozen=True)
class Recipient:
    member_id: int
    chat_id: int
    language: str
    first_name: str


class StaffOutcome(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"
    ALREADY = "already"  # a bravo is sent once
    NO_CONSENT = "no_consent"
    OLD = "old"  # not the member's current answer any more


@dataclass(frozen=True)
class Bravo:
    outcome: StaffOutcome
    recipient: Recipient | None = None
    first_name: str = ""
    title: str = ""
    library_id: str | None = None


async def bravo(
    tx: AsyncSession, *, submission_id: int, cohort_id: int, trainer_id: int, now: datetime
) -> Bravo:
    """Record the trainer's 👏 (once per submission); who to congratulate."""
    found = await submission_in_cohort(tx, submission_id, cohort_id)
    if found is None:
        return Bravo(StaffOutcome.NOT_FOUND)
    submission, challenge, member = found
    base = {
        "first_name": member.first_name,
        "title": challenge.title,
        "library_id": challenge.library_id,
    }
    if submission.bravo_at is not None:
        return Bravo(StaffOutcome.ALREADY, **base)  # type: ignore[arg-type]
    submission.bravo_at = now
    submission.bravo_by_id = trainer_id
    await audit(
        tx, trainer_id, cohort_id, "challenge.bravo", {"submission_id": submission.id}, at=now
    )
    recipient = (
        Recipient(member.id, member.chat_id, member.language, member.first_name)
        if member.chat_id is not None and member.reachable
        else None
    )
    return Bravo(StaffOutcome.OK, recipient, **base)  # type: ignore[arg-type]


async def star(
    tx: AsyncSession, *, submission_id: int, cohort_id: int, now: datetime
) -> tuple[StaffOutcome, bool]:
    """Toggle ⭐ (show first in the showcase): only on a consented, current submission."""
    found = await submission_in_cohort(tx, submission_id, cohort_id)
    if found is None:
        return StaffOutcome.NOT_FOUND, False
    submission = found[0]
    if not submission.current:
        return StaffOutcome.OLD, False
    if not submission.consent:
        return StaffOutcome.NO_CONSENT, False
    submission.starred_at = None if submission.starred_at else now
    await tx.flush()
    return StaffOutcome.OK, submission.starred_at is not None


# -- the showcase ----------------------------------------------------------------------------


async def cohort_members(tx: AsyncSession, cohort_id: int) -> list[int]:
    rows = await tx.scalars(
        select(Member.id)
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(
            Enrolment.cohort_id == cohort_id,
            Enrolment.left_at.is_(None),
            Member.chat_id.is_not(None),
            Member.reachable.is_(True),
            Member.paused.is_(False),
        )
        .order_by(Member.id)
    )
    return list(rows.all())


async def plan_showcase(tx: AsyncSession, challenge: Challenge, now: datetime) -> int:
    """Queue the showcase of a challenge to its cohort (0 when nobody consented yet)."""
    if not await showcase_items(tx, challenge.id):
        return 0
    challenge.showcases += 1
    challenge.showcased_at = challenge.showcased_at or now
    member_ids = await cohort_members(tx, challenge.cohort_id)
    key = showcase_key(challenge.id, challenge.showcases)
    payload: dict[str, Any] = {"challenge_id": challenge.id}
    await enqueue(tx, [Planned(m, SHOWCASE_KIND, key, now, payload) for m in member_ids])
    await tx.flush()
    return len(member_ids)


@dataclass(frozen=True)
class ShowcaseItem:
    first_name: str
    business_name: str | None
    file_id: str | None  # a photo; None for a link, a voice note or "done"


async def showcase_items(tx: AsyncSession, challenge_id: int) -> list[ShowcaseItem]:
    """The consented current answers: starred first, then the latest."""
    rows = await tx.execute(
        select(ChallengeSubmission, Member)
        .join(Member, Member.id == ChallengeSubmission.member_id)
        .where(
            ChallengeSubmission.challenge_id == challenge_id,
            ChallengeSubmission.current.is_(True),
            ChallengeSubmission.consent.is_(True),
            ChallengeSubmission.answer.in_(DONE_ANSWERS),
        )
    )
    found = list(rows.all())
    found.sort(
        key=lambda row: (
            row[0].starred_at is None,
            -row[0].submitted_at.timestamp(),
            -row[0].id,
        )
    )
    return [
        ShowcaseItem(
            member.first_name,
            member.business_name,
            submission.file_id if submission.proof_kind == ProofKind.PHOTO.value else None,
        )
        for submission, member in found
    ]


async def plan_due_showcases(tx: AsyncSession, window: PlanWindow) -> list[Planned]:
    """At a challenge's deadline, its showcase goes to the cohort (once; enqueued here)."""
    rows = await tx.scalars(
        select(Challenge)
        .where(Challenge.showcased_at.is_(None), Challenge.deadline_at <= window.now)
        .limit(50)
    )
    for challenge in rows.all():
        if await plan_showcase(tx, challenge, window.now) == 0:
            challenge.showcased_at = window.now  # nothing to show: do not look again
    return []


# -- figures for other features (/progres, /bilan, trios) -----------------------------------


@dataclass(frozen=True)
class MemberChallengeFigures:
    """`received`: challenges that reached the member; `answered`: any answer, "not this
    time" included; `done`: a proof or "done" (what "taken" means in the showcase)."""

    received: int
    answered: int
    done: int


async def member_challenge_figures(tx: AsyncSession, member_id: int) -> MemberChallengeFigures:
    ids = await _received_ids(tx, member_id)
    rows = (
        await tx.scalars(
            select(ChallengeSubmission.answer).where(
                ChallengeSubmission.member_id == member_id,
                ChallengeSubmission.current.is_(True),
            )
        )
    ).all()
    return MemberChallengeFigures(
        received=len(ids), answered=len(rows), done=sum(1 for a in rows if a in DONE_ANSWERS)
    )


@dataclass(frozen=True)
class CohortChallengeFigures:
    """Counts only: challenges set, deliveries sent, answers, done (a proof or "done")."""

    challenges: int
    sent: int
    answered: int
    done: int
    with_proof: int


def _window(
    statement: Select[Any], column: Any, since: datetime | None, until: datetime | None
) -> Select[Any]:
    if since is not None:
        statement = statement.where(column >= since)
    if until is not None:
        statement = statement.where(column < until)
    return statement


async def cohort_challenge_figures(
    tx: AsyncSession, cohort_id: int, since: datetime | None = None, until: datetime | None = None
) -> CohortChallengeFigures:
    """Challenges whose deadline falls in [since, until), and their answers (counts only)."""
    ids = list(
        (
            await tx.scalars(
                _window(
                    select(Challenge.id).where(Challenge.cohort_id == cohort_id),
                    Challenge.deadline_at,
                    since,
                    until,
                )
            )
        ).all()
    )
    if not ids:
        return CohortChallengeFigures(0, 0, 0, 0, 0)
    sent = 0
    for challenge_id in ids:
        sent += int(
            await tx.scalar(
                select(func.count()).where(
                    Delivery.dedup_key == challenge_key(challenge_id), Delivery.status == SENT
                )
            )
            or 0
        )
    rows = (
        await tx.execute(
            select(ChallengeSubmission.answer, ChallengeSubmission.proof_kind).where(
                ChallengeSubmission.challenge_id.in_(ids), ChallengeSubmission.current.is_(True)
            )
        )
    ).all()
    return CohortChallengeFigures(
        challenges=len(ids),
        sent=sent,
        answered=len(rows),
        done=sum(1 for answer, _ in rows if answer in DONE_ANSWERS),
        with_proof=sum(1 for answer, _ in rows if answer == ChallengeAnswer.PROOF.value),
    )


@dataclass(frozen=True)
class MemberActivity:
    member_id: int
    answered: int  # any answer in the window
    done: int  # a proof or "done" in the window


async def members_challenge_activity(
    tx: AsyncSession, member_ids: Iterable[int], since: datetime, until: datetime
) -> dict[int, MemberActivity]:
    """Who of `member_ids` answered / did a challenge in [since, until) (for the trio digest).
    Members without any answer are in the result with zeros."""
    wanted = sorted(set(member_ids))
    result = {m: MemberActivity(m, 0, 0) for m in wanted}
    if not wanted:
        return result
    rows = await tx.execute(
        select(ChallengeSubmission.member_id, ChallengeSubmission.answer).where(
            ChallengeSubmission.member_id.in_(wanted),
            ChallengeSubmission.current.is_(True),
            and_(
                ChallengeSubmission.submitted_at >= since, ChallengeSubmission.submitted_at < until
            ),
        )
    )
    for member_id, answer_ in rows.all():
        old = result[member_id]
        result[member_id] = MemberActivity(
            member_id, old.answered + 1, old.done + (answer_ in DONE_ANSWERS)
        )
    return result


@dataclass(frozen=True)
class DigestLine:
    """For the trainer's digest: the open (or latest) challenge and who is where."""

    title: str
    deadline_at: datetime
    submitted: tuple[str, ...]  # first names
    stuck: tuple[str, ...]  # reached, no answer yet
    skipped: tuple[str, ...]


def _names(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(escape(name) for name in names[:limit])
    return shown + (f" (+{len(names) - limit})" if len(names) > limit else "")


def digest_part(t: Translator, line: DigestLine) -> str:
    """The challenge's paragraph of the trainer's digest: who submitted, who is stuck."""
    parts = [
        t(
            "<b>🎯 Défi « {title} »</b> (jusqu'au {deadline})",
            title=line.title,
            deadline=t.date(line.deadline_at),
        ),
        t("✅ Relevé par {n} : {names}", n=len(line.submitted), names=Html(_names(line.submitted)))
        if line.submitted
        else t("✅ Personne ne l'a encore relevé."),
    ]
    if line.stuck:
        parts.append(
            t(
                "💤 Pas encore de réponse ({n}) : {names}",
                n=len(line.stuck),
                names=Html(_names(line.stuck)),
            )
        )
    if line.skipped:
        parts.append(t("⏭ Pas cette fois : {n}", n=len(line.skipped)))
    return "\n".join(parts)


async def digest_line(tx: AsyncSession, cohort_id: int, now: datetime) -> DigestLine | None:
    challenge = await tx.scalar(
        select(Challenge)
        .where(Challenge.cohort_id == cohort_id, Challenge.created_at <= now)
        .order_by(Challenge.deadline_at.desc(), Challenge.id.desc())
        .limit(1)
    )
    if challenge is None or challenge.deadline_at < now - timedelta(days=7):
        return None
    reached = (
        await tx.execute(
            select(Member.id, Member.first_name)
            .join(Delivery, Delivery.member_id == Member.id)
            .where(Delivery.dedup_key == challenge_key(challenge.id), Delivery.status == SENT)
            .order_by(Member.first_name, Member.id)
        )
    ).all()
    answers = dict(
        (
            await tx.execute(
                select(ChallengeSubmission.member_id, ChallengeSubmission.answer).where(
                    ChallengeSubmission.challenge_id == challenge.id,
                    ChallengeSubmission.current.is_(True),
                )
            )
        ).all()
    )
    return DigestLine(
        title=challenge.title,
        deadline_at=challenge.deadline_at,
        submitted=tuple(n for m, n in reached if answers.get(m) in DONE_ANSWERS),
        stuck=tuple(n for m, n in reached if m not in answers),
        skipped=tuple(n for m, n in reached if answers.get(m) == ChallengeAnswer.SKIP.value),
    )


# -- rendering (plain data: the dispatcher turns it into a message) ----------------------------


def challenge_title(
    challenge: Challenge | MemberChallenge, library: ContentLibrary, lang: str
) -> str:
    found = library.challenge(challenge.library_id) if challenge.library_id else None
    return found.title(lang) if found else challenge.title


def challenge_body(
    challenge: Challenge | MemberChallenge, library: ContentLibrary, lang: str
) -> str:
    """Telegram HTML: the library's text in `lang`, or the trainer's own (escaped)."""
    found = library.challenge(challenge.library_id) if challenge.library_id else None
    if found is not None:
        return found.text(lang)
    return "🎯 <b>" + escape(challenge.title) + "</b>\n\n" + escape(challenge.text)


def answer_buttons(t: Translator, challenge_id: int) -> list[list[Button]]:
    return [
        [
            Button(
                t(N_("📷 Envoyer ma preuve")), ChallengeAnswerButton(challenge_id, "proof").pack()
            )
        ],
        [
            Button(t(N_("✅ C'est fait")), ChallengeAnswerButton(challenge_id, "done").pack()),
            Button(t(N_("⏭ Pas cette fois")), ChallengeAnswerButton(challenge_id, "skip").pack()),
        ],
    ]


def consent_buttons(t: Translator, challenge_id: int) -> list[list[Button]]:
    return [
        [
            Button(t(N_("👍 Oui")), ChallengeConsent(challenge_id, "yes").pack()),
            Button(t(N_("🙈 Non")), ChallengeConsent(challenge_id, "no").pack()),
        ]
    ]


def deadline_line(t: Translator, deadline_at: datetime) -> str:
    return t("⏳ À faire avant le {when}.", when=t.when(deadline_at))


async def _still_enrolled(tx: AsyncSession, member_id: int, cohort_id: int) -> bool:
    return (
        await tx.scalar(
            select(Enrolment.id).where(
                Enrolment.member_id == member_id,
                Enrolment.cohort_id == cohort_id,
                Enrolment.left_at.is_(None),
            )
        )
    ) is not None


async def _payload_challenge(ctx: RenderContext) -> Challenge | Skip:
    """The challenge a delivery is about (its payload names it), or why it is gone."""
    challenge_id = ctx.delivery.payload.get("challenge_id")
    challenge = (
        await ctx.session.get(Challenge, challenge_id) if isinstance(challenge_id, int) else None
    )
    return Skip("challenge deleted") if challenge is None else challenge


async def render_challenge(ctx: RenderContext, library: ContentLibrary) -> Rendered | Skip:
    challenge = await _payload_challenge(ctx)
    if isinstance(challenge, Skip):
        return challenge
    if challenge.deadline_at <= ctx.now:
        return Skip("deadline passed")
    if not await _still_enrolled(ctx.session, ctx.member.id, challenge.cohort_id):
        return Skip("member left the cohort")
    t = ctx.t
    text = "\n\n".join(
        (challenge_body(challenge, library, t.lang), deadline_line(t, challenge.deadline_at))
    )
    return Rendered(text=text, buttons=answer_buttons(t, challenge.id))


async def render_reminder(ctx: RenderContext, library: ContentLibrary) -> Rendered | Skip:
    challenge = await _payload_challenge(ctx)
    if isinstance(challenge, Skip):
        return challenge
    if challenge.deadline_at <= ctx.now:
        return Skip("deadline passed")
    if challenge.id not in await _received_ids(ctx.session, ctx.member.id):
        return Skip("the challenge has not reached the member")
    if await _current(ctx.session, challenge.id, ctx.member.id) is not None:
        return Skip("already answered")
    t = ctx.t
    text = t(
        "⏰ Petit rappel : le défi « {title} » se termine demain. Une photo, un lien ou un "
        "simple « c'est fait » suffit !",
        title=challenge_title(challenge, library, t.lang),
    )
    return Rendered(text=text, buttons=answer_buttons(t, challenge.id))


NAMES_BUDGET = 700  # characters of names in the caption (Telegram's limit is 1024)


def showcase_caption(
    t: Translator, title: str, done: int, reached: int, items: Sequence[ShowcaseItem]
) -> str:
    """The album's caption: the count, then first names and business names only (as many
    as fit; "+N" for the others, so that the caption stays under Telegram's 1024)."""
    shown: list[str] = []
    used = 0
    for item in items:
        plain = item.first_name + (f" ({item.business_name})" if item.business_name else "")
        if used + len(plain) + 2 > NAMES_BUDGET:
            break
        used += len(plain) + 2
        shown.append(escape(plain))
    names = ", ".join(shown) + (f" (+{len(items) - len(shown)})" if len(shown) < len(items) else "")
    return "\n\n".join(
        (
            t("🏆 <b>Défi « {title} »</b>", title=title[:TITLE_MAX]),
            t.plural(
                "{n} sur {total} a relevé le défi 👏",
                "{n} sur {total} ont relevé le défi 👏",
                done,
                total=reached,
            ),
            t("Bravo à {names} !", names=Html(names)),
        )
    )


async def render_showcase(ctx: RenderContext, library: ContentLibrary) -> Rendered | Skip:
    challenge = await _payload_challenge(ctx)
    if isinstance(challenge, Skip):
        return challenge
    if not await _still_enrolled(ctx.session, ctx.member.id, challenge.cohort_id):
        return Skip("member left the cohort")
    # Consent is read now: a consent withdrawn after planning is respected.
    items = await showcase_items(ctx.session, challenge.id)
    if not items:
        return Skip("no consented submission any more")
    figures_ = await _figures(ctx.session, challenge)
    t = ctx.t
    text = showcase_caption(
        t, challenge_title(challenge, library, t.lang), figures_.done, figures_.sent, items
    )
    photos = tuple(item.file_id for item in items if item.file_id)[:ALBUM_MAX]
    return Rendered(text=text, album=photos)


def register_deliveries(registry: DeliveryRegistry, library: ContentLibrary) -> None:
    async def render_one(ctx: RenderContext) -> Rendered | Skip:
        return await render_challenge(ctx, library)

    async def render_remind(ctx: RenderContext) -> Rendered | Skip:
        return await render_reminder(ctx, library)

    async def render_show(ctx: RenderContext) -> Rendered | Skip:
        return await render_showcase(ctx, library)

    registry.add_planner("challenge_showcases", plan_due_showcases)
    registry.add_renderer(CHALLENGE_KIND, render_one)
    registry.add_renderer(REMINDER_KIND, render_remind)
    registry.add_renderer(SHOWCASE_KIND, render_show)
