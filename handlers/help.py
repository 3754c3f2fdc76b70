"""Help and language: `/aide` (`/help`), `/langue`, and the command menus (`/privacy` lives in
handlers/privacy.py).

One table (`COMMANDS`) says which commands each role sees; `/aide` and Telegram's command
menu (setMyCommands) are both built from it, so they never disagree. Merchants and strangers
get the default menu in fr/nl/en; each staff member gets their own (a per-chat scope),
refreshed when they become staff or change language.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ExtBot, MessageHandler

from bot.callbacks import Language
from bot.i18n import LANGUAGES, N_, I18n, Translator
from bot.models import Role
from bot.runtime import RelaisApp, RelaisContext
from bot.services import members, staff
from bot.services.staff import StaffChat
from handlers.common import answer_callback, answer_stale, clicked, drop_buttons
from handlers.menu import main_menu, menu_button
from handlers.onboarding.shared import (
    CHOSEN_LANGUAGE,
    DRAFT,
    LANGUAGE_NAMES,
    NEW_MESSAGE,
    invitation_hint,
    language_keyboard,
    translator,
)

log = logging.getLogger(__name__)

M, T, C = Role.MERCHANT, Role.TRAINER, Role.COORDINATOR
EVERYONE = frozenset({M, T, C})


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # N_-marked French, translated per reader
    roles: frozenset[Role]


# Display order of /aide and of Telegram's menu.
COMMANDS: tuple[Command, ...] = (
    Command("objectif", N_("Me fixer un objectif"), frozenset({M})),
    Command("objectifs", N_("Mes objectifs"), frozenset({M})),
    Command("astuce", N_("Une astuce maintenant"), frozenset({M})),
    Command("point", N_("Faire le point du mois (1 min)"), frozenset({M})),
    Command("progres", N_("Mes progrès en courbe"), frozenset({M})),
    Command("seances", N_("Les prochaines séances"), EVERYONE),
    Command("question", N_("Poser une question au formateur"), frozenset({M})),
    Command("reglages", N_("Jours des astuces, pause"), frozenset({M})),
    Command("trio", N_("Mon trio"), frozenset({M})),
    Command("defi", N_("Le défi de la semaine"), EVERYONE),
    Command("nouvelle_seance", N_("Planifier une séance"), frozenset({T, C})),
    Command("groupe", N_("Les objectifs du groupe"), frozenset({T, C})),
    Command("qr", N_("Le QR code de présence"), frozenset({T, C})),
    Command("appel", N_("Faire l'appel"), frozenset({T, C})),
    Command("diffuser", N_("Envoyer un message au groupe"), frozenset({T, C})),
    Command("trios", N_("Former les trios du groupe"), frozenset({T, C})),
    Command("presences", N_("Les présences d'une séance"), frozenset({T, C})),
    Command("stats", N_("Présence et participation"), frozenset({C})),
    Command("export", N_("Tout exporter (Excel)"), frozenset({C})),
    Command("bilan", N_("Le bilan du programme (PDF)"), frozenset({T, C})),
    Command("inviter", N_("Inviter des participants et l'équipe"), frozenset({C})),
    Command("cohorte", N_("Choisir le groupe"), frozenset({T, C})),
    Command("aide", N_("Ce que je sais faire"), EVERYONE),
    Command("langue", N_("Changer de langue"), EVERYONE),
    Command("privacy", N_("Vos données"), EVERYONE),
    Command("mesdonnees", N_("Recevoir une copie de mes données"), EVERYONE),
    Command("oublier", N_("Effacer mes données"), EVERYONE),
)


COHORTE = next(c for c in COMMANDS if c.name == "cohorte")
_LAST = [c for c in COMMANDS if c.roles == EVERYONE and c.name != "seances"]


def commands_for(roles: frozenset[Role]) -> list[Command]:
    return [command for command in COMMANDS if command.roles & roles]


def bot_commands(t: Translator, roles: frozenset[Role]) -> list[BotCommand]:
    return [BotCommand(c.name, t(c.description)) for c in commands_for(roles)]


# --- Telegram's command menu -------------------------------------------------------------
async def set_bot_commands(app: RelaisApp) -> None:
    """At start-up: the default menu per language, then each staff member's own menu.

    A failure here must not stop the bot: the menu is a convenience, every command works
    without it. Errors are logged.
    """
    runtime = app.bot_data.runtime
    assert runtime is not None
    bot = app.bot
    merchant = frozenset({M})
    try:
        for lang in LANGUAGES:
            await bot.set_my_commands(
                bot_commands(runtime.i18n(lang), merchant),
                scope=BotCommandScopeDefault(),
                language_code=lang,
            )
        # For every other language, the default language.
        await bot.set_my_commands(
            bot_commands(runtime.i18n(runtime.settings.default_language), merchant),
            scope=BotCommandScopeDefault(),
        )
    except TelegramError:
        log.warning("could not set the default command menu", exc_info=True)
    async with runtime.db.read() as session:
        chats = await staff.staff_chats(session, runtime.settings.admin_ids)
    for chat in chats:
        await refresh_staff_commands(bot, runtime.i18n, chat)


async def refresh_staff_commands(bot: ExtBot[Any], i18n: I18n, chat: StaffChat) -> None:
    """Give one staff member's private chat the menu of their roles, in their language."""
    t = i18n(chat.language or None)
    try:
        await bot.set_my_commands(
            bot_commands(t, chat.roles), scope=BotCommandScopeChat(chat.chat_id)
        )
    except BadRequest:
        # An admin who never opened the chat: Telegram does not know it yet ("chat not found").
        log.info("no command menu for chat %s yet", chat.chat_id)
    except TelegramError:
        log.warning("could not set the command menu of chat %s", chat.chat_id, exc_info=True)


