"""`/reglages` (and the ⚙️ menu button): the member's preferences — tip days, tip time,
pause / resume — buttons only.

One message shows the rhythm and its buttons; every tap changes one thing and redraws that
message in place:

    set:day:<mon..sun>     switch a tip day on or off (at least one stays on)
    set:time:<HHMM>        one of the offered times (never inside the quiet hours)
    set:pause | set:resume
    set:share:on|off       share my progress with my trio (bot/services/trio_week.py)
    set:after:monthly|stop after the booster phase: keep a monthly check, or stop everything

Callback data is untrusted: the service accepts only the days and times the buttons offer.
"""

from __future__ import annotations

import logging
from datetime import time
from typing import Any

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import SET, AfterBoosterChoice, Pause, ShareWithTrio, TipDay, TipTime
from bot.config import WEEKDAYS
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.runtime import RelaisContext
from bot.services import booster
from bot.services import preferences as preferences_service
from bot.services.booster import MemberChoices, Phase
from bot.services.preferences import PreferenceChange, TipPreferences
from bot.services.tips import days_text
from handlers.common import answer_callback, answer_stale, clicked_in, drop_buttons
from handlers.menu import menu_button

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE


def preferences_text(
    t: Translator, preferences: TipPreferences, choices: MemberChoices | None = None
) -> str:
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
    if choices is not None:
        lines.append(
            t("👥 Vos nouvelles sont partagées avec votre trio.")
            if choices.share_with_trio
            else t("👥 Vos nouvelles ne sont pas partagées avec votre trio.")
        )
        if choices.phase is not Phase.SESSIONS:
            lines.append(
                t("🛑 Après le programme : plus rien.")
                if choices.after_booster == "stop"
                else t("📆 Après le programme : un point par mois.")
            )
    lines += ["", t("Touchez un jour pour l'ajouter ou le retirer, puis choisissez l'heure.")]
    return "\n".join(lines)


def preferences_buttons(
    t: Translator,
    preferences: TipPreferences,
    offered: tuple[time, ...],
    choices: MemberChoices | None = None,
) -> list[list[Button]]:
    names = t.locale.days["format"]["abbreviated"]
    days = [
        Button(
            ("✅ " if day in preferences.days else "") + str(names[index]),
            callback_data=TipDay(day).pack(),
        )
        for index, day in enumerate(WEEKDAYS)
    ]
    times = [
        Button(
            ("✅ " if at == preferences.at else "") + t.time(at),
            callback_data=TipTime(at).pack(),
        )
        for at in offered
    ]
    pause = (
        Button(t("▶️ Reprendre"), callback_data=Pause("resume").pack())
        if preferences.paused
        else Button(t("⏸ Mettre en pause"), callback_data=Pause("pause").pack())
    )
    rows = [days[:4], days[4:], times[:3], times[3:], [pause]]
    if choices is not None:
        rows.append(
            [
                Button(
                    t("👥 Ne plus partager avec mon trio"),
                    callback_data=ShareWithTrio("off").pack(),
                )
                if choices.share_with_trio
                else Button(
                    t("👥 Partager avec mon trio"), callback_data=ShareWithTrio("on").pack()
                )
            ]
        )
        if choices.phase is not Phase.SESSIONS:
            rows.append(
                [
                    Button(
                        ("✅ " if choices.after_booster != "stop" else "")
                        + t("📆 Un point par mois"),
                        callback_data=AfterBoosterChoice("monthly").pack(),
                    ),
                    Button(
                        ("✅ " if choices.after_booster == "stop" else "") + t("🛑 Tout arrêter"),
                        callback_data=AfterBoosterChoice("stop").pack(),
                    ),
                ]
            )
    return rows


def _offered(context: RelaisContext) -> tuple[time, ...]:
    return preferences_service.offered_times(context.rt.settings.quiet_window)


