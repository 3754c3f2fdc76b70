"""`/diffuser` (trainer): write, choose the audience, see the exact preview, send or schedule.

The guided flow is a persistent conversation (it survives a restart)::

    /diffuser ─▶ WRITE ─▶ AUDIENCE ─▶ CONFIRM ─┬─ ✅ send now ─────────────▶ END
               (a text, or  (buttons with   (preview +  └─ 🕒 schedule ─▶ WHEN ─▶ END
                a photo with  the number of   the number    (suggested times, or
                a caption)    recipients)     of recipients) a typed JJ/MM HH:MM)

The draft is a `Broadcast` row (status draft) whose id travels in the buttons. The text is
made from the trainer's own message with PTB's `text_html` / `caption_html`: what they typed
is escaped and their formatting (bold, italics, links) is kept as Telegram HTML, so the text is
always valid; it is still checked (`validate_html`) and measured, and a caption over 1024
characters is refused at once. The preview is sent with the very calls the outbox uses, so
it is exactly what recipients get.

Outside the flow:

    bc:<id>:progress          how far a broadcast got (refreshable)
    bc:<id>:cancel            cancel a scheduled broadcast (until its first message leaves)
    bc:lib | bc:th:<theme> | bc:tip:<tip_id>    the library of tips, theme by theme
    bc:push:<tip_id> → bc:pushok:<tip_id> | bc:pushx   send one tip to the whole cohort

Every button is re-checked: the access gate requires a trainer of the active cohort, and the
broadcast must belong to that cohort (and, for a draft, to its author).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import (
    BC,
    BroadcastAction,
    DraftAudience,
    DraftStep,
    DraftTime,
    Library,
    LibraryTheme,
    LibraryTip,
    PushTip,
    PushTipCancel,
    PushTipConfirm,
)
from bot.delivery.quiet import quiet_until
from bot.delivery.registry import Button, Rendered
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.models import Broadcast
from bot.runtime import RelaisContext
from bot.services import broadcasts, tips
from bot.services.broadcasts import (
    ALL,
    ATTENDED,
    MISSED,
    SECTOR_PREFIX,
    AudienceCount,
    CancelOutcome,
    ScheduleProblem,
    TextProblem,
    WhenProblem,
)
from bot.services.members import parse_sector
from handlers.common import answer_callback, clicked, clicked_in, stale
from handlers.menu import ANY_MENU_BUTTON, menu_button
from handlers.onboarding import SECTOR_LABELS
from handlers.tips import library, stats_block

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
OTHER_MEDIA = NEW_MESSAGE & ~filters.TEXT & ~filters.PHOTO & ~filters.COMMAND

# States of the conversation (strings: stored as they are by the persistence).
WRITE, AUDIENCE, CONFIRM, WHEN = "write", "audience", "confirm", "when"
END = ConversationHandler.END
# context.user_data key: the id of the draft being written.
DRAFT_KEY = "broadcast_draft"

# Audience codes in callback data (`bc:<id>:a:<code>`) <-> Broadcast.audience.
_SHORT = {ALL: "all", ATTENDED: "att", MISSED: "mis"}
_LONG = {short: audience for audience, short in _SHORT.items()}


def audience_code(audience: str) -> str:
    if audience.startswith(SECTOR_PREFIX):
        return "s-" + audience[len(SECTOR_PREFIX) :]
    return _SHORT[audience]


def audience_from_code(code: str) -> str | None:
    if code.startswith("s-"):
        return broadcasts.parse_audience(SECTOR_PREFIX + code[2:])
    return _LONG.get(code)


def audience_label(t: Translator, audience: str) -> str:
    if audience == ALL:
        return t("👥 Tout le groupe")
    if audience == ATTENDED:
        return t("✅ Présents à la dernière séance")
    if audience == MISSED:
        return t("🕳 Absents à la dernière séance")
    sector = parse_sector(audience[len(SECTOR_PREFIX) :])
    return t(SECTOR_LABELS[sector]) if sector is not None else audience


# --- small helpers ----------------------------------------------------------------------------


async def _say(
    update: Update, context: RelaisContext, text: str, rows: Sequence[Sequence[Button]] = ()
) -> Message:
    return await context.bot.send_message(context.chat_id, text, reply_markup=keyboard(rows))


async def _show(
    update: Update, context: RelaisContext, text: str, rows: Sequence[Sequence[Button]] = ()
) -> None:
    """Replace the message of the pressed button (or send a new one)."""
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=keyboard(rows))
            return
        except BadRequest as exc:  # unchanged, too old, or a photo
            if "not modified" in str(exc).lower():
                return
            log.debug("could not edit, sending instead: %s", exc)
    await _say(update, context, text, rows)


async def _drop_buttons(update: Update) -> None:
    """An answered step loses its buttons, so that it cannot be pressed twice."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest:
        log.debug("could not remove the buttons of an answered step", exc_info=True)


