"""The `relais` command: run the bot and look after its installation.

    relais init                     first run: asks the token, the first cohort, the coordinator
    relais run                      migrate the database if needed, then run the bot
    relais migrate [--revision R]   upgrade the database schema (to the latest by default)
    relais doctor [--quick]         check settings, database, token and webhook; say what is wrong
    relais backup --out FILE        copy the SQLite database while the bot runs
    relais cohort create --name N --commune C
    relais outbox                   what the delivery outbox holds
    relais purge [--dry-run]        erase members inactive for RETENTION_DAYS (after a warning)
    relais audit [--cohort C]       who did what: staff actions and erasures
    relais export --cohort C --out FILE   a cohort's spreadsheet (id or join code -> .xlsx)
    relais i18n update|check        keep the translation catalogs in step with the code
    relais content check [--dir D]  check the tips and the curriculum (content/)
    relais try                      chat with Relais in the terminal, on a simulated Telegram
    relais flyer --cohort C --out F   a printable A4 poster with the cohort's join QR code
    relais transcripts [--check]    regenerate the conversations shown in docs/ (from the sandbox)

`relais run` migrates first (documented choice): an installation upgraded by `git pull` or a
new image comes back up by itself. Several processes may start at once on PostgreSQL: the
migration is serialised by an advisory lock, and the ones that come second find nothing to do.

Exit codes: 0 success, 1 something failed (said in plain words on stderr), 2 the
configuration or the command line is wrong (missing BOT_TOKEN, bad setting, unknown option).
Nothing here prints a traceback for a mistake a person can fix; the token is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import inspect
import logging
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import TELEGRAM_API, Settings
from bot.logging import redact, setup_logging

if TYPE_CHECKING:
    from telegram import WebhookInfo

log = logging.getLogger("relais")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

# Key of the PostgreSQL advisory lock that serialises migrations between processes ("RELA").
MIGRATION_LOCK_KEY = 0x52454C41
# Network errors while the bot starts (Telegram or DNS not reachable yet) are retried this
# many times, a second apart, before `relais run` gives up (Docker then restarts it).
BOOTSTRAP_RETRIES = 10

BOTFATHER_HELP = """\
relais: BOT_TOKEN is not set, so Relais cannot connect to Telegram.

