"""`/seances`: the next sessions (staff see their cards, members the RSVP buttons), and the
`.ics` calendar file of a session."""

from __future__ import annotations

from telegram import InputFile, Update

from bot import buttons
from bot.callbacks import CalendarFile
from bot.delivery.registry import Button
from bot.i18n import N_
from bot.keyboards import keyboard
from bot.runtime import RelaisContext
from bot.services import calendar, reminders, rsvp, sessions
from handlers.common import answer_callback, clicked, stale
from handlers.sessions.shared import UPCOMING_SHOWN, send_card

# --- /seances and the calendar file -----------------------------------------------------------


async def list_sessions(update: Update, context: RelaisContext) -> None:
    message = context.message
    actor = context.actor
    t = context.t
    rt = context.rt
    now = rt.clock.now()
    if actor.active_cohort_id is None:
        await message.reply_text(t("Vous ne faites partie d'aucun groupe pour le moment."))
        return
    async with rt.db.read() as session:
        upcoming = await sessions.upcoming(session, actor.active_cohort_id, now, UPCOMING_SHOWN)
        total = await sessions.count_upcoming(session, actor.active_cohort_id, now)
        ids = [ts.id for ts in upcoming]
        # Staff see who answered; a member sees their own answer.
        counts = await sessions.rsvp_counts_of(session, ids) if actor.is_staff else {}
        states = (
            await rsvp.states(session, ids, actor.member_id)
            if actor.member_id and not actor.is_staff
            else {}
        )
    if not upcoming:
        text = t("Aucune séance n'est prévue pour le moment.")
        if actor.is_staff:
            text += "\n" + t("Planifiez la prochaine avec /nouvelle_seance.")
        await message.reply_text(text)
        return
    # The heading opens the first card rather than being a message of its own: one message
    # less for each /seances, when a crowd asks at once (docs/performance.md).
    intro = t.plural("📅 La prochaine séance :", "📅 Les {n} prochaines séances :", len(upcoming))
    for ts in upcoming:
        if actor.is_staff:
            await send_card(context, ts, counts[ts.id], intro=intro)
            intro = ""
            continue
        state = states.get(ts.id) or rsvp.RsvpState(None)
        text = "\n".join(
            (
                *((intro, "") if intro else ()),
                t("<b>Séance {number}</b>", number=ts.number),
                reminders.describe(t, ts, rt.content),
                "",
                reminders.rsvp_line(t, state),
            )
        )
        intro = ""
        rows = buttons.rsvp(t, ts.id, reminders.chosen(state))
        rows.append([Button(t("📆 Ajouter à mon agenda"), CalendarFile(ts.id).pack())])
        await message.reply_text(text, reply_markup=keyboard(rows))
    if total > len(upcoming):
        await message.reply_text(
            t.plural(
                "… et {n} autre séance plus tard.",
                "… et {n} autres séances plus tard.",
                total - len(upcoming),
            )
        )


async def send_ics(update: Update, context: RelaisContext) -> None:
    button = clicked(update, CalendarFile)
    t = context.t
    actor = context.actor
    rt = context.rt
    ts = None
    if button is not None:
        async with rt.db.unit_of_work() as session:
            ts = await sessions.get_in_cohort(session, button.session_id, actor.active_cohort_id)
    if ts is None:
        await stale(update, context)
        return
    await answer_callback(update)
    title = t.raw(N_("Séance {number} : {theme}")).format(
        number=ts.number, theme=reminders.theme_of(ts, t.lang, rt.content)
    )
    data = calendar.session_ics(ts, title=title, description=title, now=rt.clock.now())
    await context.bot.send_document(
        context.chat_id,
        InputFile(data, filename=calendar.filename(ts)),
        caption=t(
            "📆 Ouvrez ce fichier pour ajouter la séance {number} à votre agenda.", number=ts.number
        ),
    )
