"""Sessions: `/nouvelle_seance` (guided or one line), the session card, `/seances`, .ics files.

Planning, guided with buttons (a persistent conversation: it survives a restart)::

    /nouvelle_seance ─▶ DATE ─▶ TIME ─▶ PLACE ─▶ THEME ─▶ CAPACITY ─▶ CONFIRM ─▶ END
                      (buttons for   (buttons   (recent    (curriculum  (buttons    (✅ / ✖️)
                       the next days, + text)    places     or text)     or text)
                       or text)                  or text)

or in one line: `/nouvelle_seance 02/12/2026 19:00 | Salle du Conseil | Vidéo et live [| 30]`.

The session card (staff) has buttons to move the session, change its place, cancel it (with
a confirmation) and see its attendance; a move or a new place is typed in a second short
persistent conversation, which also takes the trainer's one-line summary after a session.
Members who said yes are told of changes through the outbox.

Callback areas: `newsess:*` (the guided planning), `sess:<id>:card|move|place|summary|cancel|
cancelok` (staff), `ics:<id>` (anyone in the cohort: the calendar file). Ids in callback
data are untrusted: every handler re-reads the session within the actor's active cohort.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InputFile, Update
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.content import ContentLibrary
from bot.i18n import N_, Translator
from bot.models import RsvpAnswer, TrainingSession
from bot.runtime import RelaisContext
from bot.services import calendar, reminders, rsvp, sessions
from bot.services.sessions import ParseError, ParseProblem, SessionDraft
from handlers.common import answer_callback, callback_args, inline, int_arg
from handlers.menu import ANY_MENU_BUTTON, menu_button

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON

# States of the planning conversation (strings: stored as they are by the persistence).
DATE, TIME, PLACE, THEME, CAPACITY, CONFIRM = (
    "date",
    "time",
    "place",
    "theme",
    "capacity",
    "confirm",
)
# State of the edit conversation (move, place, summary).
EDIT = "edit"
# context.user_data keys.
DRAFT = "new_session"
EDITING = "edit_session"

DATE_BUTTONS = 12
TIME_CHOICES = (time(18, 0), time(18, 30), time(19, 0), time(19, 30), time(20, 0))
CAPACITY_CHOICES = (10, 15, 20, 25, 30)
UPCOMING_SHOWN = 5

_CALLBACK_ID = re.compile(r"^sess:(\d{1,12}):(move|place|summary)$")


# --- texts ------------------------------------------------------------------------------------


def explain(t: Translator, error: ParseError) -> str:
    """A precise sentence saying what to fix."""
    p = error.problem
    if p is ParseProblem.EMPTY:
        return t("Je n'ai rien reçu à enregistrer.")
    if p is ParseProblem.MISSING_TIME:
        return t("Il manque l'heure : écrivez-la après la date, par exemple 02/12/2026 19:00.")
    if p is ParseProblem.MISSING_PLACE:
        return t("Il manque le lieu : ajoutez-le après la date et l'heure, séparé par « | ».")
    if p is ParseProblem.MISSING_THEME:
        return t("Il manque le thème : ajoutez-le après le lieu, séparé par « | ».")
    if p is ParseProblem.TOO_MANY_PARTS:
        return t(
            "Il y a {count} parties séparées par « | » : j'attends la date et l'heure, le lieu, "
            "le thème, et si besoin le nombre de places.",
            count=error.value,
        )
    if p is ParseProblem.BAD_DATE:
        return t(
            "Je ne reconnais pas la date « {value} » : écrivez-la jour/mois/année, "
            "par exemple 02/12/2026 (ou 2026-12-02).",
            value=error.value,
        )
    if p is ParseProblem.IMPOSSIBLE_DATE:
        return t(
            "La date « {value} » n'existe pas dans le calendrier : vérifiez le jour et le mois.",
            value=error.value,
        )
    if p is ParseProblem.BAD_TIME:
        return t(
            "Je ne reconnais pas l'heure « {value} » : écrivez-la par exemple 19:00 ou 19h30.",
            value=error.value,
        )
    if p is ParseProblem.NONEXISTENT_TIME:
        return t(
            "{value} n'existe pas ce jour-là (passage à l'heure d'été) : choisissez une autre "
            "heure.",
            value=error.value,
        )
    if p is ParseProblem.PAST:
        return t("« {value} » est déjà passé : choisissez une date à venir.", value=error.value)
    if p is ParseProblem.TOO_FAR:
        return t("« {value} » est dans plus d'un an : vérifiez l'année.", value=error.value)
    if p is ParseProblem.BAD_CAPACITY:
        return t(
            "« {value} » ne convient pas comme nombre de places : un nombre de 1 à {limit}, "
            "ou 0 pour ne pas limiter.",
            value=error.value,
            limit=error.limit or sessions.CAPACITY_MAX,
        )
    if error.value == "place":
        return t("Le lieu est trop long : {limit} caractères au plus.", limit=error.limit or 0)
    if error.value == "summary":
        return t("Le résumé est trop long : {limit} caractères au plus.", limit=error.limit or 0)
    return t("Le thème est trop long : {limit} caractères au plus.", limit=error.limit or 0)


def one_line_example(t: Translator) -> str:
    return t(
        "Exemple : <code>/nouvelle_seance 02/12/2026 19:00 | Salle du Conseil | "
        "Vidéo et live</code> (ajoutez « | 25 » pour limiter les places)."
    )


def card_text(t: Translator, ts: TrainingSession, counts: dict[str, int]) -> str:
    """The staff's view of a session: when, where, what, and the answers so far."""
    lines = [t("<b>Séance {number}</b>", number=ts.number), reminders.describe(t, ts)]
    if ts.capacity:
        lines.append(t("👥 {capacity} places", capacity=ts.capacity))
    lines.append(
        t(
            "✅ {yes} oui · ❌ {no} non · ⏳ {waiting} en attente",
            yes=counts.get(RsvpAnswer.YES.value, 0),
            no=counts.get(RsvpAnswer.NO.value, 0),
            waiting=counts.get(RsvpAnswer.WAITLIST.value, 0),
        )
    )
    if ts.cancelled_at is not None:
        lines.insert(1, t("❌ <b>Annulée</b>"))
    return "\n".join(lines)


