"""The merchant's side of the coaching loop: `/objectif`, `/objectifs` and check-in answers.

- `/objectif` (and the "🎯 Nouvel objectif" menu button, and `objset:new` buttons) opens a
  guided, button-first conversation that survives restarts (persistent ConversationHandler
  "objective"): what (starting points for their sector, or their own words), how they will
  know (a number per week, or done / not done), by when (the next session by default), then
  the objective restated in one sentence with ✅ confirm / ✏️ change. With three objectives
  active, it first asks which one to close.
- Check-in answers arrive as `obj:<objective_id>:<action>` buttons. "Stuck" and "add a number"
  ask one more thing (in the same conversation, so that a text typed later answers one
  question only); the others answer at once.
- `/objectifs` lists the merchant's objectives, their history and streak.

Modules: `guided` (the conversation), `answers` (check-in answers and their follow-ups),
`listing` (/objectifs), `shared` (states and helpers); the registration is here.

Callback data (untrusted: every id is re-checked against the actor and their active cohort):

    objset:new | objset:cancel | objset:resume | objset:tpl:<code> | objset:other
    objset:m:count|binary | objset:n:<1-99>|other | objset:due:<YYYYMMDD> | objset:ok
    objset:edit | objset:edit:what|how|when | objset:close:<objective_id>
    obj:<id>:done|doing|stuck|num|skip|carry|drop|card|close|closeok | obj:<id>:n:<number>
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
)

from bot.callbacks import (
    OBJ,
    OBJSET,
    ObjectiveAction,
    ObjectiveChange,
    ObjectiveCloseToMakeRoom,
    ObjectiveCount,
    ObjectiveDue,
    ObjectiveMeasure,
    ObjectiveNumber,
    ObjectiveOtherCount,
    ObjectiveStep,
    ObjectiveTemplate,
)
from bot.runtime import RelaisContext
from handlers.menu import menu_button
from handlers.objectives.answers import (
    ask_number,
    chose_number,
    on_obj,
    on_stuck,
    other_button,
    resume,
    skip_blocker,
    typed_blocker,
    typed_number,
)
from handlers.objectives.guided import (
    ask_other_count,
    ask_own_words,
    ask_what_to_change,
    cancel,
    change,
    chose_count,
    chose_due,
    chose_measure,
    chose_template,
    close_to_make_room,
    confirm,
    repeat_step,
    stale_step,
    start,
    typed_count,
    typed_due,
    typed_what,
)
from handlers.objectives.listing import list_objectives
from handlers.objectives.shared import (
    BLOCKER,
    CONFIRM,
    HOW,
    HOW_MANY,
    HOW_MANY_TEXT,
    NEW_MESSAGE,
    NUMBER,
    PICK_CLOSE,
    TYPED,
    WHAT,
    WHAT_TEXT,
    WHEN,
)


# --- registration ----------------------------------------------------------------------------
def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    objective: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("objectif", start, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & menu_button("objectif"), start),
            CallbackQueryHandler(start, pattern=ObjectiveStep.pattern(step="new")),
            # One conversation for both flows: a text typed later belongs to one question only.
            CallbackQueryHandler(on_stuck, pattern=ObjectiveAction.pattern(action="stuck")),
            CallbackQueryHandler(ask_number, pattern=ObjectiveAction.pattern(action="num")),
        ],
        states={
            PICK_CLOSE: [
                CallbackQueryHandler(close_to_make_room, pattern=ObjectiveCloseToMakeRoom.pattern())
            ],
            WHAT: [
                CallbackQueryHandler(chose_template, pattern=ObjectiveTemplate.pattern()),
                CallbackQueryHandler(ask_own_words, pattern=ObjectiveStep.pattern(step="other")),
                MessageHandler(TYPED, typed_what),
            ],
            WHAT_TEXT: [MessageHandler(TYPED, typed_what)],
            HOW: [CallbackQueryHandler(chose_measure, pattern=ObjectiveMeasure.pattern())],
            HOW_MANY: [
                CallbackQueryHandler(chose_count, pattern=ObjectiveCount.pattern()),
                CallbackQueryHandler(ask_other_count, pattern=ObjectiveOtherCount.pattern()),
                MessageHandler(TYPED, typed_count),
            ],
            HOW_MANY_TEXT: [MessageHandler(TYPED, typed_count)],
            WHEN: [
                CallbackQueryHandler(chose_due, pattern=ObjectiveDue.pattern()),
                MessageHandler(TYPED, typed_due),
            ],
            CONFIRM: [
                CallbackQueryHandler(confirm, pattern=ObjectiveStep.pattern(step="ok")),
                CallbackQueryHandler(
                    ask_what_to_change, pattern=ObjectiveStep.pattern(step="edit")
                ),
                CallbackQueryHandler(change, pattern=ObjectiveChange.pattern()),
            ],
            BLOCKER: [
                MessageHandler(TYPED, typed_blocker),
                CallbackQueryHandler(skip_blocker, pattern=ObjectiveAction.pattern(action="skip")),
            ],
            NUMBER: [
                CallbackQueryHandler(chose_number, pattern=ObjectiveNumber.pattern()),
                MessageHandler(TYPED, typed_number),
            ],
        },
        fallbacks=[
            CallbackQueryHandler(cancel, pattern=ObjectiveStep.pattern(step="cancel")),
            CommandHandler("annuler", cancel, filters=NEW_MESSAGE),
            # "Resume the check-ins" is no step of this conversation: answered, and it stays.
            CallbackQueryHandler(resume, pattern=ObjectiveStep.pattern(step="resume")),
            # A button of an earlier step of this conversation: the question stays.
            CallbackQueryHandler(repeat_step, pattern=OBJSET.pattern),
            # A check-in answered meanwhile: handled, and the current question stays.
            CallbackQueryHandler(other_button, pattern=OBJ.pattern),
        ],
        name="objective",
        persistent=True,
        allow_reentry=True,
    )
    return [objective]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("objectifs", list_objectives, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("objectifs"), list_objectives),
        CallbackQueryHandler(resume, pattern=ObjectiveStep.pattern(step="resume")),
        CallbackQueryHandler(stale_step, pattern=OBJSET.pattern),
        CallbackQueryHandler(on_obj, pattern=OBJ.pattern),
    ]
