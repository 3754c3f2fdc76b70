"""`/nouvelle_seance`: plan a session, guided with buttons (DATE → TIME → PLACE → THEME →
CAPACITY → CONFIRM, a persistent conversation) or in one line. The curriculum offers the
themes; the members are reminded by the outbox."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import ConversationHandler

from bot.callbacks import PlanCapacity, PlanDate, PlanPlace, PlanStep, PlanTheme, PlanTime
from bot.content import ContentLibrary
from bot.delivery.registry import Button
from bot.keyboards import keyboard
from bot.models import TrainingSession
from bot.runtime import RelaisContext
from bot.services import reminders, sessions
from bot.services.sessions import ParseError, ParseProblem, SessionDraft
from handlers.common import answer_callback, clicked, drop_buttons, send, stale
from handlers.sessions.shared import (
    CAPACITY,
    CAPACITY_CHOICES,
    CONFIRM,
    DATE,
    DATE_BUTTONS,
    DRAFT,
    PLACE,
    THEME,
    TIME,
    TIME_CHOICES,
    explain,
    one_line_example,
    send_card,
)

log = logging.getLogger(__name__)


def _library(context: RelaisContext) -> ContentLibrary:
    """The curriculum (themes offered when planning), read once by build_application."""
    return context.rt.content


# --- small helpers ----------------------------------------------------------------------------


def _draft(context: RelaisContext) -> dict[str, Any]:
    data = context.store
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


# --- /nouvelle_seance -------------------------------------------------------------------------


async def new_session(update: Update, context: RelaisContext) -> str | int:
    message = context.message
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
    context.store[DRAFT] = {}
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
        await send(context, explain(t, draft) + "\n\n" + one_line_example(t))
        return
    await send(context, t("✅ Séance planifiée ! Les rappels partiront d'eux-mêmes."))
    await send_card(context, ts, {})


async def ask_date(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.staff.cohort_id
    today = _today(context, await _zone(context, cohort_id))
    days = [today + timedelta(days=i) for i in range(DATE_BUTTONS)]
    items = [Button(t.date(day, "EEE d MMM"), PlanDate(day).pack()) for day in days]
    rows = [items[i : i + 3] for i in range(0, len(items), 3)]
    rows.append([Button(t("✖️ Annuler"), PlanStep("x").pack())])
    await send(
        context,
        t("📅 Quel jour ? Choisissez, ou écrivez la date (par exemple 02/12/2026)."),
        reply_markup=keyboard(rows),
    )
    return DATE


async def chose_date(update: Update, context: RelaisContext) -> str:
    button = clicked(update, PlanDate)
    await answer_callback(update)
    if button is None:
        return await ask_date(update, context)
    day = button.day
    await drop_buttons(update)
    return await _take_date(update, context, day)


async def typed_date(update: Update, context: RelaisContext) -> str:
    day = sessions.parse_date(context.text)
    if isinstance(day, ParseError):
        await send(context, explain(context.t, day))
        return DATE
    return await _take_date(update, context, day)


async def _take_date(update: Update, context: RelaisContext, day: date) -> str:
    t = context.t
    cohort_id = context.staff.cohort_id
    zone = await _zone(context, cohort_id)
    if day < _today(context, zone):
        await send(
            context,
            explain(t, ParseError(ParseProblem.PAST, t.date(day, "d MMMM yyyy"))),
        )
        return await ask_date(update, context)
    if day > _today(context, zone) + timedelta(days=sessions.HORIZON_DAYS):
        await send(
            context,
            explain(t, ParseError(ParseProblem.TOO_FAR, t.date(day, "d MMMM yyyy"))),
        )
        return await ask_date(update, context)
    _draft(context)["date"] = day.isoformat()
    return await ask_time(update, context)


async def ask_time(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.staff.cohort_id
    async with context.rt.db.unit_of_work() as session:
        zone = await sessions.cohort_zone(session, cohort_id, context.rt.settings.timezone)
        usual = await sessions.usual_time(session, cohort_id, zone)
    choices = list(dict.fromkeys([*([usual] if usual else []), *TIME_CHOICES]))
    items = [Button(t.time(at), PlanTime(at).pack()) for at in choices]
    rows = [items[i : i + 3] for i in range(0, len(items), 3)]
    rows.append([Button(t("✖️ Annuler"), PlanStep("x").pack())])
    day = date.fromisoformat(_draft(context)["date"])
    await send(
        context,
        t(
            "🕒 À quelle heure, le {day} ? Choisissez, ou écrivez l'heure (par exemple 19:00).",
            day=t.date(day),
        ),
        reply_markup=keyboard(rows),
    )
    return TIME


async def chose_time(update: Update, context: RelaisContext) -> str:
    button = clicked(update, PlanTime)
    await answer_callback(update)
    at = button.at if button is not None else None
    if at is None:
        return await ask_time(update, context)
    await drop_buttons(update)
    return await _take_time(update, context, at)


async def typed_time(update: Update, context: RelaisContext) -> str:
    at = sessions.parse_time(context.text)
    if isinstance(at, ParseError):
        await send(context, explain(context.t, at))
        return TIME
    return await _take_time(update, context, at)


async def _starts_at(context: RelaisContext, draft: dict[str, Any]) -> datetime | ParseError:
    cohort_id = context.staff.cohort_id
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
        await send(context, explain(context.t, instant))
        return await ask_time(update, context)
    return await ask_place(update, context)


async def ask_place(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.staff.cohort_id
    async with context.rt.db.unit_of_work() as session:
        places = await sessions.recent_places(session, cohort_id)
    _draft(context)["places"] = places
    rows = [[Button(place[:60], PlanPlace(index).pack())] for index, place in enumerate(places)]
    rows.append([Button(t("✖️ Annuler"), PlanStep("x").pack())])
    question = (
        t("📍 Où ? Choisissez un lieu déjà utilisé, ou écrivez le lieu.")
        if places
        else t("📍 Où ? Écrivez le lieu (par exemple : Salle du Conseil, rue de l'Église 1).")
    )
    await send(context, question, reply_markup=keyboard(rows))
    return PLACE


async def chose_place(update: Update, context: RelaisContext) -> str:
    button = clicked(update, PlanPlace)
    await answer_callback(update)
    places = _draft(context).get("places") or []
    index = button.index if button is not None else None
    if index is None or index >= len(places):
        return await ask_place(update, context)
    await drop_buttons(update)
    _draft(context)["place"] = places[index]
    return await ask_theme(update, context)


async def typed_place(update: Update, context: RelaisContext) -> str:
    place = sessions.clean_place(context.text)
    if isinstance(place, ParseError):
        await send(context, explain(context.t, place))
        return PLACE
    _draft(context)["place"] = place
    return await ask_theme(update, context)


async def ask_theme(update: Update, context: RelaisContext) -> str:
    t = context.t
    cohort_id = context.staff.cohort_id
    library = _library(context)
    rows: list[list[Button]] = []
    if library is not None and library.sessions:
        async with context.rt.db.unit_of_work() as session:
            used = await sessions.used_theme_codes(session, cohort_id)
        suggested = next(
            (item.number for item in library.sessions if item.main_theme not in used), None
        )
        for item in library.sessions:
            mark = "⭐ " if item.number == suggested else ""
            rows.append(
                [
                    Button(
                        f"{mark}{item.number}. {item.title(t.lang)}"[:60],
                        PlanTheme(item.number).pack(),
                    )
                ]
            )
    rows.append([Button(t("✖️ Annuler"), PlanStep("x").pack())])
    await send(
        context,
        t("🎯 Quel thème ? Choisissez dans le programme (⭐ : le suivant), ou écrivez-le."),
        reply_markup=keyboard(rows),
    )
    return THEME


async def chose_theme(update: Update, context: RelaisContext) -> str:
    button = clicked(update, PlanTheme)
    await answer_callback(update)
    library = _library(context)
    number = button.number if button is not None else None
    item = library.session(number) if library is not None and number is not None else None
    if item is None:
        return await ask_theme(update, context)
    await drop_buttons(update)
    draft = _draft(context)
    draft["theme"] = item.title(context.t.lang)
    draft["theme_code"] = item.main_theme
    return await ask_capacity(update, context)


async def typed_theme(update: Update, context: RelaisContext) -> str:
    theme = sessions.clean_theme(context.text)
    if isinstance(theme, ParseError):
        await send(context, explain(context.t, theme))
        return THEME
    draft = _draft(context)
    draft["theme"] = theme
    draft["theme_code"] = None
    return await ask_capacity(update, context)


async def ask_capacity(update: Update, context: RelaisContext) -> str:
    t = context.t
    seats = [Button(str(n), PlanCapacity(n).pack()) for n in CAPACITY_CHOICES]
    rows = [
        [Button(t("♾ Pas de limite"), PlanCapacity(0).pack())],
        seats,
        [Button(t("✖️ Annuler"), PlanStep("x").pack())],
    ]
    await send(
        context,
        t(
            "👥 Combien de places ? Au-delà, les suivants vont sur une liste d'attente. "
            "Choisissez, ou écrivez un nombre."
        ),
        reply_markup=keyboard(rows),
    )
    return CAPACITY


async def chose_capacity(update: Update, context: RelaisContext) -> str:
    button = clicked(update, PlanCapacity)
    await answer_callback(update)
    value = (
        sessions.parse_capacity(str(button.seats))
        if button is not None
        else ParseError(ParseProblem.BAD_CAPACITY)
    )
    if isinstance(value, ParseError):
        return await ask_capacity(update, context)
    await drop_buttons(update)
    _draft(context)["capacity"] = value
    return await ask_confirm(update, context)


async def typed_capacity(update: Update, context: RelaisContext) -> str:
    value = sessions.parse_capacity(context.text)
    if isinstance(value, ParseError):
        await send(context, explain(context.t, value))
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
        await send(context, explain(t, starts_at))
        return await ask_date(update, context)
    preview = _preview(draft, starts_at)
    lines = [t("On planifie cette séance ?"), reminders.describe(t, preview, context.rt.content)]
    capacity = draft.get("capacity")
    lines.append(
        t("👥 {capacity} places", capacity=capacity) if capacity else t("👥 Pas de limite")
    )
    await send(
        context,
        "\n".join(lines),
        reply_markup=keyboard(
            [
                [
                    Button(t("✅ Planifier"), PlanStep("ok").pack()),
                    Button(t("✖️ Annuler"), PlanStep("x").pack()),
                ]
            ]
        ),
    )
    return CONFIRM


async def confirm(update: Update, context: RelaisContext) -> str | int:
    await answer_callback(update)
    await drop_buttons(update)
    t = context.t
    rt = context.rt
    cohort_id = context.staff.cohort_id
    draft = _draft(context)
    if not all(draft.get(key) for key in ("date", "time", "place", "theme")):
        return await ask_date(update, context)
    starts_at = await _starts_at(context, draft)
    if isinstance(starts_at, ParseError):
        await send(context, explain(t, starts_at))
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
    context.store.pop(DRAFT, None)
    await send(context, t("✅ Séance planifiée ! Les rappels partiront d'eux-mêmes."))
    await send_card(context, ts, {})
    return ConversationHandler.END


async def cancel_planning(update: Update, context: RelaisContext) -> int:
    await answer_callback(update)
    await drop_buttons(update)
    context.store.pop(DRAFT, None)
    await send(context, context.t("D'accord, je n'ai rien planifié."))
    return ConversationHandler.END


async def repeat_question(update: Update, context: RelaisContext) -> str | None:
    """Something else than the expected answer: ask the current question again."""
    if update.callback_query is not None:
        await stale(update, context)
        return None
    await send(context, context.t("Reprenons 🙂"))
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
