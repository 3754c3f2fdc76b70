"""What every `relais` subcommand shares: exit codes, plain-word errors, settings, the database.

Exit codes: 0 success, 1 something failed (said in plain words on stderr), 2 the
configuration or the command line is wrong (missing BOT_TOKEN, bad setting, unknown option).
A command raises `CliError` for a mistake a person can fix; `main()` prints it as
`relais: <message>`, without a traceback, and never with the token.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.db import Database, is_sqlite
from bot.logs import redact

if TYPE_CHECKING:
    from telegram import Bot

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

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


# --- Telegram ------------------------------------------------------------------------------


def file_url_of(base_url: str) -> str:
    """The Bot API's file address that goes with `base_url` (as build_application derives it)."""
    return base_url.replace("/bot", "/file/bot", 1) if base_url.endswith("/bot") else base_url


def short_lived_bot(token: str, base_url: str) -> Bot:
    """A Bot for a command's one or two calls, with timeouts a person is willing to wait."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    return Bot(
        token,
        base_url=base_url,
        base_file_url=file_url_of(base_url),
        request=HTTPXRequest(connect_timeout=5, read_timeout=10),
    )


# --- database ------------------------------------------------------------------------------


# SQLAlchemy prefixes driver errors with "(sqlalchemy...Error) " and the asyncpg adapter
# with "<class 'asyncpg.exceptions.X'>: "; people only need the words after them.
_ERROR_PREFIXES = re.compile(r"^(\([\w.]+\)\s*)?(<class '[\w.]+'>:\s*)?")


def database_error_reason(exc: BaseException) -> str:
    """The first line of a database error, in the driver's own words, token-free."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return redact(_ERROR_PREFIXES.sub("", first, count=1) or type(exc).__name__)


def database_error(settings: Settings, exc: BaseException) -> CliError:
    reason = database_error_reason(exc)
    return CliError(f"cannot open the database {safe_url(settings.database_url)}: {reason}")


def uses_sqlite(url: str) -> bool:
    """bot.db.is_sqlite, with an unreadable DATABASE_URL reported as a setting error."""
    try:
        return is_sqlite(url)
    except Exception as exc:
        raise CliError(f"invalid setting DATABASE_URL: {exc}", EXIT_CONFIG) from None


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory or URI-style database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def check_sqlite_folder(url: str) -> None:
    path = sqlite_path(url)
    if path is not None and not path.parent.exists():
        raise CliError(
            f"the folder of the database file does not exist: {path.parent.resolve()} "
            "(create it, or change DATABASE_URL)"
        )


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """The database at `url` for one command, closed when the command is done."""
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()