Get a token from Telegram's @BotFather:
  1. In Telegram, open a chat with @BotFather (https://t.me/BotFather).
  2. Send /newbot, choose a name (e.g. "Relais Estaimpuis") and a username ending in "bot".
  3. BotFather answers with a token that looks like 123456789:AAE_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.

Put it in {where}, on a line of its own:
  BOT_TOKEN=123456789:AAE_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
{then}
To look around without a token, `relais try` runs Relais on a simulated Telegram.
"""


def botfather_help() -> str:
    """How to get a token and where to put it, adapted to whether ./.env exists."""
    env_file = Path(".env").resolve()
    if env_file.exists():
        where, then = f"the file {env_file}", "then run `relais run` again."
    else:
        where = f"a file named .env in this folder ({env_file.parent})"
        then = "(copy .env.example to .env first: it lists every setting), then run `relais run`."
    return BOTFATHER_HELP.format(where=where, then=then)


class CliError(Exception):
    """A failure explained in plain words: printed as `relais: <message>`, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- settings ------------------------------------------------------------------------------


def describe_settings_error(error: ValidationError) -> list[str]:
    """One line per invalid setting, named as in .env (TIMEZONE, not timezone)."""
    lines = []
    for item in error.errors():
        loc = item.get("loc") or ("?",)
        name = str(loc[0]).upper()
        message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
        value = item.get("input")
        secret = name in {"BOT_TOKEN", "WEBHOOK_SECRET"}
        if not secret and isinstance(value, str | int) and str(value) not in message:
            message = f"{message} (got {str(value)!r})"
        lines.append(f"invalid setting {name}: {message} (see .env.example)")
    return lines


def load_settings() -> Settings:
    """Settings from the environment and ./.env, or a CliError naming what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        # main() prefixes the first line with "relais: "; the others get it here.
        raise CliError("\nrelais: ".join(describe_settings_error(exc)), EXIT_CONFIG) from None


def require_token(settings: Settings) -> str:
    token = settings.token
    if not token:
        raise CliError(botfather_help().removeprefix("relais: "), EXIT_CONFIG)
    return token


def safe_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unreadable DATABASE_URL>"


def api_base_urls(settings: Settings) -> tuple[str, str]:
    """(base_url, base_file_url) as build_application derives them."""
    base = settings.telegram_api_base_url
    file_url = base.replace("/bot", "/file/bot", 1) if base.endswith("/bot") else base
    return base, file_url


# --- database ------------------------------------------------------------------------------


# SQLAlchemy prefixes driver errors with "(sqlalchemy...Error) " and the asyncpg adapter
# with "<class 'asyncpg.exceptions.X'>: "; people only need the words after them.
_ERROR_PREFIXES = re.compile(r"^(\([\w.]+\)\s*)?(<class '[\w.]+'>:\s*)?")


def database_error_reason(exc: BaseException) -> str:
    """The first line of a database error, in the driver's own words, token-free."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return redact(_ERROR_PREFIXES.sub("", first, count=1) or type(exc).__name__)


def _database_error(settings: Settings, exc: BaseException) -> CliError:
    reason = database_error_reason(exc)
    return CliError(f"cannot open the database {safe_url(settings.database_url)}: {reason}")


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

    if _is_sqlite(settings.database_url):
        _check_sqlite_folder(settings.database_url)
    try:
        return asyncio.run(migrate_database(settings.database_url, revision))
    except CliError:
        raise
    except CommandError as exc:
        raise CliError(f"migration failed: {redact(str(exc))}") from None
    except (OSError, TimeoutError, ConnectionError) as exc:
        raise _database_error(settings, exc) from None
    except Exception as exc:
        # SQLAlchemy wraps the driver's errors (refused connection, unknown database,
        # wrong password) in OperationalError/InterfaceError/DBAPIError.
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError) or type(exc).__module__.startswith("asyncpg"):
            raise _database_error(settings, exc) from None
        raise