async def send_rendered(context: RelaisContext, chat_id: int, rendered: Rendered) -> Message:
    """Send as the outbox dispatcher does (bot/delivery/dispatcher.py): same calls, same text."""
    if rendered.photo is not None:
        return await context.bot.send_photo(
            chat_id, photo=rendered.photo, caption=rendered.text or None, reply_markup=None
        )
    return await context.bot.send_message(chat_id, rendered.text)


def _zone(context: RelaisContext) -> ZoneInfo:
    return ZoneInfo(context.actor.zone)


def progress_buttons(t: Translator, broadcast: Broadcast) -> list[list[Button]]:
    rows: list[list[Button]] = []
    if broadcast.status == broadcasts.SCHEDULED:
        rows.append(
            [
                Button(
                    t("❌ Annuler cet envoi"),
                    callback_data=BroadcastAction(broadcast.id, "cancel").pack(),
                )
            ]
        )
    if broadcast.status in (broadcasts.SCHEDULED, broadcasts.SENDING):
        rows.append([Button(t("🔄 Actualiser"), BroadcastAction(broadcast.id, "progress").pack())])
    return rows


def progress_button(t: Translator, broadcast_id: int) -> list[list[Button]]:
    return [[Button(t("📊 Voir la progression"), BroadcastAction(broadcast_id, "progress").pack())]]


# --- WRITE ----------------------------------------------------------------------------------


async def start(update: Update, context: RelaisContext) -> str | int:
    message = context.message
    t = context.t
    if context.actor.active_cohort_id is None:
        await message.reply_text(t("Vous ne faites partie d'aucun groupe pour le moment."))
        return END
    context.store.pop(DRAFT_KEY, None)
    await message.reply_text(
        t(
            "📣 <b>Un message pour le groupe</b>\n"
            "Écrivez-le ici : un texte, ou une photo avec une légende. "
            "Je vous montre l'aperçu avant tout envoi.\n"
            "/annuler pour arrêter."
        ),
        reply_markup=keyboard(
            [[Button(t("📚 Ou choisir une astuce de la bibliothèque"), Library().pack())]]
        ),
    )
    return WRITE


def explain_text(t: Translator, problem: TextProblem, limit: int, length: int) -> str:
    if problem is TextProblem.TOO_LONG and limit == broadcasts.MAX_CAPTION:
        return t(
            "Cette légende fait {length} caractères : sous une photo, Telegram en accepte "
            "{limit} au plus. Raccourcissez-la et renvoyez la photo, ou envoyez le texte seul "
            "(jusqu'à 4096 caractères).",
            length=length,
            limit=limit,
        )
    if problem is TextProblem.TOO_LONG:
        return t(
            "Ce message fait {length} caractères : {limit} au plus. Raccourcissez-le.",
            length=length,
            limit=limit,
        )
    if problem is TextProblem.INVALID:
        return t(
            "Je ne peux pas envoyer ce texte tel quel : sa mise en forme pose problème. "
            "Renvoyez-le sans mise en forme."
        )
    return t("Je n'ai rien reçu à envoyer : écrivez un texte ou envoyez une photo.")


async def _take_draft(
    update: Update, context: RelaisContext, text: str | None, photo_file_id: str | None
) -> str:
    t = context.t
    problem = broadcasts.check_text(text, photo=photo_file_id is not None)
    if problem is not None:
        message = update.effective_message
        shown = (message.caption if photo_file_id else message.text) if message else ""
        length = len((shown or "").encode("utf-16-le")) // 2
        await _say(update, context, explain_text(t, problem[0], problem[1], length))
        return WRITE
    me = context.staff
    async with context.rt.db.unit_of_work() as session:
        draft = await broadcasts.create_draft(
            session,
            cohort_id=me.cohort_id,
            author_id=me.member_id,
            text=text,
            photo_file_id=photo_file_id,
            now=context.rt.clock.now(),
        )
    context.store[DRAFT_KEY] = draft.id
    return await ask_audience(update, context, draft.id)


