"""`/diffuser` (trainer): write, choose the audience, see the exact preview, send or schedule.

The guided flow is a persistent conversation (it survives a restart)::

    /diffuser ─▶ WRITE ─▶ AUDIENCE ─▶ CONFIRM ─┬─ ✅ send now ─────────────▶ END
               (a text, or  (buttons with   (preview +  └─ 🕒 schedule ─▶ WHEN ─▶ END
                a photo with  the number of   the number    (suggested times, or
                a caption)    recipients)     of recipients) a typed JJ/MM HH:MM)

The draft is a `Broadcast` row (status draft) whose id travels in the buttons. The text is
made from the trainer's own message with PTB's `text_html` / `caption_html`: what they typed
is escaped and their formatting (bold, italics, links) is kept as Telegram HTML, so the text is
always valid; it is still checked (`validate_html`) and measured, and a caption over 1024
characters is refused at once. The preview is sent with the very calls the outbox uses, so
it is exactly what recipients get.

Outside the flow:

    bc:<id>:progress          how far a broadcast got (refreshable)
    bc:<id>:cancel            cancel a scheduled broadcast (until its first message leaves)
    bc:lib | bc:th:<theme> | bc:tip:<tip_id>    the library of tips, theme by theme
    bc:push:<tip_id> → bc:pushok:<tip_id> | bc:pushx   send one tip to the whole cohort

Every button is re-checked: the access gate requires a trainer of the active cohort, and the
broadcast must belong to that cohort (and, for a draft, to its author).

Modules: `flow` (the guided /diffuser), `library` (the tips library and pushing a tip),
`progress` (progress and cancel), `shared` (states, audiences, helpers); the registration and
the dispatch of `bc:` buttons outside the flow are here.
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
    BC,
    BroadcastAction,
    DraftAudience,
    DraftStep,
    DraftTime,
    Library,
    LibraryTheme,
    LibraryTip,
    PushTip,
    PushTipCancel,
    PushTipConfirm,
)
from bot.runtime import RelaisContext
from handlers.broadcast.flow import (
    ask_when,
    chose_audience,
    chose_time,
    discard,
    got_photo,
    got_text,
    other_media,
    send_now,
    start,
    typed_time,
    use_buttons,
)
from handlers.broadcast.library import (
    ask_push,
    library_from_draft,
    push,
    show_library,
    show_theme,
    show_tip,
)
from handlers.broadcast.progress import cancel_broadcast, show_progress
from handlers.broadcast.shared import (
    AUDIENCE,
    CONFIRM,
    NEW_MESSAGE,
    OTHER_MEDIA,
    TYPED,
    WHEN,
    WRITE,
    edit_or_say,
)
from handlers.common import answer_callback, clicked_in, stale
from handlers.menu import ANY_MENU_BUTTON, menu_button


async def on_button(update: Update, context: RelaisContext) -> None:
    """Every `bc:` button outside the guided flow."""
    match clicked_in(update, BC):
        case BroadcastAction(broadcast_id=broadcast_id, action="progress"):
            await show_progress(update, context, broadcast_id)
        case BroadcastAction(broadcast_id=broadcast_id):
            await cancel_broadcast(update, context, broadcast_id)
        case Library():
            await show_library(update, context)
        case LibraryTheme(theme=theme):
            await show_theme(update, context, theme)
        case PushTipCancel():
            await answer_callback(update)
            await edit_or_say(update, context, context.t("D'accord, je n'envoie rien."))
        case LibraryTip(tip_id=tip_id):
            await show_tip(update, context, tip_id)
        case PushTip(tip_id=tip_id):
            await ask_push(update, context, tip_id)
        case PushTipConfirm(tip_id=tip_id):
            await push(update, context, tip_id)
        case _:  # e.g. a step of a flow that is over
            await stale(update, context)


# --- registration ----------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    flow: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("diffuser", start, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & menu_button("diffuser"), start),
        ],
        states={
            WRITE: [
                MessageHandler(TYPED, got_text),
                MessageHandler(NEW_MESSAGE & filters.PHOTO, got_photo),
                MessageHandler(OTHER_MEDIA, other_media),
                CallbackQueryHandler(library_from_draft, pattern=Library.pattern()),
            ],
            AUDIENCE: [CallbackQueryHandler(chose_audience, pattern=DraftAudience.pattern())],
            CONFIRM: [
                CallbackQueryHandler(send_now, pattern=DraftStep.pattern(step="now")),
                CallbackQueryHandler(ask_when, pattern=DraftStep.pattern(step="sched")),
            ],
            WHEN: [
                CallbackQueryHandler(chose_time, pattern=DraftTime.pattern()),
                MessageHandler(TYPED, typed_time),
            ],
        },
        fallbacks=[
            CommandHandler("annuler", discard, filters=NEW_MESSAGE),
            CallbackQueryHandler(discard, pattern=DraftStep.pattern(step="x")),
            MessageHandler(NEW_MESSAGE & ~filters.COMMAND & ~ANY_MENU_BUTTON, use_buttons),
        ],
        name="broadcast",
        persistent=True,
        allow_reentry=True,
    )
    return [flow]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CallbackQueryHandler(on_button, pattern=BC.pattern)]