def _is_sqlite(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == "sqlite"
    except Exception as exc:
        raise CliError(f"invalid setting DATABASE_URL: {exc}", EXIT_CONFIG) from None


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _check_sqlite_folder(url: str) -> None:
    path = _sqlite_path(url)
    if path is not None and not path.parent.exists():
        raise CliError(
            f"the folder of the database file does not exist: {path.parent.resolve()} "
            "(create it, or change DATABASE_URL)"
        )


def _announce_migration(before: str | None, after: str | None) -> str:
    if before == after:
        return f"database schema is up to date (revision {after})"
    return f"database migrated from revision {before or 'none (empty database)'} to {after}"


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


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    require_token(settings)
    # Settle the webhook before touching the database: a bad WEBHOOK_URL is a setting error.
    plan = webhook_plan(settings) if settings.webhook_url else None
    setup_logging(settings)
    before, after = migrate_or_explain(settings)
    log.info(_announce_migration(before, after), extra={"revision": after})
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
    # asyncio.run() above closed its loop; PTB's run_* methods run their own.
    asyncio.set_event_loop(asyncio.new_event_loop())
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
        base, _ = api_base_urls(settings)
        raise CliError(
            f"cannot reach the Telegram Bot API at {urlsplit(base).netloc}: "
            f"{redact(str(exc), [settings.token or ''])}"
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
    """While nobody coordinates, print the one-time setup code (bot/init_cli.py)."""
    try:
        notice = _lazy("bot.init_cli", "setup_code_notice", "setup codes")(settings)
    except Exception:  # a convenience: it must never stop the bot from starting
        log.warning("could not check for a setup code", exc_info=True)
        return
    if notice:
        print(f"relais: {notice}", file=sys.stderr)


# --- migrate, cohort, i18n, outbox, try ------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    before, after = migrate_or_explain(settings, args.revision)
    print(_announce_migration(before, after))
    return EXIT_OK


def _lazy(module: str, attribute: str, feature: str) -> Callable[..., Any]:
    """`module.attribute`, imported only when its command runs (keeps `relais --help` fast)."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise CliError(f"{feature} is not available in this version of Relais") from None
    function: Callable[..., Any] = getattr(found, attribute)
    return function


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async command implementation."""
    result = function(*args)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def cmd_cohort_create(args: argparse.Namespace) -> int:
    settings = load_settings()
    # A cohort is often the first thing created, before the bot ever ran: migrate first too.
    before, after = migrate_or_explain(settings)
    if before != after:
        print(_announce_migration(before, after))
    create = _lazy("bot.cohort_cli", "create_cohort_cli", "relais cohort create")
    try:
        print(_call(create, settings, args.name, args.commune))
    except ValueError as exc:  # bot.services.validation.InvalidValue: empty or too long
        raise CliError(f"cannot create the cohort: {exc}", EXIT_CONFIG) from None
    return EXIT_OK


def cmd_i18n(args: argparse.Namespace) -> int:
    from bot import i18n_tools

    return i18n_tools.main([args.action])


def cmd_content(args: argparse.Namespace) -> int:
    check = _lazy("bot.content", "content_check_command", "relais content check")
    return int(check(args.dir))


def cmd_outbox(args: argparse.Namespace) -> int:
    settings = load_settings()
    outbox_command = _lazy("bot.delivery.report", "outbox_command", "relais outbox")
    return int(_call(outbox_command, settings))


def cmd_export(args: argparse.Namespace) -> int:
    settings = load_settings()
    export = _lazy("bot.services.export", "export_command", "relais export")
    return int(_call(export, settings, args.cohort, args.out))


def cmd_init(args: argparse.Namespace) -> int:
    init = _lazy("bot.init_cli", "init_command", "relais init")
    return int(init(args))


def cmd_flyer(args: argparse.Namespace) -> int:
    settings = load_settings()
    flyer = _lazy("bot.flyer_cli", "flyer_command", "relais flyer")
    return int(flyer(settings, args.cohort, args.out, bot_username=args.bot))


def cmd_transcripts(args: argparse.Namespace) -> int:
    transcripts = _lazy("bot.transcripts", "transcripts_command", "relais transcripts")
    return int(transcripts(check=args.check))


def cmd_purge(args: argparse.Namespace) -> int:
    settings = load_settings()
    purge = _lazy("bot.privacy_cli", "purge_command", "relais purge")
    return int(purge(settings, dry_run=args.dry_run))


def cmd_audit(args: argparse.Namespace) -> int:
    settings = load_settings()
    show = _lazy("bot.privacy_cli", "audit_command", "relais audit")
    return int(
        show(
            settings,
            cohort=args.cohort,
            since=args.since,
            action=args.action,
            limit=args.limit,
            as_json=args.json,
        )
    )


def cmd_try(args: argparse.Namespace) -> int:
    tryout = _lazy("bot.tryout", "main", "relais try")
    return int(_call(tryout, args) or EXIT_OK)


# --- backup --------------------------------------------------------------------------------


def pg_dump_hint(url: str, out: str) -> str:
    parsed = make_url(url)
    # libpq's URL form, without the driver name nor the password (never echo a secret).
    libpq = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
    ).render_as_string(hide_password=False)
    password_note = " (give the password in PGPASSWORD)" if parsed.password else ""
    return (
        "relais backup copies SQLite databases only. For PostgreSQL, use pg_dump"
        f"{password_note}:\n"
        f"  pg_dump --format=custom --file={out} '{libpq}'\n"
        "and to restore (bot stopped):\n"
        f"  pg_restore --clean --if-exists --no-owner --dbname='{libpq}' {out}"
    )


def backup_sqlite(source: Path, out: Path) -> None:
    """Copy a live SQLite database to `out` with SQLite's online backup API.

    The copy is consistent even while the bot writes (the backup restarts on concurrent
    changes), is written to a temporary file first and renamed, and is a self-contained
    file (journal mode DELETE: no -wal file to carry along).
    """
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    # mode=rw: never create an empty database where the real one was expected.
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise CliError(f"the copy failed its integrity check: {verdict}")
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, out)


