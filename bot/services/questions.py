"""Questions: a merchant asks the cohort's trainers; the answer comes back through the bot.

A question belongs to the cohort the merchant is active in; only a trainer of that cohort can
answer it, once (the first answer wins, a second trainer is told it is answered). Answers are
staff actions and go to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Member, Question, Role, StaffRole
from bot.services.audit import audit
from bot.services.validation import clean_text

QUESTION_MAX = 1000
ANSWER_MAX = 1500


@dataclass(frozen=True)
class Recipient:
    """Someone to send a message to (plain data: the handler does the sending)."""

    member_id: int
    chat_id: int
    language: str
    first_name: str


def _recipient(member: Member) -> Recipient | None:
    if member.chat_id is None:
        return None
    return Recipient(member.id, member.chat_id, member.language, member.first_name)


def clean_question(text: str) -> str:
    """Raises bot.services.validation.InvalidValue when empty or too long."""
    return clean_text(text, max_length=QUESTION_MAX)


def clean_answer(text: str) -> str:
    return clean_text(text, max_length=ANSWER_MAX)


MEDIA_KINDS = ("photo", "voice")


async def ask(
    session: AsyncSession,
    *,
    member_id: int,
    cohort_id: int,
    text: str,
    now: datetime,
    media_kind: str | None = None,
    media_file_id: str | None = None,
) -> Question:
    """Store a merchant's question. Raises InvalidValue for an empty or too long text; with a
    photo or a voice note (`media_kind`, its Telegram `media_file_id`) the text is its
    caption and may be empty."""
    if media_kind is not None and (media_kind not in MEDIA_KINDS or not media_file_id):
        raise ValueError("a photo or voice question needs its file id")
    cleaned = clean_question(text) if media_kind is None or text.strip() else ""
    question = Question(
        member_id=member_id,
        cohort_id=cohort_id,
        text=cleaned,
        asked_at=now,
        media_kind=media_kind,
        media_file_id=media_file_id if media_kind else None,
    )
    session.add(question)
    await session.flush()
    return question


async def trainers(session: AsyncSession, cohort_id: int) -> list[Recipient]:
    """The cohort's trainers who can receive a message."""
    rows = await session.scalars(
        select(Member)
        .join(StaffRole, StaffRole.member_id == Member.id)
        .where(
            StaffRole.cohort_id == cohort_id,
            StaffRole.role == Role.TRAINER.value,
            Member.reachable.is_(True),
        )
        .order_by(Member.id)
    )
    return [recipient for member in rows.all() if (recipient := _recipient(member)) is not None]


@dataclass(frozen=True)
class QuestionView:
    id: int
    text: str
    asked_at: datetime
    asker: Recipient | None  # None once the merchant cannot be reached (no chat)
    asker_name: str
    business_name: str | None
    answer: str | None
    answered_at: datetime | None
    media_kind: str | None = None
    media_file_id: str | None = None
    answer_file_id: str | None = None


async def for_staff(
    session: AsyncSession, question_id: int, cohort_id: int | None
) -> QuestionView | None:
    """A question of this cohort (callback data is untrusted: another cohort's is None)."""
    if cohort_id is None:
        return None
    question = await session.get(Question, question_id)
    if question is None or question.cohort_id != cohort_id:
        return None
    member = await session.get(Member, question.member_id)
    if member is None:
        return None
    return QuestionView(
        id=question.id,
        text=question.text,
        asked_at=question.asked_at,
        asker=_recipient(member) if member.reachable else None,
        asker_name=member.first_name,
        business_name=member.business_name,
        answer=question.answer,
        answered_at=question.answered_at,
        media_kind=question.media_kind,
        media_file_id=question.media_file_id,
        answer_file_id=question.answer_file_id,
    )


class AnswerOutcome(StrEnum):
    ANSWERED = "answered"
    ALREADY = "already"  # someone answered first
    NOT_FOUND = "not_found"  # gone, or not this cohort's


async def answer(
    session: AsyncSession,
    *,
    question_id: int,
    cohort_id: int | None,
    trainer_id: int,
    text: str,
    now: datetime,
    voice_file_id: str | None = None,
) -> tuple[AnswerOutcome, QuestionView | None]:
    """Store a trainer's answer (once). Raises InvalidValue for an empty or too long text.
    A voice note answer keeps its Telegram `voice_file_id` (the text is then a marker)."""
    answer_text = clean_answer(text)
    view = await for_staff(session, question_id, cohort_id)
    if view is None:
        return AnswerOutcome.NOT_FOUND, None
    if view.answered_at is not None:
        return AnswerOutcome.ALREADY, view
    question = await session.get(Question, question_id)
    assert question is not None
    question.answer = answer_text
    question.answer_file_id = voice_file_id
    question.answered_at = now
    question.answered_by_id = trainer_id
    await audit(
        session, trainer_id, question.cohort_id, "question.answer", {"question_id": question.id},
        at=now,
    )  # fmt: skip
    answered = await for_staff(session, question_id, cohort_id)
    return AnswerOutcome.ANSWERED, answered


async def trainer_name(session: AsyncSession, member_id: int) -> str:
    member = await session.get(Member, member_id)
    return member.first_name if member else ""
