"""Logging for the `relais` process: one `key=value` line per event, and never the bot token.

    ts=2026-11-26T09:00:00.123Z level=INFO logger=bot.app msg="relais started" instance=host:42

`setup_logging(settings)` installs one handler on the root logger. Whatever a caller passes
in `extra={...}` (update_id, delivery_id, cohort_id, ...) becomes more `key=value` pairs, so
a log line can be found by the update or delivery it is about. Tracebacks are folded into
the `exc` value: one event is always one line, whatever a log collector does with newlines.

The token is kept out in two ways: httpx (which logs every request URL, and Telegram's URLs
contain the token) is silenced to WARNING, and `TokenFilter` rewrites every record that
reaches the handler, replacing the token (and anything shaped like a bot token) with
`<BOT_TOKEN>`, in the message, its arguments, the extras and the traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote

if TYPE_CHECKING:
    from bot.config import Settings

REDACTED = "<BOT_TOKEN>"

# "123456789:AAE..." — the shape of every bot token, for tokens we were not told about
# (another bot's, or an old one that still appears in a stored error message).
# Letters may precede it: Telegram's URLs read ".../bot123456789:AAE.../getMe".
TOKEN_SHAPE = re.compile(r"(?<!\d)\d{5,16}:[A-Za-z0-9_-]{30,}")

# Libraries whose INFO/DEBUG output is either a privacy or a noise problem:
# httpx/httpcore log request URLs (the token is in Telegram's URLs); apscheduler logs every
# run of the planner and dispatcher ticks; aiosqlite logs every statement at DEBUG; alembic
# logs its plugins at each start (`relais run` logs the migration it made in one line).
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "aiosqlite", "tornado.access", "alembic")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)
_BARE_VALUE = re.compile(r"^[^\s\"=\\]+$")

_HANDLER_MARK = "_relais_handler"


def redact(text: str, tokens: Iterable[str | None] = ()) -> str:
    """`text` with each of `tokens` (raw or URL-encoded) and any token-shaped string replaced."""
    for token in tokens:
        if token:
            text = text.replace(token, REDACTED)
            encoded = quote(token, safe="")
            if encoded != token:
                text = text.replace(encoded, REDACTED)
    return TOKEN_SHAPE.sub(REDACTED, text)


class TokenFilter(logging.Filter):
    """Replace the bot token anywhere in a record by `<BOT_TOKEN>` (second line of defence).

    Attach it to a handler, not a logger: filters on a logger do not see the records that
    propagate to it from child loggers, while a handler sees every record it writes.
    """

    def __init__(self, tokens: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.tokens = tuple(token for token in tokens if token)

    def _clean(self, value: str) -> str:
        return redact(value, self.tokens)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call must still be logged, as best we can
            message = f"{record.msg!r} % {record.args!r}"
        # Freeze the message: the arguments' reprs are where tokens usually hide.
        record.msg = self._clean(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters use exc_text when it is set, so the raw exception is never re-rendered.
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD_ATTRS or value is None or isinstance(value, bool | int | float):
                continue
            text = value if isinstance(value, str) else str(value)
            cleaned = self._clean(text)
            if cleaned != text:
                setattr(record, key, cleaned)
        return True


def _format_value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and _BARE_VALUE.match(text):
        return text
    # JSON string quoting escapes quotes, backslashes and newlines: the line stays one line.
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """`ts=... level=... logger=... msg="..." key=value ...`, always on one line."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        pairs: list[tuple[str, object]] = [
            ("ts", created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"),
            ("level", record.levelname),
            ("logger", record.name),
            ("msg", record.getMessage()),
        ]
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                pairs.append((key, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            pairs.append(("exc", record.exc_text))
        if record.stack_info:
            pairs.append(("stack", self.formatStack(record.stack_info)))
        return " ".join(f"{key}={_format_value(value)}" for key, value in pairs)


def setup_logging(
    settings: Settings | None = None,
    *,
    level: str | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install Relais' handler on the root logger (replacing a previous one) and return it.

    The level is `level`, else LOG_LEVEL from `settings`, else INFO.
    """
    name = (level or (settings.log_level if settings else None) or "INFO").upper()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(TokenFilter([settings.token] if settings and settings.token else []))
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _HANDLER_MARK, False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Python warnings become log events too (one line, redacted) instead of raw stderr text.
    logging.captureWarnings(True)
    # PTB warns at start-up about ConversationHandlers that mix callback queries and
    # messages with per_message=False: intended in Relais (see pyproject's pytest filters).
    warnings.filterwarnings("ignore", message=r"If 'per_message=False'", category=UserWarning)
    return handler


__all__ = ["REDACTED", "KeyValueFormatter", "TokenFilter", "redact", "setup_logging"]