async def show_preferences(update: Update, context: RelaisContext) -> None:
    message = context.message
    member_id = context.merchant.member_id
    async with context.rt.db.unit_of_work() as session:
        preferences = await preferences_service.get_preferences(session, member_id)
        choices = await _choices(session, context, member_id)
    t = context.t
    await message.reply_text(
        preferences_text(t, preferences, choices),
        reply_markup=keyboard(preferences_buttons(t, preferences, _offered(context), choices)),
    )


async def _choices(session: Any, context: RelaisContext, member_id: int) -> MemberChoices | None:
    settings = context.rt.settings
    programme = booster.programme_of(settings, context.rt.content)
    return await booster.member_choices(session, member_id, context.rt.clock.now(), programme)


async def on_button(update: Update, context: RelaisContext) -> None:
    t = context.t
    query = context.query
    member_id = context.actor.member_id
    button = clicked_in(update, SET)
    if member_id is None:
        await answer_stale(update, t)
        return
    async with context.rt.db.unit_of_work() as session:
        if isinstance(button, TipDay):
            change, preferences = await preferences_service.toggle_day(
                session, member_id, button.day
            )
        elif isinstance(button, TipTime):
            change, preferences = await preferences_service.set_time(
                session, member_id, button.at, context.rt.settings.quiet_window
            )
        elif isinstance(button, Pause):
            change, preferences = await preferences_service.set_paused(
                session, member_id, button.action == "pause"
            )
        elif isinstance(button, ShareWithTrio):
            changed = await booster.set_share_with_trio(session, member_id, button.answer == "on")
            change = PreferenceChange.CHANGED if changed else PreferenceChange.NOT_OFFERED
            preferences = await preferences_service.get_preferences(session, member_id)
        elif isinstance(button, AfterBoosterChoice):
            changed = await booster.set_after_booster(session, member_id, button.choice)
            change = PreferenceChange.CHANGED if changed else PreferenceChange.NOT_OFFERED
            preferences = await preferences_service.get_preferences(session, member_id)
        else:
            change, preferences = PreferenceChange.NOT_OFFERED, None
        choices = await _choices(session, context, member_id)
    if change is PreferenceChange.NOT_OFFERED or preferences is None:
        await answer_stale(update, t)
        return
    if change is PreferenceChange.LAST_DAY:
        await answer_callback(
            update,
            t("Gardez au moins un jour. Pour tout arrêter un moment, touchez ⏸ Mettre en pause."),
            alert=True,
        )
        return
    if isinstance(button, Pause) and button.action == "pause":
        await answer_callback(update, t("⏸ C'est en pause. Revenez ici pour reprendre."))
    elif isinstance(button, Pause):
        await answer_callback(update, t("▶️ C'est reparti !"))
    elif isinstance(button, AfterBoosterChoice) and button.choice == "stop":
        await answer_callback(update, t("🛑 C'est noté : je ne vous envoie plus rien. Merci !"))
    else:
        await answer_callback(update, t("C'est noté ✅"))
    if change is PreferenceChange.UNCHANGED or query.message is None:
        return
    if isinstance(button, AfterBoosterChoice) and not _is_settings(query.message):
        # From the farewell: keep its words, drop its buttons (the choice is in /reglages).
        await drop_buttons(update)
        if button.choice == "monthly":
            await context.bot.send_message(
                context.chat_id, t("📆 C'est noté : un point par mois. À bientôt !")
            )
        return
    try:
        await query.edit_message_text(
            preferences_text(t, preferences, choices),
            reply_markup=keyboard(preferences_buttons(t, preferences, _offered(context), choices)),
        )
    except BadRequest as exc:  # too old to edit: show the settings again
        log.debug("could not redraw the settings: %s", exc)
        await show_preferences(update, context)


def _is_settings(message: Any) -> bool:
    text = getattr(message, "text", None) or ""
    return text.startswith("⚙️")


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("reglages", show_preferences, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("reglages"), show_preferences),
        CallbackQueryHandler(on_button, pattern=SET.pattern),
    ]
