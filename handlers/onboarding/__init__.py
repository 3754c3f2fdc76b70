"""Onboarding: `/start`, the join link (`/start join_<code>`), the staff link (`staff_<token>`).

The join link opens a short guided profile that survives restarts (a persistent
ConversationHandler): first name (prefilled from Telegram), business name, sector,
commune, language, then the privacy notice and consent. Nothing is written to the database
before consent: the answers wait in `context.user_data` (JSON, persisted with the
conversation state). Then the main menu appears.

Flow (states):

    /start join_<code> ─▶ FIRST_NAME ─▶ BUSINESS ─▶ SECTOR ─▶ COMMUNE ─▶ LANGUAGE ─▶ CONSENT ─▶ END
                            ("keep"      (text)      (buttons)  (button or   (buttons)    (button)
                             or text)                            text)

`/annuler` leaves at any step; `/start` without a code repeats the current question.

Modules: `profile` (the guided profile), `start` (`/start` without a join link, and the staff
link), `shared` (states, labels, the person's language and identity); the registration is here.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import ONB, Language, OnboardingConsent, OnboardingSector, OnboardingStep
from bot.runtime import RelaisContext
from handlers.menu import ANY_MENU_BUTTON
from handlers.onboarding.profile import (
    cancel,
    chose_commune,
    chose_language,
    chose_sector,
    consent,
    keep_first_name,
    repeat_question,
    start_join,
    typed_business,
    typed_commune,
    typed_first_name,
)
from handlers.onboarding.shared import (
    _JOIN,
    _PLAIN_START,
    _STAFF,
    BUSINESS,
    COMMUNE,
    CONSENT,
    FIRST_NAME,
    LANGUAGE,
    NEW_MESSAGE,
    SECTOR,
    TYPED_ANSWER,
)
from handlers.onboarding.start import start_plain, start_staff


# --- registration ------------------------------------------------------------------------
def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    onboarding: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("start", start_join, filters=NEW_MESSAGE & filters.Regex(_JOIN))
        ],
        states={
            FIRST_NAME: [
                CallbackQueryHandler(keep_first_name, pattern=OnboardingStep.pattern(step="keep")),
                MessageHandler(TYPED_ANSWER, typed_first_name),
            ],
            BUSINESS: [MessageHandler(TYPED_ANSWER, typed_business)],
            SECTOR: [CallbackQueryHandler(chose_sector, pattern=OnboardingSector.pattern())],
            COMMUNE: [
                CallbackQueryHandler(chose_commune, pattern=OnboardingStep.pattern(step="commune")),
                MessageHandler(TYPED_ANSWER, typed_commune),
            ],
            LANGUAGE: [CallbackQueryHandler(chose_language, pattern=Language.pattern())],
            CONSENT: [CallbackQueryHandler(consent, pattern=OnboardingConsent.pattern())],
        },
        fallbacks=[
            CommandHandler("annuler", cancel, filters=NEW_MESSAGE),
            CommandHandler(
                "start", repeat_question, filters=NEW_MESSAGE & filters.Regex(_PLAIN_START)
            ),
            CallbackQueryHandler(repeat_question, pattern=ONB.pattern),
            MessageHandler(NEW_MESSAGE & ~filters.COMMAND & ~ANY_MENU_BUTTON, repeat_question),
        ],
        name="onboarding",
        persistent=True,
        allow_reentry=True,
    )
    return [onboarding]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("start", start_staff, filters=NEW_MESSAGE & filters.Regex(_STAFF)),
        CommandHandler("start", start_plain, filters=NEW_MESSAGE & filters.Regex(_PLAIN_START)),
    ]
