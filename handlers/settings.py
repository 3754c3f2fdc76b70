"""`/reglages` (and the ⚙️ menu button): the member's preferences — tip days, tip time,
pause / resume — buttons only.

One message shows the rhythm and its buttons; every tap changes one thing and redraws that
message in place:

    set:day:<mon..sun>     switch a tip day on or off (at least one stays on)
    set:time:<HHMM>        one of the offered times (never inside the quiet hours)
    set:pause | set:resume

Callback data is untrusted: the service accepts only the days and times the buttons offer.
"""

from __future__ import annotations

import logging
from datetime import time
from typing import Any

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.config import WEEKDAYS
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.runtime import RelaisContext
from bot.services import preferences as preferences_service
from bot.services.preferences import PreferenceChange, TipPreferences
from bot.services.tips import days_text
from handlers.common import answer_callback
from handlers.menu import menu_button
from handlers.tips import markup

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE


def preferences_text(t: Translator, preferences: TipPreferences) -> str:
    lines = [t("⚙️ <b>Vos réglages</b>"), ""]
    if preferences.paused:
        lines.append(
            t(
                "⏸ <b>En pause</b> : je ne vous envoie plus rien (ni astuce, ni rappel) "
                "jusqu'à ce que vous repreniez."
            )
        )
    else:
        lines.append(
            t(
                "💡 Vous recevez une astuce chaque {days} à {time}.",
                days=days_text(t, preferences.days),
                time=t.time(preferences.at),
            )
        )
    lines += ["", t("Touchez un jour pour l'ajouter ou le retirer, puis choisissez l'heure.")]
    return "\n".join(lines)


def _time_code(at: time) -> str:
    return f"{at.hour:02d}{at.minute:02d}"


def preferences_buttons(
    t: Translator, preferences: TipPreferences, offered: tuple[time, ...]
) -> list[list[Button]]:
    names = t.locale.days["format"]["abbreviated"]
    days = [
        Button(
            ("✅ " if day in preferences.days else "") + str(names[index]),
            callback_data=f"set:day:{day}",
        )
        for index, day in enumerate(WEEKDAYS)
    ]
    times = [
        Button(
            ("✅ " if at == preferences.at else "") + t.time(at),
            callback_data=f"set:time:{_time_code(at)}",
        )
        for at in offered
    ]
    pause = (
        Button(t("▶️ Reprendre"), callback_data="set:resume")
        if preferences.paused
        else Button(t("⏸ Mettre en pause"), callback_data="set:pause")
    )
    return [days[:4], days[4:], times[:3], times[3:], [pause]]


def _offered(context: RelaisContext) -> tuple[time, ...]:
    return preferences_service.offered_times(context.rt.settings.quiet_window)


async def show_preferences(update: Update, context: RelaisContext) -> None:
    message = update.effective_message
    assert message is not None
    member_id = context.actor.member_id
    assert member_id is not None  # the gate let a merchant through
    async with context.rt.db.unit_of_work() as session:
        preferences = await preferences_service.get_preferences(session, member_id)
    t = context.t
    await message.reply_text(
        preferences_text(t, preferences),
        reply_markup=markup(preferences_buttons(t, preferences, _offered(context))),
    )


def _parse_time(code: str) -> time | None:
    if len(code) != 4 or not code.isdigit():
        return None
    hour, minute = int(code[:2]), int(code[2:])
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


async def on_button(update: Update, context: RelaisContext) -> None:
    t = context.t
    query = update.callback_query
    assert query is not None
    member_id = context.actor.member_id
    parts = (query.data or "").split(":")
    action = parts[1] if len(parts) > 1 else ""
    if member_id is None:
        await answer_callback(update, t("Ce bouton n'est plus valable."))
        return
    async with context.rt.db.unit_of_work() as session:
        if action == "day" and len(parts) == 3:
            change, preferences = await preferences_service.toggle_day(session, member_id, parts[2])
        elif action == "time" and len(parts) == 3 and (at := _parse_time(parts[2])) is not None:
            change, preferences = await preferences_service.set_time(
                session, member_id, at, context.rt.settings.quiet_window
            )
        elif action in ("pause", "resume") and len(parts) == 2:
            change, preferences = await preferences_service.set_paused(
                session, member_id, action == "pause"
            )
        else:
            change, preferences = PreferenceChange.NOT_OFFERED, None
    if change is PreferenceChange.NOT_OFFERED or preferences is None:
        await answer_callback(update, t("Ce bouton n'est plus valable."))
        return
    if change is PreferenceChange.LAST_DAY:
        await answer_callback(
            update,
            t("Gardez au moins un jour. Pour tout arrêter un moment, touchez ⏸ Mettre en pause."),
            alert=True,
        )
        return
    if action == "pause":
        await answer_callback(update, t("⏸ C'est en pause. Revenez ici pour reprendre."))
    elif action == "resume":
        await answer_callback(update, t("▶️ C'est reparti !"))
    else:
        await answer_callback(update, t("C'est noté ✅"))
    if change is PreferenceChange.UNCHANGED or query.message is None:
        return
    try:
        await query.edit_message_text(
            preferences_text(t, preferences),
            reply_markup=markup(preferences_buttons(t, preferences, _offered(context))),
        )
    except BadRequest as exc:  # too old to edit: show the settings again
        log.debug("could not redraw the settings: %s", exc)
        await show_preferences(update, context)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("reglages", show_preferences, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("reglages"), show_preferences),
        CallbackQueryHandler(on_button, pattern=r"^set:"),
    ]