def cmd_backup(args: argparse.Namespace) -> int:
    settings = load_settings()
    out = Path(args.out)
    if not _is_sqlite(settings.database_url):
        print(pg_dump_hint(settings.database_url, str(out)), file=sys.stderr)
        return EXIT_FAILURE  # nothing was written: a script must not believe it was
    source = _sqlite_path(settings.database_url)
    if source is None:
        raise CliError("DATABASE_URL is an in-memory SQLite database: there is nothing to copy")
    if not source.exists():
        raise CliError(f"there is no database at {source.resolve()} (DATABASE_URL)")
    if out.exists() and not args.force:
        raise CliError(f"{out} already exists (choose another name, or add --force)")
    if not out.parent.exists():
        raise CliError(f"the folder {out.parent.resolve()} does not exist")
    try:
        backup_sqlite(source, out)
    except sqlite3.Error as exc:
        raise CliError(f"backup failed: {exc}") from None
    size = out.stat().st_size
    print(f"backup written: {out} ({size / 1_000_000:.1f} MB) from {source}")
    return EXIT_OK


# --- doctor --------------------------------------------------------------------------------

Status = Literal["ok", "warn", "fail"]


@dataclass
class Check:
    status: Status
    subject: str
    detail: str


class Diagnosis:
    def __init__(self) -> None:
        self.checks: list[Check] = []

    def ok(self, subject: str, detail: str) -> None:
        self.checks.append(Check("ok", subject, detail))

    def warn(self, subject: str, detail: str) -> None:
        self.checks.append(Check("warn", subject, detail))

    def fail(self, subject: str, detail: str) -> None:
        self.checks.append(Check("fail", subject, detail))

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks)


async def check_database(settings: Settings, report: Diagnosis) -> None:
    from bot.db import create_engine
    from bot.migrate import current_revision, head_revision

    url = settings.database_url
    where = safe_url(url)
    if _is_sqlite(url):
        path = _sqlite_path(url)
        if path is not None and not path.exists():
            report.fail(
                "database",
                f"no database file yet at {path.resolve()}: run `relais migrate` "
                "(`relais run` also creates it)",
            )
            return
    # asyncpg waits 60 s for a dead host by default; a doctor should answer sooner.
    kwargs: dict[str, Any] = {} if _is_sqlite(url) else {"connect_args": {"timeout": 5}}
    engine = create_engine(url, **kwargs)
    try:
        async with asyncio.timeout(15):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            current = await current_revision(engine)
            coordinators = 0
            if current == head_revision():
                async with engine.connect() as conn:
                    coordinators = int(
                        await conn.scalar(
                            text("SELECT count(*) FROM staff_roles WHERE role = 'coordinator'")
                        )
                        or 0
                    )
    except Exception as exc:
        report.fail("database", f"cannot connect to {where}: {database_error_reason(exc)}")
        return
    finally:
        await engine.dispose()
    report.ok("database", f"reachable ({where})")
    head = head_revision()
    if coordinators and not settings.admin_ids:
        # A coordinator came in through the setup code or an invitation: nothing to name.
        report.ok("coordinators", f"{coordinators} in the database")
    elif not settings.admin_ids:
        report.warn(
            "ADMIN_IDS",
            "no coordinator is named: put your Telegram user id in ADMIN_IDS "
            "(ask @userinfobot for it) or use the setup code `relais run` prints",
        )
    if current == head:
        report.ok("schema", f"up to date (revision {head})")
    elif current is None:
        report.fail(
            "schema", "the database is empty: run `relais migrate` (`relais run` also does it)"
        )
    elif current not in known_revisions():
        report.fail(
            "schema",
            f"the database is at revision {current}, unknown to this version of Relais "
            "(migrated by a newer version?)",
        )
    else:
        report.fail(
            "schema",
            f"the database is at revision {current}, this version needs {head}: "
            "run `relais migrate` (`relais run` also does it)",
        )


