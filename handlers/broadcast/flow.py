"""`/diffuser`: the guided broadcast (WRITE → AUDIENCE → CONFIRM → send now, or WHEN).

The draft is a `Broadcast` row whose id travels in the buttons; the preview is sent with the
very calls the outbox uses. A persistent conversation, registered in __init__.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.callbacks import BC, BroadcastAction, DraftAudience, DraftStep, DraftTime, Library
from bot.delivery.quiet import quiet_until
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.models import Broadcast
from bot.runtime import RelaisContext
from bot.services import broadcasts
from bot.services.broadcasts import AudienceCount, ScheduleProblem, TextProblem, WhenProblem
from handlers.broadcast.shared import (
    AUDIENCE,
    CONFIRM,
    DRAFT_KEY,
    END,
    WHEN,
    WRITE,
    actor_zone,
    audience_code,
    audience_from_code,
    audience_label,
    progress_button,
    say,
    send_rendered,
    started_text,
)
from handlers.common import answer_callback, clicked, clicked_in, drop_buttons, stale

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
        await say(update, context, explain_text(t, problem[0], problem[1], length))
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
    await say(
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
    await say(
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
    await drop_buttons(update)
    return await show_preview(update, context, draft, count)


async def show_preview(
    update: Update, context: RelaisContext, draft: Broadcast, count: AudienceCount
) -> str:
    t = context.t
    chat_id = context.chat_id
    await say(
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
        until = quiet_until(context.rt.clock.now(), actor_zone(context), quiet)
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
    await say(update, context, "\n".join(lines), rows)
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
    await drop_buttons(update)
    if count == 0:
        await say(update, context, t("Personne ne le recevrait pour le moment : rien n'est parti."))
        return None
    context.rt.wake_dispatcher()
    context.store.pop(DRAFT_KEY, None)
    await say(
        update,
        context,
        started_text(t, count),
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
    t = context.t.with_zone(actor_zone(context))
    async with context.rt.db.unit_of_work() as session:
        draft = await _own_draft(update, context, session)
    if draft is None:
        await stale(update, context)
        return None
    await answer_callback(update)
    await drop_buttons(update)
    now = context.rt.clock.now()
    zone = actor_zone(context)
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
    await say(
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
    t = context.t.with_zone(actor_zone(context))
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
                zone=actor_zone(context),
                quiet=context.rt.settings.quiet_window,
            )
    if draft is None or outcome is None:
        await say(update, context, t("Ce brouillon n'existe plus : recommencez avec /diffuser."))
        context.store.pop(DRAFT_KEY, None)
        return END
    if isinstance(outcome, ScheduleProblem):
        await say(update, context, explain_schedule(t, outcome, context))
        return WHEN
    context.store.pop(DRAFT_KEY, None)
    await say(
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
    await drop_buttons(update)
    return await _schedule(update, context, draft.id, button.at)


async def typed_time(update: Update, context: RelaisContext) -> str | int:
    message = context.message
    t = context.t
    draft_id = context.store.get(DRAFT_KEY)
    if not isinstance(draft_id, int):
        await say(update, context, t("Ce brouillon n'existe plus : recommencez avec /diffuser."))
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
                example=_example(now + timedelta(days=1), actor_zone(context)),
            )
        await say(update, context, text)
        return WHEN
    return await _schedule(update, context, draft_id, when)


# --- leaving the flow ------------------------------------------------------------------------


async def discard(update: Update, context: RelaisContext) -> int:
    """❌ or /annuler: the draft is dropped, nothing is sent."""
    await answer_callback(update)
    await drop_buttons(update)
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
    await say(update, context, context.t("D'accord, je n'envoie rien."))
    return END


async def use_buttons(update: Update, context: RelaisContext) -> None:
    """Something typed where a button is expected."""
    await say(
        update,
        context,
        context.t("Choisissez avec les boutons ci-dessus 🙂 (/annuler pour arrêter)."),
    )
