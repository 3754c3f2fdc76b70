"""The first coordinator: `/start setup_<code>` (deep link) or `/setup <code>` (typed).

`relais init` prints a one-time code when no coordinator is named in ADMIN_IDS; whoever
sends it first becomes coordinator of the first cohort (bot/services/setup.py). Registered
before the onboarding's /start handlers, so that the code wins over any conversation.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.runtime import RelaisContext
from bot.services import members, staff
from bot.services import setup as setup_codes
from bot.services.setup import SETUP_PREFIX, SetupOutcome
from handlers.help import refresh_staff_commands
from handlers.menu import main_menu
from handlers.onboarding.shared import NEW_MESSAGE, identity_of, rhythm, translator

log = logging.getLogger(__name__)

_DEEP_LINK = re.compile(rf"^/start(@\w+)?\s+{SETUP_PREFIX}(\S*)\s*$")


async def start_setup(update: Update, context: RelaisContext) -> None:
    """`/start setup_<code>`: the link printed by `relais init`."""
    message = context.message
    match = _DEEP_LINK.match(message.text or "")
    await _use(update, context, match.group(2) if match else "")


async def setup_command(update: Update, context: RelaisContext) -> None:
    """`/setup <code>`: the same, typed (for a code read on another screen)."""
    message = context.message
    code = " ".join(context.args or [])
    if not code:
        t = translator(context)
        await message.reply_text(
            t(
                "Envoyez le code de démarrage affiché par <code>relais init</code>, "
                "par exemple : /setup K7M2PQ4XZA"
            )
        )
        return
    await _use(update, context, code)


async def _use(update: Update, context: RelaisContext, code: str) -> None:
    message = context.message
    t = translator(context)
    rt = context.rt
    now = rt.clock.now()
    actor = context.actor
    chat = None
    async with rt.db.unit_of_work() as session:
        member, _ = await members.ensure_member(
            session, identity_of(context, actor.language), now=now, rhythm=rhythm(context)
        )
        result = await setup_codes.use_code(session, code, member_id=member.id, now=now)
        if result.outcome is SetupOutcome.ACCEPTED:
            chat = await staff.staff_chat(session, member.id, rt.settings.admin_ids)
        language = member.language
    if result.outcome is SetupOutcome.UNKNOWN:
        log.info("unknown setup code from %s", actor.telegram_user_id)
        await message.reply_text(
            t(
                "Ce code de démarrage n'est pas valable, ou il a expiré 🤔\n"
                "Sur l'ordinateur où Relais est installé, <code>relais init</code> en "
                "affiche un nouveau."
            )
        )
        return
    if result.outcome is SetupOutcome.USED:
        await message.reply_text(
            t(
                "Ce code de démarrage a déjà servi : il ne fonctionne qu'une fois. "
                "Demandez à la coordination de vous inviter (/inviter)."
            )
        )
        return
    if result.outcome is SetupOutcome.NO_COHORT:
        await message.reply_text(
            t(
                "Le code est bon, mais il n'y a pas encore de groupe. Sur l'ordinateur où "
                "Relais est installé, lancez <code>relais init</code> (ou "
                "<code>relais cohort create</code>), puis renvoyez ce code."
            )
        )
        return
    log.info("setup code used: %s coordinates cohort %s", actor.telegram_user_id, result.cohort_id)
    t = rt.i18n(language, actor.zone)
    await message.reply_text(
        t(
            "C'est fait : vous coordonnez le groupe <b>{cohort}</b> 🎉\n\n"
            "Prochaine étape : /inviter vous donne le lien et le QR code pour les "
            "participants, une affiche à imprimer, et les invitations pour le formateur.\n"
            "Toutes vos commandes : /aide",
            cohort=result.cohort_name or "",
        ),
        reply_markup=main_menu(t, staff=True),
    )
    if chat is not None:
        await refresh_staff_commands(context.bot, rt.i18n, chat)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("start", start_setup, filters=NEW_MESSAGE & filters.Regex(_DEEP_LINK)),
        CommandHandler("setup", setup_command, filters=NEW_MESSAGE),
    ]
