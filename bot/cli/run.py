"""`relais run` and `relais migrate`: bring the database schema up to date, then run the bot.

`relais run` migrates first (documented choice): an installation upgraded by `git pull` or a
new image comes back up by itself. Several processes may start at once on PostgreSQL: the
migration is serialised by an advisory lock, and the ones that come second find nothing to do.
In webhook mode (WEBHOOK_URL set) `webhook_plan` says where Telegram posts the updates.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    CliError,
    check_sqlite_folder,
    database_error,
    load_settings,
    require_token,
    uses_sqlite,
)
from bot.config import Settings
from bot.logs import redact, setup_logging

log = logging.getLogger("relais")

# Key of the PostgreSQL advisory lock that serialises migrations between processes ("RELA").
MIGRATION_LOCK_KEY = 0x52454C41
# Network errors while the bot starts (Telegram or DNS not reachable yet) are retried this
# many times, a second apart, before `relais run` gives up (Docker then restarts it).
BOOTSTRAP_RETRIES = 10


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="migrate the database if needed, then run the bot",
        description="Migrate the database if needed, then run the bot: long polling, or a "
        "webhook when WEBHOOK_URL is set. Stops cleanly on Ctrl+C or SIGTERM.",
    )
    run.set_defaults(handler=cmd_run)

    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument(
        "--revision", default="head", help="target revision (default: head, the latest)"
    )
    migrate.set_defaults(handler=cmd_migrate)


# --- migrate -------------------------------------------------------------------------------


@asynccontextmanager
async def _migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """On PostgreSQL, one migrating process at a time; nothing to do on SQLite (one file)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from bot.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}