def card_buttons(t: Translator, ts: TrainingSession) -> list[list[tuple[str, str]]]:
    if ts.cancelled_at is not None:
        return []
    return [
        [
            (t("🕒 Déplacer"), f"sess:{ts.id}:move"),
            (t("📍 Changer le lieu"), f"sess:{ts.id}:place"),
        ],
        [(t("📋 Présences"), f"pres:{ts.id}"), (t("📆 Agenda (.ics)"), f"ics:{ts.id}")],
        [(t("❌ Annuler la séance"), f"sess:{ts.id}:cancel")],
    ]


def told_text(t: Translator, told: int) -> str:
    if told == 0:
        return t("Personne n'avait encore dit oui : personne à prévenir.")
    return t.plural(
        "{n} personne qui avait dit oui est prévenue.",
        "{n} personnes qui avaient dit oui sont prévenues.",
        told,
    )


def _library(context: RelaisContext) -> ContentLibrary:
    """The curriculum (themes offered when planning), read once by build_application."""
    return context.rt.content


# --- small helpers ----------------------------------------------------------------------------


async def _send(update: Update, context: RelaisContext, text: str, **kwargs: Any) -> None:
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, text, **kwargs)


async def _drop_buttons(update: Update) -> None:
    """Remove the buttons of an answered question, so that it cannot be pressed twice."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest:
        log.debug("could not remove the buttons of an answered question", exc_info=True)


def _draft(context: RelaisContext) -> dict[str, Any]:
    data = context.user_data
    assert data is not None
    draft = data.get(DRAFT)
    if not isinstance(draft, dict):
        draft = {}
        data[DRAFT] = draft
    return draft


async def _zone(context: RelaisContext, cohort_id: int) -> str:
    async with context.rt.db.unit_of_work() as session:
        return await sessions.cohort_zone(session, cohort_id, context.rt.settings.timezone)


def _today(context: RelaisContext, zone: str) -> date:
    return context.rt.clock.now().astimezone(ZoneInfo(zone)).date()


async def send_card(
    update: Update, context: RelaisContext, ts: TrainingSession, counts: dict[str, int]
) -> None:
    t = context.t
    await _send(update, context, card_text(t, ts, counts), reply_markup=inline(card_buttons(t, ts)))


# --- /nouvelle_seance -------------------------------------------------------------------------


async def new_session(update: Update, context: RelaisContext) -> str | int:
    message = update.effective_message
    assert message is not None
    t = context.t
    cohort_id = context.actor.active_cohort_id
    if cohort_id is None:
        await message.reply_text(t("Vous n'avez pas encore de groupe : créez-le avec /inviter."))
        return ConversationHandler.END
    text = message.text or ""
    line = text.split(maxsplit=1)[1] if text.startswith("/") and " " in text.strip() else ""
    if line.strip():
        await _plan_one_line(update, context, cohort_id, line)
        return ConversationHandler.END
    assert context.user_data is not None
    context.user_data[DRAFT] = {}
    await message.reply_text(
        t(
            "Planifions une séance 🗓 Je vous pose 5 petites questions (/annuler pour arrêter).\n"
            "Vous pouvez aussi tout écrire en une ligne."
        )
        + "\n"
        + one_line_example(t)
    )
    return await ask_date(update, context)


async def _plan_one_line(update: Update, context: RelaisContext, cohort_id: int, line: str) -> None:
    t = context.t
    rt = context.rt
    now = rt.clock.now()
    async with rt.db.unit_of_work() as session:
        zone = await sessions.cohort_zone(session, cohort_id, rt.settings.timezone)
        draft = sessions.parse_line(line, zone, now)
        if isinstance(draft, SessionDraft):
            ts = await sessions.plan_session(
                session,
                cohort_id=cohort_id,
                draft=draft,
                created_by_id=context.actor.member_id,
                now=now,
            )
    if isinstance(draft, ParseError):
        await _send(update, context, explain(t, draft) + "\n\n" + one_line_example(t))
        return
    await _send(update, context, t("✅ Séance planifiée ! Les rappels partiront d'eux-mêmes."))
    await send_card(update, context, ts, {})


async def ask_date(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.actor.active_cohort_id
    assert cohort_id is not None
    today = _today(context, await _zone(context, cohort_id))
    days = [today + timedelta(days=i) for i in range(DATE_BUTTONS)]
    buttons = [(t.date(day, "EEE d MMM"), f"newsess:d:{day:%Y%m%d}") for day in days]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([(t("✖️ Annuler"), "newsess:x")])
    await _send(
        update,
        context,
        t("📅 Quel jour ? Choisissez, ou écrivez la date (par exemple 02/12/2026)."),
        reply_markup=inline(rows),
    )
    return DATE


async def chose_date(update: Update, context: RelaisContext) -> str:
    args = callback_args(update, "newsess", 2)
    await answer_callback(update)
    value = args[1] if args and args[0] == "d" else ""
    try:
        day = datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return await ask_date(update, context)
    await _drop_buttons(update)
    return await _take_date(update, context, day)


async def typed_date(update: Update, context: RelaisContext) -> str:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    day = sessions.parse_date(message.text)
    if isinstance(day, ParseError):
        await _send(update, context, explain(context.t, day))
        return DATE
    return await _take_date(update, context, day)


async def _take_date(update: Update, context: RelaisContext, day: date) -> str:
    t = context.t
    cohort_id = context.actor.active_cohort_id
    assert cohort_id is not None
    zone = await _zone(context, cohort_id)
    if day < _today(context, zone):
        await _send(
            update,
            context,
            explain(t, ParseError(ParseProblem.PAST, t.date(day, "d MMMM yyyy"))),
        )
        return await ask_date(update, context)
    if day > _today(context, zone) + timedelta(days=sessions.HORIZON_DAYS):
        await _send(
            update,
            context,
            explain(t, ParseError(ParseProblem.TOO_FAR, t.date(day, "d MMMM yyyy"))),
        )
        return await ask_date(update, context)
    _draft(context)["date"] = day.isoformat()
    return await ask_time(update, context)


async def ask_time(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.actor.active_cohort_id
    assert cohort_id is not None
    async with context.rt.db.unit_of_work() as session:
        zone = await sessions.cohort_zone(session, cohort_id, context.rt.settings.timezone)
        usual = await sessions.usual_time(session, cohort_id, zone)
    choices = list(dict.fromkeys([*([usual] if usual else []), *TIME_CHOICES]))
    buttons = [(t.time(at), f"newsess:t:{at:%H%M}") for at in choices]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([(t("✖️ Annuler"), "newsess:x")])
    day = date.fromisoformat(_draft(context)["date"])
    await _send(
        update,
        context,
        t(
            "🕒 À quelle heure, le {day} ? Choisissez, ou écrivez l'heure (par exemple 19:00).",
            day=t.date(day),
        ),
        reply_markup=inline(rows),
    )
    return TIME


async def chose_time(update: Update, context: RelaisContext) -> str:
    args = callback_args(update, "newsess", 2)
    await answer_callback(update)
    value = args[1] if args and args[0] == "t" else ""
    at = sessions.parse_time(f"{value[:2]}:{value[2:]}") if len(value) == 4 else None
    if not isinstance(at, time):
        return await ask_time(update, context)
    await _drop_buttons(update)
    return await _take_time(update, context, at)


async def typed_time(update: Update, context: RelaisContext) -> str:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    at = sessions.parse_time(message.text)
    if isinstance(at, ParseError):
        await _send(update, context, explain(context.t, at))
        return TIME
    return await _take_time(update, context, at)


async def _starts_at(context: RelaisContext, draft: dict[str, Any]) -> datetime | ParseError:
    cohort_id = context.actor.active_cohort_id
    assert cohort_id is not None
    zone = await _zone(context, cohort_id)
    day = date.fromisoformat(draft["date"])
    at = time.fromisoformat(draft["time"])
    instant = sessions.local_start(day, at, zone)
    if isinstance(instant, ParseError):
        return instant
    t = context.t
    return (
        sessions.check_start(instant, context.rt.clock.now(), t.with_zone(zone).when(instant))
        or instant
    )


async def _take_time(update: Update, context: RelaisContext, at: time) -> str:
    draft = _draft(context)
    draft["time"] = at.strftime("%H:%M")
    instant = await _starts_at(context, draft)
    if isinstance(instant, ParseError):
        await _send(update, context, explain(context.t, instant))
        return await ask_time(update, context)
    return await ask_place(update, context)


async def ask_place(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.actor.active_cohort_id
    assert cohort_id is not None
    async with context.rt.db.unit_of_work() as session:
        places = await sessions.recent_places(session, cohort_id)
    _draft(context)["places"] = places
    rows = [[(place[:60], f"newsess:p:{index}")] for index, place in enumerate(places)]
    rows.append([(t("✖️ Annuler"), "newsess:x")])
    question = (
        t("📍 Où ? Choisissez un lieu déjà utilisé, ou écrivez le lieu.")
        if places
        else t("📍 Où ? Écrivez le lieu (par exemple : Salle du Conseil, rue de l'Église 1).")
    )
    await _send(update, context, question, reply_markup=inline(rows))
    return PLACE


async def chose_place(update: Update, context: RelaisContext) -> str:
    args = callback_args(update, "newsess", 2)
    await answer_callback(update)
    places = _draft(context).get("places") or []
    index = int_arg(args[1]) if args and args[0] == "p" else None
    if index is None or index >= len(places):
        return await ask_place(update, context)
    await _drop_buttons(update)
    _draft(context)["place"] = places[index]
    return await ask_theme(update, context)


async def typed_place(update: Update, context: RelaisContext) -> str:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    place = sessions.clean_place(message.text)
    if isinstance(place, ParseError):
        await _send(update, context, explain(context.t, place))
        return PLACE
    _draft(context)["place"] = place
    return await ask_theme(update, context)


async def ask_theme(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.actor.active_cohort_id
    assert cohort_id is not None
    library = _library(context)
    rows: list[list[tuple[str, str]]] = []
    if library is not None and library.sessions:
        async with context.rt.db.unit_of_work() as session:
            used = await sessions.used_theme_codes(session, cohort_id)
        suggested = next(
            (item.number for item in library.sessions if item.main_theme not in used), None
        )
        for item in library.sessions:
            mark = "⭐ " if item.number == suggested else ""
            rows.append(
                [(f"{mark}{item.number}. {item.title(t.lang)}"[:60], f"newsess:th:{item.number}")]
            )
    rows.append([(t("✖️ Annuler"), "newsess:x")])
    await _send(
        update,
        context,
        t("🎯 Quel thème ? Choisissez dans le programme (⭐ : le suivant), ou écrivez-le."),
        reply_markup=inline(rows),
    )
    return THEME


async def chose_theme(update: Update, context: RelaisContext) -> str:
    args = callback_args(update, "newsess", 2)
    await answer_callback(update)
    library = _library(context)
    number = int_arg(args[1]) if args and args[0] == "th" else None
    item = library.session(number) if library is not None and number is not None else None
    if item is None:
        return await ask_theme(update, context)
    await _drop_buttons(update)
    draft = _draft(context)
    draft["theme"] = item.title(context.t.lang)
    draft["theme_code"] = item.main_theme
    return await ask_capacity(update, context)


async def typed_theme(update: Update, context: RelaisContext) -> str:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    theme = sessions.clean_theme(message.text)
    if isinstance(theme, ParseError):
        await _send(update, context, explain(context.t, theme))
        return THEME
    draft = _draft(context)
    draft["theme"] = theme
    draft["theme_code"] = None
    return await ask_capacity(update, context)


async def ask_capacity(update: Update, context: RelaisContext) -> str:
    t = context.t
    buttons = [(str(n), f"newsess:c:{n}") for n in CAPACITY_CHOICES]
    rows = [[(t("♾ Pas de limite"), "newsess:c:0")], buttons, [(t("✖️ Annuler"), "newsess:x")]]
    await _send(
        update,
        context,
        t(
            "👥 Combien de places ? Au-delà, les suivants vont sur une liste d'attente. "
            "Choisissez, ou écrivez un nombre."
        ),
        reply_markup=inline(rows),
    )
    return CAPACITY


async def chose_capacity(update: Update, context: RelaisContext) -> str:
    args = callback_args(update, "newsess", 2)
    await answer_callback(update)
    value = (
        sessions.parse_capacity(args[1])
        if args and args[0] == "c"
        else ParseError(ParseProblem.BAD_CAPACITY)
    )
    if isinstance(value, ParseError):
        return await ask_capacity(update, context)
    await _drop_buttons(update)
    _draft(context)["capacity"] = value
    return await ask_confirm(update, context)


async def typed_capacity(update: Update, context: RelaisContext) -> str:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    value = sessions.parse_capacity(message.text)
    if isinstance(value, ParseError):
        await _send(update, context, explain(context.t, value))
        return CAPACITY
    _draft(context)["capacity"] = value
    return await ask_confirm(update, context)


def _preview(draft: dict[str, Any], starts_at: datetime) -> TrainingSession:
    """An unsaved session, only to show the summary with the same words as the card."""
    return TrainingSession(
        id=0,
        number=0,
        starts_at=starts_at,
        ends_at=starts_at + sessions.DEFAULT_DURATION,
        place=draft["place"],
        theme=draft["theme"],
        theme_code=draft.get("theme_code"),
        capacity=draft.get("capacity"),
    )


async def ask_confirm(update: Update, context: RelaisContext) -> str:
    t = context.t
    draft = _draft(context)
    starts_at = await _starts_at(context, draft)
    if isinstance(starts_at, ParseError):
        await _send(update, context, explain(t, starts_at))
        return await ask_date(update, context)
    preview = _preview(draft, starts_at)
    lines = [t("On planifie cette séance ?"), reminders.describe(t, preview)]
    capacity = draft.get("capacity")
    lines.append(
        t("👥 {capacity} places", capacity=capacity) if capacity else t("👥 Pas de limite")
    )
    await _send(
        update,
        context,
        "\n".join(lines),
        reply_markup=inline([[(t("✅ Planifier"), "newsess:ok"), (t("✖️ Annuler"), "newsess:x")]]),
    )
    return CONFIRM


async def confirm(update: Update, context: RelaisContext) -> str | int:
    await answer_callback(update)
    await _drop_buttons(update)
    t = context.t
    rt = context.rt
    cohort_id = context.actor.active_cohort_id
    assert cohort_id is not None
    draft = _draft(context)
    if not all(draft.get(key) for key in ("date", "time", "place", "theme")):
        return await ask_date(update, context)
    starts_at = await _starts_at(context, draft)
    if isinstance(starts_at, ParseError):
        await _send(update, context, explain(t, starts_at))
        return await ask_date(update, context)
    async with rt.db.unit_of_work() as session:
        ts = await sessions.plan_session(
            session,
            cohort_id=cohort_id,
            draft=SessionDraft(
                starts_at=starts_at,
                place=draft["place"],
                theme=draft["theme"],
                theme_code=draft.get("theme_code"),
                capacity=draft.get("capacity"),
            ),
            created_by_id=context.actor.member_id,
            now=rt.clock.now(),
        )
    assert context.user_data is not None
    context.user_data.pop(DRAFT, None)
    await _send(update, context, t("✅ Séance planifiée ! Les rappels partiront d'eux-mêmes."))
    await send_card(update, context, ts, {})
    return ConversationHandler.END


async def cancel_planning(update: Update, context: RelaisContext) -> int:
    await answer_callback(update)
    await _drop_buttons(update)
    if context.user_data is not None:
        context.user_data.pop(DRAFT, None)
    await _send(update, context, context.t("D'accord, je n'ai rien planifié."))
    return ConversationHandler.END


async def stale_button(update: Update, context: RelaisContext) -> None:
    await answer_callback(update, context.t("Ce bouton n'est plus valable."))


async def repeat_question(update: Update, context: RelaisContext) -> str | None:
    """Something else than the expected answer: ask the current question again."""
    if update.callback_query is not None:
        await stale_button(update, context)
        return None
    await _send(update, context, context.t("Reprenons 🙂"))
    draft = _draft(context)
    if "date" not in draft:
        return await ask_date(update, context)
    if "time" not in draft:
        return await ask_time(update, context)
    if "place" not in draft:
        return await ask_place(update, context)
    if "theme" not in draft:
        return await ask_theme(update, context)
    if "capacity" not in draft:
        return await ask_capacity(update, context)
    return await ask_confirm(update, context)


# --- the session card: move, place, summary, cancel -------------------------------------------


async def _session_from_callback(
    update: Update, context: RelaisContext
) -> tuple[TrainingSession, str] | None:
    args = callback_args(update, "sess", 2)
    session_id = int_arg(args[0]) if args else None
    if args is None or session_id is None:
        await stale_button(update, context)
        return None
    async with context.rt.db.unit_of_work() as session:
        ts = await sessions.get_in_cohort(session, session_id, context.actor.active_cohort_id)
    if ts is None:
        await stale_button(update, context)
        return None
    return ts, args[1]


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
    assert context.user_data is not None
    context.user_data[EDITING] = {"id": ts.id, "field": action}
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
    await _send(update, context, question)
    return EDIT


async def typed_edit(update: Update, context: RelaisContext) -> str | int:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    assert context.user_data is not None
    editing = context.user_data.get(EDITING)
    if not isinstance(editing, dict):
        return ConversationHandler.END
    t = context.t
    rt = context.rt
    now = rt.clock.now()
    actor = context.actor
    async with rt.db.unit_of_work() as session:
        ts = await sessions.get_in_cohort(session, int(editing["id"]), actor.active_cohort_id)
    if ts is None or ts.cancelled_at is not None:
        context.user_data.pop(EDITING, None)
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
            when = sessions.parse_when(message.text, zone, now)
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
            place = sessions.clean_place(message.text)
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
                session, ts, text=message.text, actor_id=actor.member_id, now=now
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
    context.user_data.pop(EDITING, None)
    if told is None:
        await message.reply_text(result)
        return ConversationHandler.END
    rt.wake_dispatcher()
    await message.reply_text(result + "\n" + told_text(t, told))
    await send_card(update, context, ts, counts)
    return ConversationHandler.END


async def cancel_edit(update: Update, context: RelaisContext) -> int:
    if context.user_data is not None:
        context.user_data.pop(EDITING, None)
    await _send(update, context, context.t("D'accord, rien n'a changé."))
    return ConversationHandler.END


async def on_card_button(update: Update, context: RelaisContext) -> None:
    """`sess:<id>:card|cancel|cancelok` (the others start the edit conversation)."""
    found = await _session_from_callback(update, context)
    if found is None:
        return
    ts, action = found
    t = context.t
    query = update.callback_query
    assert query is not None
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
            reply_markup=inline(
                [
                    [
                        (t("Oui, annuler"), f"sess:{ts.id}:cancelok"),
                        (t("Non, garder"), f"sess:{ts.id}:card"),
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
            card_text(t, ts, counts), reply_markup=inline(card_buttons(t, ts))
        )
        return
    await stale_button(update, context)


# --- /seances and the calendar file -----------------------------------------------------------


async def list_sessions(update: Update, context: RelaisContext) -> None:
    message = update.effective_message
    assert message is not None
    actor = context.actor
    t = context.t
    rt = context.rt
    now = rt.clock.now()
    if actor.active_cohort_id is None:
        await message.reply_text(t("Vous ne faites partie d'aucun groupe pour le moment."))
        return
    async with rt.db.unit_of_work() as session:
        upcoming = await sessions.upcoming(session, actor.active_cohort_id, now, UPCOMING_SHOWN)
        total = await sessions.count_upcoming(session, actor.active_cohort_id, now)
        ids = [ts.id for ts in upcoming]
        states = await rsvp.states(session, ids, actor.member_id) if actor.member_id else {}
        counts = {ts.id: await sessions.rsvp_counts(session, ts.id) for ts in upcoming}
    if not upcoming:
        text = t("Aucune séance n'est prévue pour le moment.")
        if actor.is_staff:
            text += "\n" + t("Planifiez la prochaine avec /nouvelle_seance.")
        await message.reply_text(text)
        return
    await message.reply_text(
        t.plural("📅 La prochaine séance :", "📅 Les {n} prochaines séances :", len(upcoming))
    )
    for ts in upcoming:
        if actor.is_staff:
            await send_card(update, context, ts, counts[ts.id])
            continue
        state = states.get(ts.id) or rsvp.RsvpState(None)
        text = "\n".join(
            (
                t("<b>Séance {number}</b>", number=ts.number),
                reminders.describe(t, ts),
                "",
                reminders.rsvp_line(t, state),
            )
        )
        rows = [
            [(b.label, b.callback_data or "") for b in row]
            for row in reminders.rsvp_buttons(t, ts.id)
        ]
        rows.append([(t("📆 Ajouter à mon agenda"), f"ics:{ts.id}")])
        await message.reply_text(text, reply_markup=inline(rows))
    if total > len(upcoming):
        await message.reply_text(
            t.plural(
                "… et {n} autre séance plus tard.",
                "… et {n} autres séances plus tard.",
                total - len(upcoming),
            )
        )


async def send_ics(update: Update, context: RelaisContext) -> None:
    args = callback_args(update, "ics", 1)
    session_id = int_arg(args[0]) if args else None
    t = context.t
    actor = context.actor
    rt = context.rt
    ts = None
    if session_id is not None:
        async with rt.db.unit_of_work() as session:
            ts = await sessions.get_in_cohort(session, session_id, actor.active_cohort_id)
    if ts is None:
        await stale_button(update, context)
        return
    await answer_callback(update)
    title = t.raw(N_("Séance {number} : {theme}")).format(
        number=ts.number, theme=reminders.theme_of(ts, t.lang)
    )
    data = calendar.session_ics(ts, title=title, description=title, now=rt.clock.now())
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(
        chat.id,
        InputFile(data, filename=calendar.filename(ts)),
        caption=t(
            "📆 Ouvrez ce fichier pour ajouter la séance {number} à votre agenda.", number=ts.number
        ),
    )


# --- registration -----------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    planning: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("nouvelle_seance", new_session, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & menu_button("nouvelle_seance"), new_session),
        ],
        states={
            DATE: [
                CallbackQueryHandler(chose_date, pattern=r"^newsess:d:"),
                MessageHandler(TYPED, typed_date),
            ],
            TIME: [
                CallbackQueryHandler(chose_time, pattern=r"^newsess:t:"),
                MessageHandler(TYPED, typed_time),
            ],
            PLACE: [
                CallbackQueryHandler(chose_place, pattern=r"^newsess:p:"),
                MessageHandler(TYPED, typed_place),
            ],
            THEME: [
                CallbackQueryHandler(chose_theme, pattern=r"^newsess:th:"),
                MessageHandler(TYPED, typed_theme),
            ],
            CAPACITY: [
                CallbackQueryHandler(chose_capacity, pattern=r"^newsess:c:"),
                MessageHandler(TYPED, typed_capacity),
            ],
            CONFIRM: [CallbackQueryHandler(confirm, pattern=r"^newsess:ok$")],
        },
        fallbacks=[
            CommandHandler("annuler", cancel_planning, filters=NEW_MESSAGE),
            CallbackQueryHandler(cancel_planning, pattern=r"^newsess:x$"),
            CallbackQueryHandler(repeat_question, pattern=r"^newsess:"),
            MessageHandler(NEW_MESSAGE & ~filters.COMMAND & ~ANY_MENU_BUTTON, repeat_question),
        ],
        name="new_session",
        persistent=True,
        allow_reentry=True,
    )
    editing: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[CallbackQueryHandler(start_edit, pattern=_CALLBACK_ID)],
        states={EDIT: [MessageHandler(TYPED, typed_edit)]},
        fallbacks=[CommandHandler("annuler", cancel_edit, filters=NEW_MESSAGE)],
        name="edit_session",
        persistent=True,
        allow_reentry=True,
    )
    return [planning, editing]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("seances", list_sessions, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("seances"), list_sessions),
        # Stale planning buttons (the conversation is over): say so instead of a spinner.
        CallbackQueryHandler(stale_button, pattern=r"^newsess:"),
        CallbackQueryHandler(on_card_button, pattern=r"^sess:"),
        CallbackQueryHandler(send_ics, pattern=r"^ics:"),
    ]
