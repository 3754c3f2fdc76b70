"""`/question`: a merchant asks the cohort's trainers; a trainer answers through `qa:<id>`.

Two persistent conversations:
- "question" (merchant): `/question` or the "❓ Poser une question" menu button, then the
  question typed in one message (or `/question <text>` at once), then ✅ send / ✏️ rewrite.
  The trainers get it at once with a "✍️ Répondre" button: it is the reply to the merchant's
  own action, so it is sent directly rather than through the outbox.
- "question_answer" (trainer): the `qa:<question_id>` button, then the answer typed in one
  message, shown back with ✅ send / ✏️ rewrite (so that a text typed for another feature can
  never reach a merchant by mistake). The merchant receives it at once, in a message that says
  it is from their trainer, and the question is marked answered (first answer wins;
  audit-logged by the service).

Callback data: `q:send`, `q:edit`, `q:cancel` (merchant); `qa:<question_id>` and
`qa:<question_id>:send|edit|cancel` (trainer).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import buttons
from bot.callbacks import QA, AnswerQuestion, AnswerStep, Q, QuestionStep
from bot.delivery.registry import Button
from bot.i18n import N_, Html, Translator, escape
from bot.keyboards import keyboard
from bot.runtime import RelaisContext
from bot.services import questions
from bot.services.validation import InvalidValue
from handlers.common import answer_callback, answer_stale, clicked, show, stale
from handlers.menu import ANY_MENU_BUTTON, menu_button

log = logging.getLogger(__name__)

# States of the "question" conversation (merchant).
ASK = "ask"
CHECK = "check"
# States of the "question_answer" conversation (trainer).
ANSWER = "answer"
CHECK_ANSWER = "check_answer"

QUESTION_DRAFT = "question_draft"  # user_data: the question typed, before it is sent
ANSWERING = "answering_question"  # user_data: the question id a trainer is answering
ANSWER_DRAFT = "answer_draft"  # user_data: the answer typed, before it is sent

NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
END = ConversationHandler.END


# --- what the other side reads ----------------------------------------------------------------
def question_text(
    t: Translator, name: str, business: str | None, text: str, media_kind: str | None = None
) -> str:
    """The question as the trainer receives it (in the trainer's language); a photo or a
    voice note follows it, re-sent by its file_id."""
    who = t("{name} ({business})", name=name, business=business) if business else escape(name)
    head = t("❓ <b>Question de {who}</b>", who=Html(who))
    if media_kind == "photo":
        head += "\n" + t("📷 avec une photo (ci-dessous)")
    elif media_kind == "voice":
        head += "\n" + t("🎤 en message vocal (ci-dessous)")
    return head + ("\n\n" + t("« {text} »", text=text) if text else "")


def media_of(message: Message) -> tuple[str, str, str] | None:
    """(kind, file_id, caption) of a photo or a voice note, None for anything else."""
    if message.photo:
        return "photo", message.photo[-1].file_id, message.caption or ""
    if message.voice is not None:
        return "voice", message.voice.file_id, message.caption or ""
    return None


async def send_media(bot: Any, chat_id: int, kind: str, file_id: str, **options: Any) -> None:
    """Re-send a photo or a voice note by its Telegram file_id (never downloaded)."""
    if kind == "photo":
        await bot.send_photo(chat_id, file_id, **options)
    else:
        await bot.send_voice(chat_id, file_id, **options)


def answer_text(t: Translator, trainer: str, view: questions.QuestionView) -> str:
    """The answer as the merchant receives it (in the merchant's language): from the trainer."""
    return "\n\n".join(
        (
            t("💬 <b>Réponse de votre formateur, {trainer}</b>", trainer=trainer),
            t("Votre question : « {text} »", text=view.text)
            if view.text
            else t("Votre question : 📷 / 🎤"),
            t("🎤 Sa réponse en message vocal, ci-dessous.")
            if view.answer_file_id
            else escape(view.answer or ""),
        )
    )


# --- the merchant asks -----------------------------------------------------------------------
async def start(update: Update, context: RelaisContext) -> str:
    context.store.pop(QUESTION_DRAFT, None)
    inline = " ".join(context.args or []) if update.message and context.args else ""
    if inline.strip():
        return await check(update, context, inline)
    await show(
        update,
        context.t(
            "❓ Quelle est votre question pour votre formateur ? "
            "Écrivez-la en un message : il vous répondra ici. (/annuler pour annuler)"
        ),
        edit=False,
    )
    return ASK


async def typed_question(update: Update, context: RelaisContext) -> str:
    return await check(update, context, context.text)


async def media_question(update: Update, context: RelaisContext) -> str:
    """A photo or a voice note as the question (its caption, if any, goes with it)."""
    t = context.t
    media = media_of(context.message)
    if media is None:
        return ASK
    kind, file_id, caption = media
    if len(caption) > questions.QUESTION_MAX:
        await show(update, t("Écrivez votre question en un message."), edit=False)
        return ASK
    context.store[QUESTION_DRAFT] = {"kind": kind, "file_id": file_id, "text": caption.strip()}
    what = t("📷 une photo") if kind == "photo" else t("🎤 un message vocal")
    rows = [
        [
            Button(t(N_("✅ Envoyer")), QuestionStep("send").pack()),
            Button(t(N_("✏️ Réécrire")), QuestionStep("edit").pack()),
        ],
        [Button(t(N_("✖ Annuler")), QuestionStep("cancel").pack())],
    ]
    await show(
        update,
        t("Votre question : {what}\n\nJe l'envoie à votre formateur ?", what=what),
        rows,
        edit=False,
    )
    return CHECK


async def check(update: Update, context: RelaisContext, text: str) -> str:
    t = context.t
    try:
        question = questions.clean_question(text)
    except InvalidValue as exc:
        if exc.too_long:
            reply = t(
                "C'est un peu long pour un message : pouvez-vous la raccourcir "
                "(moins de {n} caractères) ?",
                n=questions.QUESTION_MAX,
            )
        else:
            reply = t("Écrivez votre question en un message.")
        await show(update, reply, edit=False)
        return ASK
    context.store[QUESTION_DRAFT] = question
    rows = [
        [
            Button(t(N_("✅ Envoyer")), QuestionStep("send").pack()),
            Button(t(N_("✏️ Réécrire")), QuestionStep("edit").pack()),
        ],
        [Button(t(N_("✖ Annuler")), QuestionStep("cancel").pack())],
    ]
    await show(
        update,
        t("Votre question :\n« {text} »\n\nJe l'envoie à votre formateur ?", text=question),
        rows,
        edit=False,
    )
    return CHECK


async def rewrite(update: Update, context: RelaisContext) -> str:
    await show(update, context.t("D'accord, écrivez votre question à nouveau."))
    return ASK


async def send(update: Update, context: RelaisContext) -> str | int:
    t = context.t
    actor = context.actor
    me = context.merchant
    draft = context.store.pop(QUESTION_DRAFT, None)
    media_kind = media_file_id = None
    if isinstance(draft, dict):
        text = draft.get("text")
        media_kind, media_file_id = draft.get("kind"), draft.get("file_id")
    else:
        text = draft
    if not isinstance(text, str):
        await answer_stale(update, t)
        return END
    rt = context.rt
    async with rt.db.unit_of_work() as session:
        try:
            question = await questions.ask(
                session,
                member_id=me.member_id,
                cohort_id=me.cohort_id,
                text=text,
                now=rt.clock.now(),
                media_kind=media_kind if isinstance(media_kind, str) else None,
                media_file_id=media_file_id if isinstance(media_file_id, str) else None,
            )
        except (InvalidValue, ValueError):
            await answer_stale(update, t)
            return END
        trainers = await questions.trainers(session, me.cohort_id)
        asker = await questions.for_staff(session, question.id, me.cohort_id)
    delivered = 0
    name = asker.asker_name if asker else ""
    business = asker.business_name if asker else None
    for trainer in trainers:
        trainer_t = rt.i18n(trainer.language, actor.zone)
        body = question_text(trainer_t, name, business, question.text, question.media_kind)
        markup = keyboard([[buttons.reply_to(trainer_t, question.id, name)]])
        try:
            await context.bot.send_message(trainer.chat_id, body, reply_markup=markup)
            if question.media_kind and question.media_file_id:
                await send_media(
                    context.bot, trainer.chat_id, question.media_kind, question.media_file_id
                )
            delivered += 1
        except Forbidden:
            log.info("trainer %s blocked the bot: question %s not delivered", trainer.member_id,
                     question.id)  # fmt: skip
        except TelegramError:
            log.warning("could not send question %s to trainer %s", question.id,
                        trainer.member_id, exc_info=True)  # fmt: skip
    if delivered:
        reply = t("✅ Question envoyée à votre formateur. Sa réponse arrivera ici.")
    else:
        reply = t(
            "✅ Question enregistrée. Votre formateur la verra dans son résumé avant la "
            "prochaine séance, et sa réponse arrivera ici."
        )
    await show(update, reply)
    return END


async def cancel(update: Update, context: RelaisContext) -> int:
    context.store.pop(QUESTION_DRAFT, None)
    await show(update, context.t("D'accord, pas de question pour l'instant."))
    return END


# --- the trainer answers -----------------------------------------------------------------------
async def start_answer(update: Update, context: RelaisContext) -> str | int:
    t = context.t
    button = clicked(update, AnswerQuestion)
    view = None
    if button is not None:
        async with context.rt.db.unit_of_work() as session:
            view = await questions.for_staff(session, button.question_id, context.staff.cohort_id)
    if view is None:
        await answer_callback(update, t("Cette question n'est pas (ou plus) dans votre groupe."))
        return END
    await answer_callback(update)
    if view.answered_at is not None:
        await show(
            update,
            t("Cette question a déjà reçu une réponse :\n« {answer} »", answer=view.answer or ""),
            edit=False,
        )
        return END
    context.store[ANSWERING] = view.id
    await show(
        update,
        t(
            "✍️ Votre réponse à {name} — « {text} »\n\n"
            "Écrivez-la en un message : je la transmets telle quelle. (/annuler pour annuler)",
            name=view.asker_name,
            text=view.text,
        ),
        edit=False,
    )
    return ANSWER


async def typed_answer(update: Update, context: RelaisContext) -> str | int:
    """The answer is shown back with ✅ send / ✏️ rewrite: a text typed here by mistake (meant
    for another feature) never reaches a merchant."""
    t = context.t
    message = context.message
    question_id = context.store.get(ANSWERING)
    if not isinstance(question_id, int):
        return END
    try:
        answer = questions.clean_answer(context.text)
    except InvalidValue as exc:
        if exc.too_long:
            await message.reply_text(
                t("C'est un peu long : moins de {n} caractères, s'il vous plaît.",
                  n=questions.ANSWER_MAX)
            )  # fmt: skip
        return ANSWER
    context.store[ANSWER_DRAFT] = answer
    rows = [
        [
            Button(t(N_("✅ Envoyer")), AnswerStep(question_id, "send").pack()),
            Button(t(N_("✏️ Réécrire")), AnswerStep(question_id, "edit").pack()),
        ],
        [Button(t(N_("✖ Annuler")), AnswerStep(question_id, "cancel").pack())],
    ]
    await show(
        update, t("Votre réponse :\n« {text} »\n\nJe l'envoie ?", text=answer), rows, edit=False
    )
    return CHECK_ANSWER


async def voice_answer(update: Update, context: RelaisContext) -> str | int:
    """A voice note as the answer: shown back with ✅ send / ✏️ rewrite, like a typed one."""
    t = context.t
    question_id = context.store.get(ANSWERING)
    voice = context.message.voice
    if not isinstance(question_id, int) or voice is None:
        return END
    context.store[ANSWER_DRAFT] = {"voice": voice.file_id}
    rows = [
        [
            Button(t(N_("✅ Envoyer")), AnswerStep(question_id, "send").pack()),
            Button(t(N_("✏️ Réécrire")), AnswerStep(question_id, "edit").pack()),
        ],
        [Button(t(N_("✖ Annuler")), AnswerStep(question_id, "cancel").pack())],
    ]
    await show(update, t("Votre réponse : 🎤 un message vocal.\n\nJe l'envoie ?"), rows, edit=False)
    return CHECK_ANSWER


async def rewrite_answer(update: Update, context: RelaisContext) -> str:
    await show(update, context.t("D'accord, écrivez votre réponse à nouveau."))
    return ANSWER


async def send_answer(update: Update, context: RelaisContext) -> int:
    t = context.t
    actor = context.actor
    me = context.staff
    rt = context.rt
    data = context.store
    question_id = data.pop(ANSWERING, None)
    text = data.pop(ANSWER_DRAFT, None)
    voice_file_id = None
    if isinstance(text, dict) and isinstance(text.get("voice"), str):
        voice_file_id, text = text["voice"], "🎤"
    button = clicked(update, AnswerStep)
    if (
        not isinstance(question_id, int)
        or not isinstance(text, str)
        or button is None
        or button.question_id != question_id
    ):
        await answer_stale(update, t)
        return END
    async with rt.db.unit_of_work() as session:
        outcome, view = await questions.answer(
            session,
            question_id=question_id,
            cohort_id=me.cohort_id,
            trainer_id=me.member_id,
            text=text,
            now=rt.clock.now(),
            voice_file_id=voice_file_id,
        )
        trainer = await questions.trainer_name(session, me.member_id)
    if outcome is questions.AnswerOutcome.NOT_FOUND or view is None:
        await show(update, t("Cette question n'est plus dans votre groupe."))
        return END
    if outcome is questions.AnswerOutcome.ALREADY:
        await show(
            update,
            t("Un autre formateur a déjà répondu :\n« {answer} »", answer=view.answer or ""),
        )
        return END
    unreachable = t(
        "Réponse enregistrée, mais {name} ne reçoit plus les messages du bot.",
        name=view.asker_name,
    )
    if view.asker is None:
        await show(update, unreachable)
        return END
    body = answer_text(rt.i18n(view.asker.language, actor.zone), trainer, view)
    try:
        await context.bot.send_message(view.asker.chat_id, body)
        if voice_file_id is not None:
            await send_media(context.bot, view.asker.chat_id, "voice", voice_file_id)
    except Forbidden:
        await show(update, unreachable)
        return END
    await show(update, t("✅ Réponse envoyée à {name}.", name=view.asker_name))
    return END


async def cancel_answer(update: Update, context: RelaisContext) -> int:
    context.store.pop(ANSWERING, None)
    context.store.pop(ANSWER_DRAFT, None)
    await show(update, context.t("D'accord, pas de réponse pour l'instant."))
    return END


# --- registration ------------------------------------------------------------------------------
def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    ask: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("question", start, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & menu_button("question"), start),
        ],
        states={
            ASK: [
                MessageHandler(TYPED, typed_question),
                MessageHandler(NEW_MESSAGE & (filters.PHOTO | filters.VOICE), media_question),
            ],
            CHECK: [
                CallbackQueryHandler(send, pattern=QuestionStep.pattern(step="send")),
                CallbackQueryHandler(rewrite, pattern=QuestionStep.pattern(step="edit")),
            ],
        },
        fallbacks=[
            CallbackQueryHandler(cancel, pattern=QuestionStep.pattern(step="cancel")),
            CommandHandler("annuler", cancel, filters=NEW_MESSAGE),
        ],
        name="question",
        persistent=True,
        allow_reentry=True,
    )
    answer: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[CallbackQueryHandler(start_answer, pattern=AnswerQuestion.pattern())],
        states={
            ANSWER: [
                MessageHandler(TYPED, typed_answer),
                MessageHandler(NEW_MESSAGE & filters.VOICE, voice_answer),
            ],
            CHECK_ANSWER: [
                CallbackQueryHandler(send_answer, pattern=AnswerStep.pattern(step="send")),
                CallbackQueryHandler(rewrite_answer, pattern=AnswerStep.pattern(step="edit")),
            ],
        },
        fallbacks=[
            CallbackQueryHandler(cancel_answer, pattern=AnswerStep.pattern(step="cancel")),
            CommandHandler("annuler", cancel_answer, filters=NEW_MESSAGE),
        ],
        name="question_answer",
        persistent=True,
        allow_reentry=True,
    )
    return [answer, ask]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    # A `q:` or `qa:` button from a conversation already over, or tampered with.
    return [
        CallbackQueryHandler(stale, pattern=Q.pattern),
        CallbackQueryHandler(stale, pattern=QA.pattern),
    ]
