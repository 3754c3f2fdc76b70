"""register(app): the ONE ordered list of every handler of Relais.

Order matters. Group -1 is the access gate: it identifies the sender and applies the
authorisation table before anything else. Group 0 holds the features; guided
conversations come before plain commands so that a conversation in progress keeps its
messages. The fallbacks (stickers, unknown text...) come last.
"""

from __future__ import annotations

from typing import Any

from bot.runtime import RelaisApp
from handlers import access, errors, menu


def register(app: RelaisApp) -> None:
    app.add_handlers(access.handlers(), group=-1)

    ordered: list[Any] = []
    # --- features (each module's `handlers()` returns its handlers in its own order) ---
    from handlers import onboarding

    ordered += onboarding.handlers()
    # --- last: anything nobody else handled ---
    from handlers import fallback

    ordered += fallback.handlers()

    app.add_handlers(ordered, group=0)
    app.add_error_handler(errors.on_error)  # type: ignore[arg-type]


async def on_startup(app: RelaisApp) -> None:
    """After the bot is initialised: load menu labels, set commands, start the engine."""
    runtime = app.bot_data.runtime
    assert runtime is not None
    menu.load_labels(runtime.i18n)
    from handlers import help as help_

    await help_.set_bot_commands(app)


async def on_shutdown(app: RelaisApp) -> None:
    """Before resources close: stop the delivery engine."""
