"""register(app): the ONE ordered list of every handler of Relais.

Order matters. Group -1 is the access gate: it identifies the sender and applies the
authorisation table before anything else. Group 0 holds the features; guided
conversations come before plain commands so that a conversation in progress keeps its
messages. The fallbacks (stickers, unknown text...) come last.
"""

from __future__ import annotations

import warnings
from typing import Any

from telegram.warnings import PTBUserWarning

from bot.runtime import RelaisApp
from handlers import access, errors, menu

# Our conversations mix message and button steps on purpose and track them per chat and
# user (per_message=False); PTB warns about that combination at construction time.
warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)


def register(app: RelaisApp) -> None:
    app.add_handlers(access.handlers(), group=-1)

    from handlers import (
        admin,
        attendance,
        bilan,
        broadcast,
        challenges,
        export,
        fallback,
        flyer,
        group,
        levers,
        objectives,
        onboarding,
        privacy,
        progress,
        questions,
        rsvp,
        sessions,
        settings,
        setup,
        stats,
        tips,
        trios,
    )
    from handlers import help as help_

    ordered: list[Any] = []
    # --- first: an edited message is never replayed as a new command or answer ---
    ordered += fallback.edited_handlers()
    # --- `/start checkin_<token>` before the onboarding's /start handlers (and conversation) ---
    ordered += attendance.checkin_handlers()
    # --- `/start setup_<code>` and `/setup <code>`: the first coordinator (relais init) ---
    ordered += setup.handlers()
    # --- guided conversations (persistent: they survive a restart) ---
    ordered += onboarding.conversations()
    ordered += admin.conversations()
    ordered += levers.conversations()
    ordered += sessions.conversations()
    ordered += attendance.conversations()
    ordered += questions.conversations()
    ordered += objectives.conversations()
    ordered += progress.conversations()
    ordered += broadcast.conversations()
    ordered += challenges.conversations()
    # --- features (each module's `handlers()` returns its handlers in its own order) ---
    ordered += onboarding.handlers()
    ordered += admin.handlers()
    ordered += flyer.handlers()
    ordered += levers.handlers()
    ordered += help_.handlers()
    ordered += privacy.handlers()
    ordered += sessions.handlers()
    ordered += rsvp.handlers()
    ordered += attendance.handlers()
    ordered += stats.handlers()
    ordered += export.handlers()
    ordered += bilan.handlers()
    ordered += objectives.handlers()
    ordered += progress.handlers()
    ordered += questions.handlers()
    ordered += group.handlers()
    ordered += tips.handlers()
    ordered += settings.handlers()
    ordered += trios.handlers()
    ordered += broadcast.handlers()
    ordered += challenges.handlers()
    # --- photos, voice notes and links outside a conversation: a challenge's proof ---
    ordered += challenges.media_handlers()
    # --- last: anything nobody else handled ---
    ordered += fallback.handlers()

    app.add_handlers(ordered, group=0)
    app.add_error_handler(errors.on_error)


async def on_startup(app: RelaisApp) -> None:
    """After the bot is initialised: load the menu labels and set the command list.

    Called from bot/app.py's post-init, which also wires the delivery engine.
    """
    runtime = app.bot_data.runtime
    assert runtime is not None
    menu.load_labels(runtime.i18n)
    from handlers import help as help_

    await help_.set_bot_commands(app)