async def got_text(update: Update, context: RelaisContext) -> str:
    message = context.message
    return await _take_draft(update, context, message.text_html, None)


async def got_photo(update: Update, context: RelaisContext) -> str:
    message = context.message
    assert message.photo
    caption = message.caption_html if message.caption else None
    return await _take_draft(update, context, caption, message.photo[-1].file_id)


async def other_media(update: Update, context: RelaisContext) -> str:
    await _say(
        update,
        context,
        context.t(
            "Je peux diffuser un texte, ou une photo avec une légende : envoyez l'un des deux."
        ),
    )
    return WRITE


# --- AUDIENCE --------------------------------------------------------------------------------


def audience_button(t: Translator, draft_id: int, choice: AudienceCount) -> Button:
    return Button(
        f"{audience_label(t, choice.audience)} ({choice.recipients})",
        callback_data=DraftAudience(draft_id, audience_code(choice.audience)).pack(),
    )


async def ask_audience(update: Update, context: RelaisContext, draft_id: int) -> str:
    t = context.t
    cohort_id = context.staff.cohort_id
    async with context.rt.db.unit_of_work() as session:
        choices = await broadcasts.audience_choices(session, cohort_id, context.rt.clock.now())
    rows = [[audience_button(t, draft_id, choice)] for choice in choices]
    rows.append([Button(t("❌ Annuler"), DraftStep(draft_id, "x").pack())])
    await _say(
        update,
        context,
        t("À qui l'envoyer ? Entre parenthèses, le nombre de personnes qui le recevront."),
        rows,
    )
    return AUDIENCE


def _draft_button(update: Update) -> DraftAudience | DraftStep | DraftTime | None:
    """The pressed button of a step of the flow (they all name the draft)."""
    button = clicked_in(update, BC)
    return button if isinstance(button, DraftAudience | DraftStep | DraftTime) else None


async def _own_draft(
    update: Update, context: RelaisContext, session: AsyncSession
) -> Broadcast | None:
    """The draft named by the pressed button, if it is the actor's, in their cohort."""
    button = _draft_button(update)
    if button is None:
        return None
    me = context.staff
    return await broadcasts.get_draft(session, button.draft_id, me.cohort_id, me.member_id)


async def chose_audience(update: Update, context: RelaisContext) -> str | None:
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        draft = await _own_draft(update, context, session)
        button = clicked(update, DraftAudience)
        audience = audience_from_code(button.audience) if button is not None else None
        if draft is None or audience is None:
            count = None
        else:
            count = await broadcasts.count_audience(
                session, draft.cohort_id, audience, context.rt.clock.now()
            )
            if count.recipients > 0:
                draft.audience = audience
    if draft is None or count is None:
        await stale(update, context)
        return None
    if count.recipients == 0:
        await answer_callback(
            update, t("Personne ne le recevrait : choisissez un autre public."), alert=True
        )
        return None
    await answer_callback(update)
    await _drop_buttons(update)
    return await show_preview(update, context, draft, count)


async def show_preview(
    update: Update, context: RelaisContext, draft: Broadcast, count: AudienceCount
) -> str:
    t = context.t
    chat_id = context.chat_id
    await _say(
        update,
        context,
        t.plural(
            "👀 <b>Aperçu</b> : voici exactement ce que recevra {n} personne 👇",
            "👀 <b>Aperçu</b> : voici exactement ce que recevront {n} personnes 👇",
            count.recipients,
        ),
    )
    await send_rendered(context, chat_id, broadcasts.broadcast_message(draft))
    # The label is computed first: a call taking `t` inside `t.plural(...)` hides the plural
    # from the message extractor.
    label = audience_label(t, draft.audience)
    lines = [
        t.plural(
            "Envoyer à « {audience} » : {n} personne ?",
            "Envoyer à « {audience} » : {n} personnes ?",
            count.recipients,
            audience=label,
        )
    ]
    if count.unreachable:
        lines.append(
            t.plural(
                "({n} autre personne de ce public ne le recevra pas : en pause, "
                "ou elle a bloqué le bot.)",
                "({n} autres personnes de ce public ne le recevront pas : en pause, "
                "ou elles ont bloqué le bot.)",
                count.unreachable,
            )
        )
    quiet = context.rt.settings.quiet_window
    if quiet is not None:
        until = quiet_until(context.rt.clock.now(), _zone(context), quiet)
        if until is not None:
            lines.append(
                t(
                    "🌙 C'est l'heure calme : un envoi maintenant partira à {time}.",
                    time=t.time(until),
                )
            )
    rows = [
        [
            Button(t("✅ Envoyer maintenant"), DraftStep(draft.id, "now").pack()),
            Button(t("🕒 Programmer"), DraftStep(draft.id, "sched").pack()),
        ],
        [Button(t("❌ Annuler"), DraftStep(draft.id, "x").pack())],
    ]
    await _say(update, context, "\n".join(lines), rows)
    return CONFIRM