async def migrate_database(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database at `url` to `revision`; return (revision before, revision after)."""
    from bot.db import create_engine
    from bot.migrate import current_revision, head_revision, upgrade

    engine = create_engine(url)
    try:
        async with _migration_lock(engine):
            before = await current_revision(engine)
            if before is not None and before not in known_revisions():
                raise CliError(
                    f"the database is at revision {before}, which this version of Relais does "
                    "not know: it was migrated by a newer version. Install that version again, "
                    "or restore a backup made before the upgrade."
                )
            target = head_revision() if revision == "head" else revision
            if before == target:
                return before, before
            await upgrade(url, revision)
            return before, await current_revision(engine)
    finally:
        await engine.dispose()


def migrate_or_explain(settings: Settings, revision: str = "head") -> tuple[str | None, str | None]:
    from alembic.util import CommandError

    if uses_sqlite(settings.database_url):
        check_sqlite_folder(settings.database_url)
    try:
        return asyncio.run(migrate_database(settings.database_url, revision))
    except CliError:
        raise
    except CommandError as exc:
        raise CliError(f"migration failed: {redact(str(exc))}") from None
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise database_error(settings, exc) from None
    except Exception as exc:
        # SQLAlchemy wraps the driver's errors (refused connection, unknown database,
        # wrong password) in OperationalError/InterfaceError/DBAPIError.
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError) or type(exc).__module__.startswith("asyncpg"):
            raise database_error(settings, exc) from None
        raise


def announce_migration(before: str | None, after: str | None) -> str:
    if before == after:
        return f"database schema is up to date (revision {after})"
    return f"database migrated from revision {before or 'none (empty database)'} to {after}"


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    before, after = migrate_or_explain(settings, args.revision)
    print(announce_migration(before, after))
    return EXIT_OK


# --- run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookPlan:
    """Where Telegram posts updates, and how the bot checks that they come from Telegram."""

    url_path: str  # path the local webhook server listens on
    webhook_url: str  # public URL given to Telegram (setWebhook)
    secret_token: str  # expected in X-Telegram-Bot-Api-Secret-Token
    secret_from_settings: bool  # False: derived from the token (WEBHOOK_SECRET unset)


def webhook_plan(settings: Settings) -> WebhookPlan:
    """The webhook of this installation, from WEBHOOK_URL, WEBHOOK_SECRET and the token.

    The last path segment is secret (derived from the token, so it is stable across restarts
    and never shows the token itself): scanners that find the host hit a 404, and requests
    on the right path are still refused without the secret header. WEBHOOK_URL may carry a
    prefix (https://example.org/relais): the reverse proxy forwards the path unchanged.
    """
    token = require_token(settings)
    base = (settings.webhook_url or "").strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise CliError(
            f"invalid setting WEBHOOK_URL: expected https://your.domain[/prefix], got {base!r}",
            EXIT_CONFIG,
        )
    segment = "telegram-" + hashlib.sha256(f"relais-webhook-path:{token}".encode()).hexdigest()[:24]
    configured = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    secret = configured or hashlib.sha256(f"relais-webhook-secret:{token}".encode()).hexdigest()
    return WebhookPlan(
        url_path=f"{parts.path.rstrip('/')}/{segment}",
        webhook_url=f"{base}/{segment}",
        secret_token=secret,
        secret_from_settings=bool(configured),
    )


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed, else asyncio's.

    Under a crowd the event loop itself (sockets, callbacks, futures) was about a seventh of
    the CPU per update; uvloop's, written in C, measured 13 % less CPU per reply in the
    same run (docs/performance.md, "4 December 2026, night"). It has no Windows build.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    require_token(settings)
    # Settle the webhook before touching the database: a bad WEBHOOK_URL is a setting error.
    plan = webhook_plan(settings) if settings.webhook_url else None
    setup_logging(settings)
    before, after = migrate_or_explain(settings)
    log.info(announce_migration(before, after), extra={"revision": after})
    _announce_setup_code(settings)

    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot.app import NotMigratedError, build_application
    from bot.health import attach_health_server
    from bot.lifecycle import attach_graceful_stop

    app = build_application(settings)
    mode = "webhook" if plan else "polling"
    if settings.health_port:
        attach_health_server(app, port=settings.health_port, mode=mode)
    # SIGTERM (docker stop) ends the process within 5 s, even while Telegram is unreachable.
    attach_graceful_stop(app)
    # asyncio.run() above closed its loop; PTB's run_* methods run on the one set here.
    asyncio.set_event_loop(event_loop())
    try:
        if plan is not None:
            log.info(
                "starting in webhook mode",
                extra={"host": urlsplit(plan.webhook_url).netloc, "port": settings.port},
            )
            app.run_webhook(
                listen="0.0.0.0",
                port=settings.port,
                url_path=plan.url_path,
                webhook_url=plan.webhook_url,
                secret_token=plan.secret_token,
                allowed_updates=Update.ALL_TYPES,
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )
        else:
            log.info("starting in polling mode")
            app.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=BOOTSTRAP_RETRIES)
    except InvalidToken:
        raise CliError(
            "Telegram rejected BOT_TOKEN. Copy it again from @BotFather (/mybots, your bot, "
            "API Token) into .env; if you revoked it, use the new one."
        ) from None
    except NetworkError as exc:
        base = settings.telegram_api_base_url
        raise CliError(
            f"cannot reach the Telegram Bot API at {urlsplit(base).netloc}: "
            f"{redact(str(exc), [settings.token])}"
        ) from None
    except NotMigratedError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        # Typically a port already in use (PORT for the webhook, HEALTH_PORT for /healthz).
        raise CliError(
            f"cannot start the bot's web server: {exc} (check PORT={settings.port} and "
            f"HEALTH_PORT={settings.health_port}; HEALTH_PORT=0 disables /healthz)"
        ) from None
    return EXIT_OK


def _announce_setup_code(settings: Settings) -> None:
    """While nobody coordinates, print the one-time setup code (bot/cli/init.py)."""
    from bot.cli.init import setup_code_notice

    try:
        notice = setup_code_notice(settings)
    except Exception:  # a convenience: it must never stop the bot from starting
        log.warning("could not check for a setup code", exc_info=True)
        return
    if notice:
        print(f"relais: {notice}", file=sys.stderr)