async def check_telegram(settings: Settings, token: str, report: Diagnosis) -> None:
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError
    from telegram.request import HTTPXRequest

    base, file_url = api_base_urls(settings)
    host = urlsplit(base).netloc or base
    bot = Bot(
        token,
        base_url=base,
        base_file_url=file_url,
        request=HTTPXRequest(connect_timeout=5, read_timeout=10),
    )
    try:
        await bot.initialize()  # getMe
    except InvalidToken:
        report.fail(
            "token",
            f"{host} rejected BOT_TOKEN: copy it again from @BotFather (/mybots, your bot, "
            "API Token)",
        )
        return
    except TelegramError as exc:
        report.fail("token", f"cannot reach the Bot API at {host}: {redact(str(exc), [token])}")
        return
    try:
        me = bot.bot
        report.ok("token", f"accepted by {host}: the bot is @{me.username} (id {me.id})")
        try:
            info = await bot.get_webhook_info()
        except TelegramError as exc:
            report.warn("webhook", f"could not read the webhook state: {redact(str(exc), [token])}")
            return
        check_webhook_state(settings, info, report)
    finally:
        await bot.shutdown()


def check_webhook_state(settings: Settings, info: WebhookInfo, report: Diagnosis) -> None:
    """Compare what Telegram knows (getWebhookInfo) with what this installation expects."""
    current_url = info.url
    pending = info.pending_update_count
    waiting = f"; {pending} update(s) waiting" if pending else ""
    if not settings.webhook_url:
        if current_url:
            host = urlsplit(current_url).netloc
            report.warn(
                "webhook",
                f"Telegram sends this bot's updates to a webhook at {host}, but WEBHOOK_URL is "
                "empty here: `relais run` will switch the bot to polling. If another "
                f"installation uses this token, they will take each other's updates{waiting}",
            )
        else:
            report.ok("webhook", f"polling mode (no webhook set){waiting}")
        return
    plan = webhook_plan(settings)
    if current_url != plan.webhook_url:
        where = urlsplit(current_url).netloc if current_url else "nowhere"
        report.warn(
            "webhook",
            f"Telegram sends updates to {where}; `relais run` will set the webhook of "
            f"WEBHOOK_URL ({urlsplit(plan.webhook_url).netloc}) when it starts{waiting}",
        )
        return
    error_date, error_message = info.last_error_date, info.last_error_message
    if error_message and error_date and datetime.now(UTC) - error_date < timedelta(hours=24):
        report.fail(
            "webhook",
            f"Telegram could not deliver updates to WEBHOOK_URL at "
            f"{error_date:%Y-%m-%d %H:%M} UTC: {error_message} (check that the reverse proxy "
            f"forwards {plan.url_path} to port {settings.port}){waiting}",
        )
        return
    report.ok(
        "webhook", f"Telegram delivers updates to {urlsplit(plan.webhook_url).netloc}{waiting}"
    )


def check_settings(settings: Settings, report: Diagnosis) -> None:
    env_file = Path(".env").resolve()
    source = f"{env_file} and the environment" if env_file.exists() else "the environment only"
    report.ok("settings", f"valid (read from {source})")
    if settings.webhook_url:
        try:
            plan = webhook_plan(settings)
        except CliError as exc:
            report.fail("WEBHOOK_URL", str(exc))
            return
        if not plan.secret_from_settings:
            report.ok("WEBHOOK_SECRET", "not set: a secret derived from BOT_TOKEN is used")
        own_api = settings.telegram_api_base_url != TELEGRAM_API
        if not settings.webhook_url.startswith("https://") and not own_api:
            report.fail("WEBHOOK_URL", "Telegram only delivers webhooks to https:// addresses")