# --- CONFIRM ---------------------------------------------------------------------------------


async def send_now(update: Update, context: RelaisContext) -> str | int | None:
    t = context.t
    me = context.staff
    async with context.rt.db.unit_of_work() as session:
        draft = await _own_draft(update, context, session)
        count = (
            await broadcasts.start(
                session, draft, actor_id=me.member_id, now=context.rt.clock.now()
            )
            if draft is not None
            else None
        )
    if draft is None or count is None:
        await stale(update, context)
        return None
    await answer_callback(update)
    await _drop_buttons(update)
    if count == 0:
        await _say(
            update, context, t("Personne ne le recevrait pour le moment : rien n'est parti.")
        )
        return None
    context.rt.wake_dispatcher()
    context.store.pop(DRAFT_KEY, None)
    await _say(
        update,
        context,
        t.plural(
            "📣 C'est parti, vers {n} personne ! Je vous envoie le bilan quand tout est parti.",
            "📣 C'est parti, vers {n} personnes ! Je vous envoie le bilan quand tout est parti.",
            count,
        ),
        progress_button(t, draft.id),
    )
    return END


def when_label(t: Translator, moment: datetime, now: datetime) -> str:
    days = (t.local(moment).date() - t.local(now).date()).days
    if days == 0:
        return t("Aujourd'hui à {time}", time=t.time(moment))
    if days == 1:
        return t("Demain à {time}", time=t.time(moment))
    return t.when(moment)


