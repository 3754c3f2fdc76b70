"""`relais doctor`: check settings, database, token and webhook; say what is wrong.

Each check prints one line, `ok`, `warn` or `FAIL`, with what to do in plain words. Exit
code 0 when all is well, 1 when a check failed, 2 when a setting is invalid or BOT_TOKEN is
missing. `--quick` leaves Telegram out (settings and database only).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import text

from bot.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    CliError,
    botfather_help,
    database_error_reason,
    load_settings,
    safe_url,
    short_lived_bot,
    sqlite_path,
    uses_sqlite,
)
from bot.cli.run import known_revisions, webhook_plan
from bot.config import TELEGRAM_API, Settings
from bot.logs import redact

if TYPE_CHECKING:
    from telegram import WebhookInfo


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    if uses_sqlite(url):
        path = sqlite_path(url)
        if path is not None and not path.exists():
            report.fail(
                "database",
                f"no database file yet at {path.resolve()}: run `relais migrate` "
                "(`relais run` also creates it)",
            )
            return
    # asyncpg waits 60 s for a dead host by default; a doctor should answer sooner.
    kwargs: dict[str, Any] = {} if uses_sqlite(url) else {"connect_args": {"timeout": 5}}
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
    from telegram.error import InvalidToken, TelegramError

    base = settings.telegram_api_base_url
    host = urlsplit(base).netloc or base
    bot = short_lived_bot(token, base)
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
