"""What the broadcast handlers share: the flow's states, audience codes and labels, sending
and replacing a message, the progress buttons."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import ConversationHandler, filters

from bot.callbacks import BroadcastAction
from bot.delivery.registry import Button, Rendered
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.models import Broadcast
from bot.runtime import RelaisContext
from bot.services import broadcasts
from bot.services.broadcasts import ALL, ATTENDED, MISSED, SECTOR_PREFIX
from bot.services.members import parse_sector
from handlers.menu import ANY_MENU_BUTTON
from handlers.onboarding.shared import SECTOR_LABELS

log = logging.getLogger(__name__)
NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
OTHER_MEDIA = NEW_MESSAGE & ~filters.TEXT & ~filters.PHOTO & ~filters.COMMAND

# States of the conversation (strings: stored as they are by the persistence).
WRITE, AUDIENCE, CONFIRM, WHEN = "write", "audience", "confirm", "when"
END = ConversationHandler.END
# context.user_data key: the id of the draft being written.
DRAFT_KEY = "broadcast_draft"

# Audience codes in callback data (`bc:<id>:a:<code>`) <-> Broadcast.audience.
_SHORT = {ALL: "all", ATTENDED: "att", MISSED: "mis"}
_LONG = {short: audience for audience, short in _SHORT.items()}


def audience_code(audience: str) -> str:
    if audience.startswith(SECTOR_PREFIX):
        return "s-" + audience[len(SECTOR_PREFIX) :]
    return _SHORT[audience]


def audience_from_code(code: str) -> str | None:
    if code.startswith("s-"):
        return broadcasts.parse_audience(SECTOR_PREFIX + code[2:])
    return _LONG.get(code)


def audience_label(t: Translator, audience: str) -> str:
    if audience == ALL:
        return t("👥 Tout le groupe")
    if audience == ATTENDED:
        return t("✅ Présents à la dernière séance")
    if audience == MISSED:
        return t("🕳 Absents à la dernière séance")
    sector = parse_sector(audience[len(SECTOR_PREFIX) :])
    return t(SECTOR_LABELS[sector]) if sector is not None else audience


# --- small helpers ----------------------------------------------------------------------------


async def say(
    update: Update, context: RelaisContext, text: str, rows: Sequence[Sequence[Button]] = ()
) -> Message:
    return await context.bot.send_message(context.chat_id, text, reply_markup=keyboard(rows))


async def edit_or_say(
    update: Update, context: RelaisContext, text: str, rows: Sequence[Sequence[Button]] = ()
) -> None:
    """Replace the message of the pressed button (or send a new one)."""
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=keyboard(rows))
            return
        except BadRequest as exc:  # unchanged, too old, or a photo
            if "not modified" in str(exc).lower():
                return
            log.debug("could not edit, sending instead: %s", exc)
    await say(update, context, text, rows)


async def send_rendered(context: RelaisContext, chat_id: int, rendered: Rendered) -> Message:
    """Send as the outbox dispatcher does (bot/delivery/dispatcher.py): same calls, same text."""
    if rendered.photo is not None:
        return await context.bot.send_photo(
            chat_id, photo=rendered.photo, caption=rendered.text or None, reply_markup=None
        )
    return await context.bot.send_message(chat_id, rendered.text)


def actor_zone(context: RelaisContext) -> ZoneInfo:
    return ZoneInfo(context.actor.zone)


def progress_buttons(t: Translator, broadcast: Broadcast) -> list[list[Button]]:
    rows: list[list[Button]] = []
    if broadcast.status == broadcasts.SCHEDULED:
        rows.append(
            [
                Button(
                    t("❌ Annuler cet envoi"),
                    callback_data=BroadcastAction(broadcast.id, "cancel").pack(),
                )
            ]
        )
    if broadcast.status in (broadcasts.SCHEDULED, broadcasts.SENDING):
        rows.append([Button(t("🔄 Actualiser"), BroadcastAction(broadcast.id, "progress").pack())])
    return rows


def started_text(t: Translator, count: int) -> str:
    """A broadcast (or a pushed tip) has left for `count` people."""
    return t.plural(
        "📣 C'est parti, vers {n} personne ! Je vous envoie le bilan quand tout est parti.",
        "📣 C'est parti, vers {n} personnes ! Je vous envoie le bilan quand tout est parti.",
        count,
    )


def progress_button(t: Translator, broadcast_id: int) -> list[list[Button]]:
    return [[Button(t("📊 Voir la progression"), BroadcastAction(broadcast_id, "progress").pack())]]
