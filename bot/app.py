"""Build the Relais Application: settings, database, clock, catalogs, handlers and jobs.

No handler code lives here. Resources are checked in `post_init` and released in
`post_shutdown`, as in the PTB maintainers' rules-bot.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from telegram.constants import ParseMode
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import HTTPXRequest

from bot import http
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.content import ContentLibrary, load_for_bot
from bot.db import Database
from bot.delivery.engine import DeliveryEngine
from bot.delivery.features import build_registry
from bot.health import WatchedRequest
from bot.i18n import I18n
from bot.migrate import current_revision, head_revision
from bot.persistence import DatabasePersistence
from bot.ratelimit import ReplyRateLimiter
from bot.runtime import BotData, RelaisApp, RelaisContext, Runtime
from bot.updates import PerPersonUpdateProcessor

log = logging.getLogger(__name__)

# Up to 64 calls to Telegram at once (people's updates run concurrently, see bot/updates.py),
# but no more than 16 idle connections kept: httpcore checks every idle connection on each
# request, and a burst would otherwise leave dozens to check (measured in docs/performance.md).
REPLY_CONNECTION_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=16)


class NotMigratedError(RuntimeError):
    """The database schema is not at the version this code expects."""


class MissingTokenError(RuntimeError):
    """BOT_TOKEN is not set."""


def _instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    db: Database | None = None,
    i18n: I18n | None = None,
    content: ContentLibrary | None = None,
    start_engine: bool = True,
    persistence_interval: float = 5.0,
) -> RelaisApp:
    """The real Application, unchanged in tests: only its settings, clock and database vary.

    `start_engine=False` leaves the delivery ticks to the caller (tests drive them by hand).
    """
    token = settings.token
    if not token:
        raise MissingTokenError("BOT_TOKEN is not set")
    clock = clock or SystemClock()
    db = db or Database(settings.database_url)
    i18n = i18n or I18n(default_language=settings.default_language, default_zone=settings.timezone)
    runtime = Runtime(
        settings=settings,
        db=db,
        clock=clock,
        i18n=i18n,
        # The one place the tips library and the curriculum are read (a test suite that starts
        # hundreds of Applications passes the one it read once).
        content=content or load_for_bot(),
        instance=_instance_name(),
        start_engine=start_engine,
    )

    context_types = ContextTypes(context=RelaisContext, bot_data=BotData)
    base_url = settings.telegram_api_base_url
    file_url = base_url.replace("/bot", "/file/bot", 1) if base_url.endswith("/bot") else base_url
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url)
        .base_file_url(file_url)
        .context_types(context_types)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=ZoneInfo(settings.timezone)))
        .persistence(DatabasePersistence(db, clock, update_interval=persistence_interval))
        # Replies to a user's own action go straight out; bulk traffic is paced by the
        # outbox dispatcher, which never lets Telegram answer 429 in normal operation.
        .request(
            HTTPXRequest(
                connection_pool_size=64,
                read_timeout=15,
                write_timeout=15,
                httpx_kwargs={"transport": http.transport(REPLY_CONNECTION_LIMITS)},
            )
        )
        # Watched: /healthz and the outage log need to know how getUpdates is answered.
        .get_updates_request(WatchedRequest(runtime.bot_api, read_timeout=40))
        .rate_limiter(ReplyRateLimiter())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        # Different people at once, each person's updates in order (see bot/updates.py).
        .concurrent_updates(PerPersonUpdateProcessor())
    )
    application: RelaisApp = builder.build()
    application.bot_data.runtime = runtime

    from handlers import register

    register(application)
    return application


async def _post_init(application: Any) -> None:
    app: RelaisApp = application
    runtime = app.bot_data.runtime
    assert runtime is not None
    current = await current_revision(runtime.db.engine)
    head = head_revision()
    if current != head:
        raise NotMigratedError(
            f"the database is at revision {current or 'none'}, this code needs {head}: "
            "run `relais migrate` first"
        )
    from handlers import on_startup

    # Telegram-facing set-up (menu labels, the command list) belongs to the handlers.
    await on_startup(app)
    engine = DeliveryEngine(runtime, app.bot, build_registry(runtime.content))
    runtime.engine = engine
    if runtime.start_engine:
        engine.start(app)
    log.info("relais started", extra={"instance": runtime.instance})


async def _post_shutdown(application: Any) -> None:
    app: RelaisApp = application
    runtime = app.bot_data.runtime
    if runtime is not None:
        # The engine's last sends go out before the bot's HTTP client and the database close.
        if runtime.has_engine:
            await runtime.engine.stop()
        await runtime.db.dispose()


__all__ = ["MissingTokenError", "NotMigratedError", "build_application"]
