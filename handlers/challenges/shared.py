"""What both sides of /defi share: filters, user_data keys, role checks."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler, filters

from bot.models import Role
from bot.runtime import RelaisContext
from handlers.common import answer_stale
from handlers.menu import ANY_MENU_BUTTON

NEW_MESSAGE = filters.UpdateType.MESSAGE
PRIVATE = filters.ChatType.PRIVATE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
END = ConversationHandler.END
WRITE = "write"

AWAITING = "challenge_awaiting"  # user_data: the challenge whose "📷" was pressed
PENDING = "challenge_pending_proof"  # user_data: a proof waiting for "is it for …?"
DRAFT = "challenge_draft"  # user_data: the challenge a trainer is setting
THEMES_SHOWN = 12
PICKS_SHOWN = 8
SUBMISSIONS_SHOWN = 10


def is_staff(context: RelaisContext) -> bool:
    return context.actor.is_staff


def is_merchant(context: RelaisContext) -> bool:
    actor = context.actor
    return Role.MERCHANT in actor.roles and actor.onboarded and actor.member_id is not None


async def stale_chal(update: Update, context: RelaisContext) -> None:
    await answer_stale(update, context.t)
