"""What nobody else handled: a short, kind answer in the person's language, and nothing changes.

`handlers()` comes last in handlers.register: stickers, photos, voice notes, documents,
locations, unknown text outside a conversation, a `/start` link nobody recognised, stale
buttons. `edited_handlers()` comes first: an edited message is never taken as a new answer
(it would replay a command or an answer to a question already past).
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.runtime import RelaisContext
from handlers.common import answer_stale
from handlers.menu import main_menu
from handlers.onboarding.shared import NEW_MESSAGE, invitation_hint, translator


def _is_known(context: RelaisContext) -> bool:
    actor = context.actor
    return actor.onboarded or actor.is_staff or actor.is_admin


async def _reply(update: Update, context: RelaisContext, text: str) -> None:
    message = update.effective_message
    if message is None:
        return
    t = translator(context)
    if _is_known(context):
        # Re-attach the main menu: it may have been hidden or lost.
        staff = context.actor.is_staff or context.actor.is_admin
        await message.reply_text(text, reply_markup=main_menu(t, staff=staff))
    else:
        await message.reply_text(text + "\n\n" + invitation_hint(t))


async def on_edit(update: Update, context: RelaisContext) -> None:
    t = translator(context)
    await _reply(
        update,
        context,
        t(
            "J'ai vu que vous avez modifié un message : je ne peux pas en tenir compte. "
            "Envoyez plutôt un nouveau message 🙂"
        ),
    )


async def on_media(update: Update, context: RelaisContext) -> None:
    t = translator(context)
    if _is_known(context):
        text = t(
            "Merci ! Je ne sais lire que le texte et les boutons 🙂 "
            "Utilisez le menu en bas de l'écran, ou tapez /aide."
        )
    else:
        text = t("Merci ! Je ne sais lire que le texte et les boutons 🙂")
    await _reply(update, context, text)


async def on_text(update: Update, context: RelaisContext) -> None:
    t = translator(context)
    if _is_known(context):
        text = t(
            "Je n'ai pas bien compris 🤔 Utilisez les boutons du menu en bas de l'écran, "
            "ou tapez /aide."
        )
    else:
        text = t("Je n'ai pas bien compris 🤔")
    await _reply(update, context, text)


async def on_command(update: Update, context: RelaisContext) -> None:
    """A known command (the access gate let it through) that no feature answered."""
    t = translator(context)
    await _reply(
        update,
        context,
        t("Cette fonction n'est pas disponible pour l'instant. Tapez /aide pour voir la liste."),
    )


async def on_unknown_start(update: Update, context: RelaisContext) -> None:
    """`/start <payload>` that no feature recognised (a mistyped or truncated link)."""
    t = translator(context)
    await _reply(
        update,
        context,
        t(
            "Ce lien n'est pas (ou plus) valable 🤔 "
            "Demandez un nouveau lien à votre formateur ou à la commune."
        ),
    )


async def nothing_to_cancel(update: Update, context: RelaisContext) -> None:
    t = translator(context)
    await _reply(update, context, t("Il n'y a rien à annuler 🙂"))


async def on_stale_button(update: Update, context: RelaisContext) -> None:
    await answer_stale(update, translator(context))


def edited_handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [MessageHandler(filters.UpdateType.EDITED_MESSAGE, on_edit)]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("start", on_unknown_start, filters=NEW_MESSAGE),
        CommandHandler("annuler", nothing_to_cancel, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & filters.COMMAND, on_command),
        MessageHandler(NEW_MESSAGE & filters.TEXT, on_text),
        MessageHandler(NEW_MESSAGE & ~filters.StatusUpdate.ALL, on_media),
        CallbackQueryHandler(on_stale_button),
    ]
