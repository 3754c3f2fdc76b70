"""The session card (staff): move the session, change its place, write its summary (a short
persistent conversation takes the typed answer), cancel it with a confirmation. Members who
said yes are told of changes through the outbox."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.callbacks import SessionCard
from bot.delivery.registry import Button
from bot.keyboards import keyboard
from bot.models import RsvpAnswer, TrainingSession
from bot.runtime import RelaisContext
from bot.services import sessions
from bot.services.sessions import ParseError
from handlers.common import answer_callback, clicked, send, stale
from handlers.sessions.shared import (
    EDIT,
    EDITING,
    card_buttons,
    card_text,
    explain,
    send_card,
    told_text,
)

# --- the session card: move, place, summary, cancel -------------------------------------------


async def _session_from_callback(
    update: Update, context: RelaisContext
) -> tuple[TrainingSession, str] | None:
    button = clicked(update, SessionCard)
    if button is None:
        await stale(update, context)
        return None
    async with context.rt.db.unit_of_work() as session:
        ts = await sessions.get_in_cohort(
            session, button.session_id, context.actor.active_cohort_id
        )
    if ts is None:
        await stale(update, context)
        return None
    return ts, button.action


async def start_edit(update: Update, context: RelaisContext) -> str | int:
    found = await _session_from_callback(update, context)
    if found is None:
        return ConversationHandler.END
    ts, action = found
    t = context.t
    if ts.cancelled_at is not None:
        await answer_callback(update, t("Cette séance a été annulée."), alert=True)
        return ConversationHandler.END
    await answer_callback(update)
    context.store[EDITING] = {"id": ts.id, "field": action}
    if action == "move":
        question = t(
            "🕒 Nouvelle date et heure de la séance {number} ? Par exemple 09/12/2026 19:00 "
            "(/annuler pour ne rien changer).",
            number=ts.number,
        )
    elif action == "place":
        question = t(
            "📍 Nouveau lieu de la séance {number} ? (/annuler pour ne rien changer)",
            number=ts.number,
        )
    else:
        question = t(
            "✍️ Le résumé de la séance {number}, en une ligne : ce qu'il faut en retenir. "
            "(/annuler pour ne rien envoyer)",
            number=ts.number,
        )
    await send(context, question)
    return EDIT


async def typed_edit(update: Update, context: RelaisContext) -> str | int:
    message = context.message
    editing = context.store.get(EDITING)
    if not isinstance(editing, dict):
        return ConversationHandler.END
    t = context.t
    rt = context.rt
    now = rt.clock.now()
    actor = context.actor
    async with rt.db.unit_of_work() as session:
        ts = await sessions.get_in_cohort(session, int(editing["id"]), actor.active_cohort_id)
    if ts is None or ts.cancelled_at is not None:
        context.store.pop(EDITING, None)
        await message.reply_text(t("Cette séance n'est plus modifiable."))
        return ConversationHandler.END
    result: str | ParseError
    async with rt.db.unit_of_work() as session:
        ts = await sessions.get_in_cohort(session, ts.id, actor.active_cohort_id)
        assert ts is not None
        field = editing.get("field")
        told: int | None = None
        if field == "move":
            zone = await sessions.cohort_zone(session, ts.cohort_id, rt.settings.timezone)
            when = sessions.parse_when(context.text, zone, now)
            if isinstance(when, ParseError):
                result = when
            else:
                change = await sessions.move_session(
                    session, ts, starts_at=when, actor_id=actor.member_id, now=now
                )
                told = change.told
                result = t(
                    "✅ Séance {number} déplacée : {when}.", number=ts.number, when=t.when(when)
                )
        elif field == "place":
            place = sessions.clean_place(context.text)
            if isinstance(place, ParseError):
                result = place
            else:
                change = await sessions.change_place(
                    session, ts, place=place, actor_id=actor.member_id, now=now
                )
                told = change.told
                result = t(
                    "✅ Nouveau lieu de la séance {number} : {place}.",
                    number=ts.number,
                    place=place,
                )
        else:
            summary = await sessions.set_summary(
                session, ts, text=context.text, actor_id=actor.member_id, now=now
            )
            result = (
                summary
                if isinstance(summary, ParseError)
                else t(
                    "🙏 Merci ! Je l'enverrai à ceux qui avaient dit oui mais n'ont pas pu venir."
                )
            )
        counts = await sessions.rsvp_counts(session, ts.id)
    if isinstance(result, ParseError):
        await message.reply_text(explain(t, result) + "\n" + t("Réessayez, ou /annuler."))
        return EDIT
    context.store.pop(EDITING, None)
    if told is None:
        await message.reply_text(result)
        return ConversationHandler.END
    rt.wake_dispatcher()
    await message.reply_text(result + "\n" + told_text(t, told))
    await send_card(context, ts, counts)
    return ConversationHandler.END


async def cancel_edit(update: Update, context: RelaisContext) -> int:
    context.store.pop(EDITING, None)
    await send(context, context.t("D'accord, rien n'a changé."))
    return ConversationHandler.END


async def on_card_button(update: Update, context: RelaisContext) -> None:
    """`sess:<id>:card|cancel|cancelok` (the others start the edit conversation)."""
    found = await _session_from_callback(update, context)
    if found is None:
        return
    ts, action = found
    t = context.t
    query = context.query
    rt = context.rt
    if action == "cancel" and ts.cancelled_at is None:
        await answer_callback(update)
        async with rt.db.unit_of_work() as session:
            counts = await sessions.rsvp_counts(session, ts.id)
        waiting = counts[RsvpAnswer.YES.value] + counts[RsvpAnswer.WAITLIST.value]
        question = t(
            "Annuler la séance {number} du {when} ?",
            number=ts.number,
            when=t.when(ts.starts_at),
        )
        told = (
            t.plural(
                "{n} personne inscrite sera prévenue.",
                "{n} personnes inscrites seront prévenues.",
                waiting,
            )
            if waiting
            else t("Personne ne s'est encore inscrit.")
        )
        await query.edit_message_text(
            question + "\n" + told,
            reply_markup=keyboard(
                [
                    [
                        Button(t("Oui, annuler"), SessionCard(ts.id, "cancelok").pack()),
                        Button(t("Non, garder"), SessionCard(ts.id, "card").pack()),
                    ]
                ]
            ),
        )
        return
    if action == "cancelok" and ts.cancelled_at is None:
        async with rt.db.unit_of_work() as session:
            fresh = await sessions.get_in_cohort(session, ts.id, context.actor.active_cohort_id)
            assert fresh is not None
            change = await sessions.cancel_session(
                session, fresh, actor_id=context.actor.member_id, now=rt.clock.now()
            )
        rt.wake_dispatcher()
        await answer_callback(update)
        await query.edit_message_text(
            t("❌ Séance {number} annulée.", number=ts.number) + "\n" + told_text(t, change.told)
        )
        return
    if action in ("card", "cancel", "cancelok"):
        await answer_callback(update)
        async with rt.db.unit_of_work() as session:
            counts = await sessions.rsvp_counts(session, ts.id)
        await query.edit_message_text(
            card_text(t, ts, counts, context.rt.content), reply_markup=keyboard(card_buttons(t, ts))
        )
        return
    await stale(update, context)