# --- /aide ---------------------------------------------------------------------------------
def _reader_roles(context: RelaisContext) -> frozenset[Role]:
    actor = context.actor
    roles = set(actor.roles)
    if actor.is_admin:
        roles.add(C)
    if Role.MERCHANT in roles and not actor.onboarded:
        roles.discard(Role.MERCHANT)
    return frozenset(roles)


async def show_help(update: Update, context: RelaisContext) -> None:
    message = context.message
    t = translator(context)
    roles = _reader_roles(context)
    if not roles:
        await message.reply_text(
            invitation_hint(t)
            + "\n\n"
            + "\n".join(
                t("/{command} – {description}", command=c.name, description=t(c.description))
                for c in COMMANDS
                if c.name in ("langue", "privacy")
            )
        )
        return
    shown = commands_for(roles)
    if len(context.actor.cohort_ids) > 1 and COHORTE not in shown:
        # A merchant in several cohorts picks the one the bot talks about.
        shown.insert(-len(_LAST), COHORTE)
    lines = [
        t("/{command} – {description}", command=c.name, description=t(c.description)) for c in shown
    ]
    if C in roles:
        intro = t("Voici ce que vous pouvez faire pour la coordination :")
    elif T in roles:
        intro = t("Voici ce que vous pouvez faire pour animer la formation :")
    else:
        intro = t("Voici ce que je peux faire pour vous :")
    outro = t("Le plus simple : les boutons en bas de l'écran 👇")
    await message.reply_text(
        intro + "\n\n" + "\n".join(lines) + "\n\n" + outro,
        reply_markup=main_menu(t, staff=bool(roles & {T, C})),
    )


# --- /langue --------------------------------------------------------------------------------
async def choose_language(update: Update, context: RelaisContext) -> None:
    message = context.message
    t = translator(context)
    await message.reply_text(
        t("Dans quelle <b>langue</b> préférez-vous que je vous écrive ?"),
        reply_markup=language_keyboard(),
    )


async def set_language(update: Update, context: RelaisContext) -> None:
    """`lang:<code>`: switch at once, and re-send the menu in the new language."""
    button = clicked(update, Language)
    rt = context.rt
    actor = context.actor
    if button is None or not members.is_language(button.code):
        await answer_stale(update, translator(context))
        return
    lang = button.code
    t = rt.i18n(lang, actor.zone)
    await answer_callback(update)
    await drop_buttons(update)
    confirmation = t(
        "C'est noté : je vous écris désormais en {language}.", language=LANGUAGE_NAMES[lang]
    )
    if actor.member_id is None:
        # No member row yet: remember the choice for the onboarding to come.
        context.store[CHOSEN_LANGUAGE] = lang
        draft = context.store.get(DRAFT)
        if isinstance(draft, dict):
            draft["language"] = lang
        await context.bot.send_message(context.chat_id, confirmation)
        return
    async with rt.db.unit_of_work() as session:
        await members.set_language(session, actor.member_id, lang)
        staff_chat = await staff.staff_chat(session, actor.member_id, rt.settings.admin_ids)
    show_menu = actor.onboarded or actor.is_staff
    await context.bot.send_message(
        context.chat_id,
        confirmation,
        reply_markup=main_menu(t, staff=actor.is_staff) if show_menu else None,
    )
    if staff_chat is not None:
        await refresh_staff_commands(context.bot, rt.i18n, staff_chat)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler(["aide", "help"], show_help, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("aide"), show_help),
        CommandHandler("langue", choose_language, filters=NEW_MESSAGE),
        CallbackQueryHandler(set_language, pattern=Language.pattern()),
    ]