def _example(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d/%m %H:%M")


async def ask_when(update: Update, context: RelaisContext) -> str | None:
    t = context.t.with_zone(_zone(context))
    async with context.rt.db.unit_of_work() as session:
        draft = await _own_draft(update, context, session)
    if draft is None:
        await stale(update, context)
        return None
    await answer_callback(update)
    await _drop_buttons(update)
    now = context.rt.clock.now()
    zone = _zone(context)
    moments = broadcasts.suggested_times(now, zone, context.rt.settings.quiet_window)
    rows = [
        [
            Button(
                when_label(t, moment, now),
                callback_data=DraftTime(draft.id, moment).pack(),
            )
        ]
        for moment in moments
    ]
    rows.append([Button(t("❌ Annuler"), DraftStep(draft.id, "x").pack())])
    example = _example(moments[0] if moments else now + timedelta(days=1), zone)
    await _say(
        update,
        context,
        t(
            "🕒 Quand l'envoyer ? Choisissez, ou écrivez la date et l'heure, "
            "par exemple {example}.",
            example=example,
        ),
        rows,
    )
    return WHEN


# --- WHEN ------------------------------------------------------------------------------------


def explain_schedule(t: Translator, problem: ScheduleProblem, context: RelaisContext) -> str:
    if problem is ScheduleProblem.TOO_SOON:
        return t(
            "Choisissez un moment au moins {minutes} minutes plus tard, ou envoyez maintenant.",
            minutes=int(broadcasts.SCHEDULE_MIN_AHEAD.total_seconds() // 60),
        )
    if problem is ScheduleProblem.TOO_FAR:
        return t(
            "C'est dans plus de {days} jours : choisissez une date plus proche.",
            days=broadcasts.SCHEDULE_MAX_AHEAD.days,
        )
    quiet = context.rt.settings.quiet_window
    assert quiet is not None
    return t(
        "Entre {start} et {end}, c'est l'heure calme : je n'envoie rien. "
        "Choisissez une autre heure.",
        start=t.time(quiet[0]),
        end=t.time(quiet[1]),
    )


async def _schedule(
    update: Update, context: RelaisContext, draft_id: int, at: datetime
) -> str | int:
    t = context.t.with_zone(_zone(context))
    me = context.staff
    async with context.rt.db.unit_of_work() as session:
        draft = await broadcasts.get_draft(session, draft_id, me.cohort_id, me.member_id)
        outcome: ScheduleProblem | int | None = None
        if draft is not None:
            outcome = await broadcasts.schedule(
                session,
                draft,
                at,
                actor_id=me.member_id,
                now=context.rt.clock.now(),
                zone=_zone(context),
                quiet=context.rt.settings.quiet_window,
            )
    if draft is None or outcome is None:
        await _say(update, context, t("Ce brouillon n'existe plus : recommencez avec /diffuser."))
        context.store.pop(DRAFT_KEY, None)
        return END
    if isinstance(outcome, ScheduleProblem):
        await _say(update, context, explain_schedule(t, outcome, context))
        return WHEN
    context.store.pop(DRAFT_KEY, None)
    await _say(
        update,
        context,
        t.plural(
            "🕒 C'est programmé pour le {when}, vers {n} personne à ce jour. "
            "Vous pouvez l'annuler jusqu'au départ.",
            "🕒 C'est programmé pour le {when}, vers {n} personnes à ce jour. "
            "Vous pouvez l'annuler jusqu'au départ.",
            outcome,
            when=t.when(at),
        ),
        [
            [Button(t("❌ Annuler cet envoi"), BroadcastAction(draft_id, "cancel").pack())],
            progress_button(t, draft_id)[0],
        ],
    )
    return END


async def chose_time(update: Update, context: RelaisContext) -> str | int | None:
    async with context.rt.db.unit_of_work() as session:
        draft = await _own_draft(update, context, session)
    button = clicked(update, DraftTime)
    if draft is None or button is None:
        await stale(update, context)
        return None
    await answer_callback(update)
    await _drop_buttons(update)
    return await _schedule(update, context, draft.id, button.at)


async def typed_time(update: Update, context: RelaisContext) -> str | int:
    message = context.message
    t = context.t
    draft_id = context.store.get(DRAFT_KEY)
    if not isinstance(draft_id, int):
        await _say(update, context, t("Ce brouillon n'existe plus : recommencez avec /diffuser."))
        return END
    now = context.rt.clock.now()
    when = broadcasts.parse_when(message.text or "", context.actor.zone, now)
    if isinstance(when, WhenProblem):
        if when is WhenProblem.IMPOSSIBLE:
            text = t("Cette date n'existe pas dans le calendrier : vérifiez le jour et le mois.")
        elif when is WhenProblem.NONEXISTENT:
            text = t(
                "Cette heure n'existe pas ce jour-là (passage à l'heure d'été) : "
                "choisissez-en une autre."
            )
        else:
            text = t(
                "Je n'ai pas compris. Écrivez la date et l'heure comme ceci : {example}.",
                example=_example(now + timedelta(days=1), _zone(context)),
            )
        await _say(update, context, text)
        return WHEN
    return await _schedule(update, context, draft_id, when)


# --- leaving the flow ------------------------------------------------------------------------


async def discard(update: Update, context: RelaisContext) -> int:
    """❌ or /annuler: the draft is dropped, nothing is sent."""
    await answer_callback(update)
    await _drop_buttons(update)
    draft_id = context.store.pop(DRAFT_KEY, None)
    button = _draft_button(update)
    if button is not None:
        draft_id = button.draft_id
    me = context.staff
    if isinstance(draft_id, int):
        async with context.rt.db.unit_of_work() as session:
            draft = await broadcasts.get_draft(session, draft_id, me.cohort_id, me.member_id)
            if draft is not None:
                await broadcasts.discard_draft(session, draft)
    await _say(update, context, context.t("D'accord, je n'envoie rien."))
    return END


async def use_buttons(update: Update, context: RelaisContext) -> None:
    """Something typed where a button is expected."""
    await _say(
        update,
        context,
        context.t("Choisissez avec les boutons ci-dessus 🙂 (/annuler pour arrêter)."),
    )


# --- the library of tips -----------------------------------------------------------------


async def show_library(update: Update, context: RelaisContext) -> None:
    t = context.t
    lib = library(context)
    await answer_callback(update)
    rows = [
        [
            Button(
                f"{lib.theme_name(theme, t.lang)} ({len(lib.tips_for(theme=theme))})",
                callback_data=LibraryTheme(theme).pack(),
            )
        ]
        for theme in lib.themes
        if lib.tips_for(theme=theme)
    ]
    text = t("📚 <b>La bibliothèque d'astuces</b>\nChoisissez un thème :")
    cohort_id = context.actor.active_cohort_id
    if cohort_id is not None:
        # What the merchants thought of the tips so far (/stats is the coordinator's).
        text = await stats_block(context, cohort_id) + "\n\n" + text
    await _show(update, context, text, rows)


async def library_from_draft(update: Update, context: RelaisContext) -> int:
    """The 📚 button of the first step: the flow ends, the library opens."""
    context.store.pop(DRAFT_KEY, None)
    await show_library(update, context)
    return END


async def show_theme(update: Update, context: RelaisContext, theme: str) -> None:
    t = context.t
    lib = library(context)
    found = sorted(lib.tips_for(theme=theme), key=lambda tip: (tip.level, tip.session, tip.id))
    if not found:
        await stale(update, context)
        return
    await answer_callback(update)
    rows = [
        [Button(tips.tip_title(lib, tip, t.lang, limit=40), LibraryTip(tip.id).pack())]
        for tip in found
    ]
    rows.append([Button(t("⬅️ Tous les thèmes"), Library().pack())])
    await _show(
        update,
        context,
        t("📚 <b>{theme}</b>\nChoisissez une astuce :", theme=lib.theme_name(theme, t.lang)),
        rows,
    )


async def show_tip(update: Update, context: RelaisContext, tip_id: str) -> None:
    t = context.t
    lib = library(context)
    tip = lib.tip(tip_id)
    if tip is None:
        await stale(update, context)
        return
    await answer_callback(update)
    text = "\n\n".join(
        (
            t(
                "💡 <b>{theme}</b> · niveau {level}",
                theme=lib.theme_name(tip.theme, t.lang),
                level=tip.level,
            ),
            lib.render(tip, t.lang),
        )
    )
    rows = [
        [Button(t("📣 Envoyer cette astuce à tout le groupe"), PushTip(tip.id).pack())],
        [Button(t("⬅️ Retour"), LibraryTheme(tip.theme).pack())],
    ]
    await _show(update, context, text, rows)


async def ask_push(update: Update, context: RelaisContext, tip_id: str) -> None:
    t = context.t
    if library(context).tip(tip_id) is None:
        await stale(update, context)
        return
    async with context.rt.db.unit_of_work() as session:
        count = await broadcasts.count_audience(
            session, context.staff.cohort_id, ALL, context.rt.clock.now(), tip_id=tip_id
        )
    if count.recipients == 0:
        await answer_callback(update, t("Tout le groupe a déjà reçu cette astuce."), alert=True)
        return
    await answer_callback(update)
    await _say(
        update,
        context,
        t.plural(
            "Envoyer cette astuce à {n} personne qui ne l'a pas encore reçue ? "
            "Chacun la reçoit dans sa langue, avec les boutons 👍 / 👎.",
            "Envoyer cette astuce aux {n} personnes qui ne l'ont pas encore reçue ? "
            "Chacun la reçoit dans sa langue, avec les boutons 👍 / 👎.",
            count.recipients,
        ),
        [
            [
                Button(t("✅ Envoyer"), PushTipConfirm(tip_id).pack()),
                Button(t("❌ Annuler"), PushTipCancel().pack()),
            ]
        ],
    )


async def push(update: Update, context: RelaisContext, tip_id: str) -> None:
    t = context.t
    me = context.staff
    if library(context).tip(tip_id) is None:
        await stale(update, context)
        return
    async with context.rt.db.unit_of_work() as session:
        broadcast, count = await broadcasts.push_tip(
            session,
            cohort_id=me.cohort_id,
            author_id=me.member_id,
            tip_id=tip_id,
            now=context.rt.clock.now(),
        )
    if broadcast is None:
        await answer_callback(update, t("Tout le groupe a déjà reçu cette astuce."), alert=True)
        await _drop_buttons(update)
        return
    await answer_callback(update)
    context.rt.wake_dispatcher()
    await _show(
        update,
        context,
        t.plural(
            "📣 C'est parti, vers {n} personne ! Je vous envoie le bilan quand tout est parti.",
            "📣 C'est parti, vers {n} personnes ! Je vous envoie le bilan quand tout est parti.",
            count,
        ),
        progress_button(t, broadcast.id),
    )


# --- progress and cancel -------------------------------------------------------------------


async def show_progress(update: Update, context: RelaisContext, broadcast_id: int) -> None:
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        broadcast = await broadcasts.get_in_cohort(
            session, broadcast_id, context.actor.active_cohort_id
        )
        counts = await broadcasts.progress(session, broadcast) if broadcast else None
    if broadcast is None or counts is None or broadcast.status == broadcasts.DRAFT:
        await stale(update, context)
        return
    await answer_callback(update)
    zoned = t.with_zone(_zone(context))
    await _show(
        update,
        context,
        broadcasts.progress_text(zoned, broadcast, counts, library(context)),
        progress_buttons(t, broadcast),
    )


async def cancel_broadcast(update: Update, context: RelaisContext, broadcast_id: int) -> None:
    t = context.t
    me = context.staff
    async with context.rt.db.unit_of_work() as session:
        broadcast = await broadcasts.get_in_cohort(session, broadcast_id, me.cohort_id)
        outcome = (
            await broadcasts.cancel(
                session, broadcast, actor_id=me.member_id, now=context.rt.clock.now()
            )
            if broadcast is not None
            else None
        )
    if outcome is None:
        await stale(update, context)
    elif outcome is CancelOutcome.STARTED:
        await answer_callback(update, t("Trop tard : l'envoi a déjà commencé."), alert=True)
    elif outcome is CancelOutcome.OVER:
        await answer_callback(update, t("Cet envoi est déjà terminé ou annulé."), alert=True)
    else:
        await answer_callback(update)
        await _show(update, context, t("❌ Envoi annulé : personne ne le recevra."))


async def on_button(update: Update, context: RelaisContext) -> None:
    """Every `bc:` button outside the guided flow."""
    match clicked_in(update, BC):
        case BroadcastAction(broadcast_id=broadcast_id, action="progress"):
            await show_progress(update, context, broadcast_id)
        case BroadcastAction(broadcast_id=broadcast_id):
            await cancel_broadcast(update, context, broadcast_id)
        case Library():
            await show_library(update, context)
        case LibraryTheme(theme=theme):
            await show_theme(update, context, theme)
        case PushTipCancel():
            await answer_callback(update)
            await _show(update, context, context.t("D'accord, je n'envoie rien."))
        case LibraryTip(tip_id=tip_id):
            await show_tip(update, context, tip_id)
        case PushTip(tip_id=tip_id):
            await ask_push(update, context, tip_id)
        case PushTipConfirm(tip_id=tip_id):
            await push(update, context, tip_id)
        case _:  # e.g. a step of a flow that is over
            await stale(update, context)


# --- registration ----------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    flow: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("diffuser", start, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & menu_button("diffuser"), start),
        ],
        states={
            WRITE: [
                MessageHandler(TYPED, got_text),
                MessageHandler(NEW_MESSAGE & filters.PHOTO, got_photo),
                MessageHandler(OTHER_MEDIA, other_media),
                CallbackQueryHandler(library_from_draft, pattern=Library.pattern()),
            ],
            AUDIENCE: [CallbackQueryHandler(chose_audience, pattern=DraftAudience.pattern())],
            CONFIRM: [
                CallbackQueryHandler(send_now, pattern=DraftStep.pattern(step="now")),
                CallbackQueryHandler(ask_when, pattern=DraftStep.pattern(step="sched")),
            ],
            WHEN: [
                CallbackQueryHandler(chose_time, pattern=DraftTime.pattern()),
                MessageHandler(TYPED, typed_time),
            ],
        },
        fallbacks=[
            CommandHandler("annuler", discard, filters=NEW_MESSAGE),
            CallbackQueryHandler(discard, pattern=DraftStep.pattern(step="x")),
            MessageHandler(NEW_MESSAGE & ~filters.COMMAND & ~ANY_MENU_BUTTON, use_buttons),
        ],
        name="broadcast",
        persistent=True,
        allow_reentry=True,
    )
    return [flow]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CallbackQueryHandler(on_button, pattern=BC.pattern)]
