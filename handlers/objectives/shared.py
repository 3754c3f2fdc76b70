"""What the objective handlers share: the conversation's states, user_data keys, filters,
words, and small helpers (the member's zone and today, the tips library)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from telegram.ext import ConversationHandler, filters

from bot.content import ContentLibrary
from bot.i18n import N_, Translator
from bot.models import CheckinAnswer, ObjectiveStatus
from bot.runtime import RelaisContext
from bot.services import checkins
from handlers.menu import ANY_MENU_BUTTON

# States of the "objective" conversation.
PICK_CLOSE = "pick_close"
WHAT = "what"
WHAT_TEXT = "what_text"
HOW = "how"
HOW_MANY = "how_many"
HOW_MANY_TEXT = "how_many_text"
WHEN = "when"
CONFIRM = "confirm"
# ... and its follow-ups of a check-in answer ("what blocks you?", "how many?").
BLOCKER = "blocker"
NUMBER = "number"

DRAFT = "objective_draft"  # user_data: the answers so far (JSON)
FOLLOWUP = "checkin_followup"  # user_data: which objective / check-in a typed answer is for

NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
END = ConversationHandler.END
REPORTED_CHOICES = range(11)

STATUS_WORDS = {
    ObjectiveStatus.ACTIVE: N_("en cours"),
    ObjectiveStatus.DONE: N_("atteint"),
    ObjectiveStatus.NOT_REACHED: N_("pas atteint"),
    ObjectiveStatus.CLOSED: N_("clos"),
}
STATUS_ICONS = {
    ObjectiveStatus.ACTIVE: "🎯",
    ObjectiveStatus.DONE: "✅",
    ObjectiveStatus.NOT_REACHED: "🌱",
    ObjectiveStatus.CLOSED: "⏹",
}
ANSWER_WORDS = {
    CheckinAnswer.DONE: N_("✅ c'est fait"),
    CheckinAnswer.DOING: N_("🚧 en cours"),
    CheckinAnswer.STUCK: N_("😕 bloqué"),
}
LABEL_NEXT = N_("🎯 Fixer le prochain objectif")
LABEL_CANCEL = N_("✖ Annuler")


# --- helpers -------------------------------------------------------------------------------
def zone(context: RelaisContext) -> ZoneInfo:
    return ZoneInfo(context.actor.zone)


def today(context: RelaisContext) -> date:
    return context.rt.clock.now().astimezone(zone(context)).date()


def short(text: str, limit: int = 40) -> str:
    return checkins.clip(text, limit)


def status_word(t: Translator, status: ObjectiveStatus) -> str:
    return t(STATUS_WORDS[status])


def library(context: RelaisContext) -> ContentLibrary:
    """The tips library of this Application (read once by build_application)."""
    return context.rt.content
