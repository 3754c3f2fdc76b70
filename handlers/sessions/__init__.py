"""Sessions: `/nouvelle_seance` (guided or one line), the session card, `/seances`, .ics files.

Planning, guided with buttons (a persistent conversation: it survives a restart)::

    /nouvelle_seance ─▶ DATE ─▶ TIME ─▶ PLACE ─▶ THEME ─▶ CAPACITY ─▶ CONFIRM ─▶ END
                      (buttons for   (buttons   (recent    (curriculum  (buttons    (✅ / ✖️)
                       the next days, + text)    places     or text)     or text)
                       or text)                  or text)

or in one line: `/nouvelle_seance 02/12/2026 19:00 | Salle du Conseil | Vidéo et live [| 30]`.

The session card (staff) has buttons to move the session, change its place, cancel it (with
a confirmation) and see its attendance; a move or a new place is typed in a second short
persistent conversation, which also takes the trainer's one-line summary after a session.
Members who said yes are told of changes through the outbox.

Callback areas: `newsess:*` (the guided planning), `sess:<id>:card|move|place|summary|cancel|
cancelok` (staff), `ics:<id>` (anyone in the cohort: the calendar file). Ids in callback
data are untrusted: every handler re-reads the session within the actor's active cohort.

Modules: `planning` (/nouvelle_seance), `card` (the session card and its edit conversation),
`listing` (/seances, .ics), `shared` (states and texts); the registration is here.
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

from bot.callbacks import (
    NEWSESS,
    SESS,
    CalendarFile,
    PlanCapacity,
    PlanDate,
    PlanPlace,
    PlanStep,
    PlanTheme,
    PlanTime,
    SessionCard,
)
from bot.runtime import RelaisContext
from handlers.common import stale
from handlers.menu import ANY_MENU_BUTTON, menu_button
from handlers.sessions.card import cancel_edit, on_card_button, start_edit, typed_edit
from handlers.sessions.listing import list_sessions, send_ics
from handlers.sessions.planning import (
    cancel_planning,
    chose_capacity,
    chose_date,
    chose_place,
    chose_theme,
    chose_time,
    confirm,
    new_session,
    repeat_question,
    typed_capacity,
    typed_date,
    typed_place,
    typed_theme,
    typed_time,
)
from handlers.sessions.shared import (
    CAPACITY,
    CONFIRM,
    DATE,
    EDIT,
    NEW_MESSAGE,
    PLACE,
    THEME,
    TIME,
    TYPED,
)

# --- registration -----------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    planning: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("nouvelle_seance", new_session, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & menu_button("nouvelle_seance"), new_session),
        ],
        states={
            DATE: [
                CallbackQueryHandler(chose_date, pattern=PlanDate.pattern()),
                MessageHandler(TYPED, typed_date),
            ],
            TIME: [
                CallbackQueryHandler(chose_time, pattern=PlanTime.pattern()),
                MessageHandler(TYPED, typed_time),
            ],
            PLACE: [
                CallbackQueryHandler(chose_place, pattern=PlanPlace.pattern()),
                MessageHandler(TYPED, typed_place),
            ],
            THEME: [
                CallbackQueryHandler(chose_theme, pattern=PlanTheme.pattern()),
                MessageHandler(TYPED, typed_theme),
            ],
            CAPACITY: [
                CallbackQueryHandler(chose_capacity, pattern=PlanCapacity.pattern()),
                MessageHandler(TYPED, typed_capacity),
            ],
            CONFIRM: [CallbackQueryHandler(confirm, pattern=PlanStep.pattern(step="ok"))],
        },
        fallbacks=[
            CommandHandler("annuler", cancel_planning, filters=NEW_MESSAGE),
            CallbackQueryHandler(cancel_planning, pattern=PlanStep.pattern(step="x")),
            CallbackQueryHandler(repeat_question, pattern=NEWSESS.pattern),
            MessageHandler(NEW_MESSAGE & ~filters.COMMAND & ~ANY_MENU_BUTTON, repeat_question),
        ],
        name="new_session",
        persistent=True,
        allow_reentry=True,
    )
    editing: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(start_edit, pattern=SessionCard.pattern(action="move")),
            CallbackQueryHandler(start_edit, pattern=SessionCard.pattern(action="place")),
            CallbackQueryHandler(start_edit, pattern=SessionCard.pattern(action="summary")),
        ],
        states={EDIT: [MessageHandler(TYPED, typed_edit)]},
        fallbacks=[CommandHandler("annuler", cancel_edit, filters=NEW_MESSAGE)],
        name="edit_session",
        persistent=True,
        allow_reentry=True,
    )
    return [planning, editing]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("seances", list_sessions, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("seances"), list_sessions),
        # Stale planning buttons (the conversation is over): say so instead of a spinner.
        CallbackQueryHandler(stale, pattern=NEWSESS.pattern),
        CallbackQueryHandler(on_card_button, pattern=SESS.pattern),
        CallbackQueryHandler(send_ics, pattern=CalendarFile.pattern()),
    ]