async def diagnose(settings: Settings, *, quick: bool) -> Diagnosis:
    report = Diagnosis()
    check_settings(settings, report)
    token = settings.token
    if not token:
        report.fail(
            "BOT_TOKEN",
            "not set: get one from @BotFather (/newbot) and put BOT_TOKEN=... in .env",
        )
    else:
        report.ok("BOT_TOKEN", "set")
    await check_database(settings, report)
    if token and not quick:
        await check_telegram(settings, token, report)
    return report


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0 if all is well, 2 if a setting is invalid or BOT_TOKEN is missing, else 1."""
    try:
        settings = load_settings()
    except CliError as exc:
        for line in str(exc).splitlines():
            print(f"FAIL  {line.removeprefix('relais: ')}")
        print("\nFix the setting(s) above, then run `relais doctor` again.")
        return EXIT_CONFIG
    report = asyncio.run(diagnose(settings, quick=args.quick))
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    for check in report.checks:
        print(f"{marks[check.status]}  {check.subject}: {check.detail}")
    problems = sum(check.status == "fail" for check in report.checks)
    print("\nAll good." if not problems else f"\n{problems} problem(s): see FAIL above.")
    if not settings.token:
        print("\n" + botfather_help(), file=sys.stderr, end="")
        return EXIT_CONFIG
    return EXIT_FAILURE if report.failed else EXIT_OK


# --- command line ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais",
        description="Relais: the Telegram bot that keeps merchants going between sessions.",
        epilog="Settings come from the environment and from ./.env (see .env.example).",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    init = commands.add_parser(
        "init",
        help="first run: token, privacy notice, first cohort, first coordinator",
        description="Ask six questions (the bot's token, the organisation's name and contact, "
        "the first cohort's name and commune, the coordinator's Telegram id), write .env, "
        "migrate the database and create the cohort. Without a coordinator id it prints a "
        "one-time setup code. Answers may be piped, one per line in that order. Re-running "
        "keeps .env's other lines and never drops the database nor doubles the cohort.",
    )
    init.add_argument("--token", help="the bot's token from @BotFather")
    init.add_argument("--org", help="the organisation's name (privacy notice)")
    init.add_argument("--contact", help="how to reach it about personal data")
    init.add_argument("--cohort-name", help='the first cohort, e.g. "Estaimpuis 2026"')
    init.add_argument("--commune", help='where its sessions take place, e.g. "Estaimpuis"')
    init.add_argument("--admin-id", help="the coordinator's Telegram user id (else a setup code)")
    init.add_argument("--yes", action="store_true", help="ask nothing: flags, then current values")
    init.set_defaults(handler=cmd_init)

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

    doctor = commands.add_parser(
        "doctor",
        help="check settings, database, token and webhook",
        description="Check the settings, the database and its schema, the token (getMe) and "
        "the webhook state, and say what is wrong in plain words. Exit code 1 if anything is.",
    )
    doctor.add_argument(
        "--quick", action="store_true", help="settings and database only (no call to Telegram)"
    )
    doctor.set_defaults(handler=cmd_doctor)

    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database to a file (PostgreSQL: prints the pg_dump command)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copy the SQLite database to FILE, safely while the bot runs.",
        epilog="Restore: stop the bot, delete the database file and its -wal and -shm\n"
        "companions, copy the backup in its place, start the bot (`relais run` migrates\n"
        "a backup made by an older version).",
    )
    backup.add_argument("--out", required=True, metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.set_defaults(handler=cmd_backup)

    cohort = commands.add_parser("cohort", help="manage cohorts")
    cohort_commands = cohort.add_subparsers(title="cohort commands", metavar="ACTION")
    create = cohort_commands.add_parser("create", help="create a cohort and print its join code")
    create.add_argument("--name", required=True, help='e.g. "Estaimpuis 2026"')
    create.add_argument("--commune", required=True, help='e.g. "Estaimpuis"')
    create.set_defaults(handler=cmd_cohort_create)
    cohort.set_defaults(handler=_help_of(cohort))

    export = commands.add_parser(
        "export", help="write a cohort's spreadsheet (members, sessions, RSVPs, attendance)"
    )
    export.add_argument("--cohort", required=True, help="the cohort's id or join code")
    export.add_argument("--out", required=True, metavar="FILE", help="the .xlsx file to write")
    export.set_defaults(handler=cmd_export)

    outbox = commands.add_parser("outbox", help="what the delivery outbox holds")
    outbox.set_defaults(handler=cmd_outbox)

    purge = commands.add_parser(
        "purge",
        help="erase members inactive for RETENTION_DAYS (after their week of notice)",
        description="Erase the members whose retention period (RETENTION_DAYS) and week of "
        "notice are over, as the bot's daily pass does, and queue the warnings that are due "
        "(the running bot sends them).",
    )
    purge.add_argument("--dry-run", action="store_true", help="only count, change nothing")
    purge.set_defaults(handler=cmd_purge)

    audit = commands.add_parser(
        "audit",
        help="list the audit log (staff actions, erasures)",
        description="Print the audit log, oldest first: who did what, when, in which cohort.",
    )
    audit.add_argument("--cohort", help="only this cohort (id or join code)")
    audit.add_argument("--since", metavar="YYYY-MM-DD", help="only entries from this day on")
    audit.add_argument("--action", help='only actions starting with this (e.g. "staff.")')
    audit.add_argument("--limit", type=int, default=200, help="the newest N entries (200)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(handler=cmd_audit)

    i18n = commands.add_parser("i18n", help="update or check the translation catalogs")
    i18n.add_argument("action", choices=["update", "check"])
    i18n.set_defaults(handler=cmd_i18n)

    content = commands.add_parser(
        "content",
        help="check the tips and the curriculum",
        description="Check every tip (content/tips/<lang>/*.md) and content/curriculum.yaml: "
        "print each problem with its file, line and field, then the tips per theme and "
        "language. Exit code 1 if anything is wrong.",
    )
    content.add_argument("action", choices=["check"])
    content.add_argument(
        "--dir", type=Path, default=None, help="the content folder (default: this installation's)"
    )
    content.set_defaults(handler=cmd_content)

    tryout = commands.add_parser(
        "try",
        help="chat with Relais in the terminal, on a simulated Telegram",
        description="Chat with the real bot in the terminal: a simulated Telegram and a "
        "throw-away database, no token needed.",
    )
    tryout.add_argument(
        "--as",
        dest="role",
        choices=["merchant", "trainer", "coordinator"],
        default="merchant",
        help="who you are in the conversation (default: merchant)",
    )
    tryout.add_argument("--empty", action="store_true", help="start without the demo cohort")
    tryout.set_defaults(handler=cmd_try)

    flyer = commands.add_parser(
        "flyer",
        help="write a cohort's printable A4 poster (PDF) with its join QR code",
        description="A printable A4 PDF for the room: the cohort's and commune's names, the "
        "join QR code, three illustrated steps and the link written out.",
    )
    flyer.add_argument("--cohort", required=True, help="the cohort's id or join code")
    flyer.add_argument("--out", required=True, metavar="FILE", help="the .pdf file to write")
    flyer.add_argument(
        "--bot", metavar="USERNAME", help="the bot's username (default: asked to Telegram, getMe)"
    )
    flyer.set_defaults(handler=cmd_flyer)

    transcripts = commands.add_parser(
        "transcripts",
        help="regenerate the conversations shown in the guides (docs/transcripts/)",
        description="Play the guides' conversations against the sandbox with the demo cohort "
        "and write them to docs/transcripts/*.md and into the guides' marked blocks.",
    )
    transcripts.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a transcript is stale"
    )
    transcripts.set_defaults(handler=cmd_transcripts)
    return parser


def _help_of(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show_help(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG

    return show_help


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    try:
        return handler(args)
    except CliError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
