"""Small helpers shared by handlers: replies, keyboards from plain data, callback parsing."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

Buttons = Sequence[Sequence[tuple[str, str]]]


def inline(rows: Buttons) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (label, callback_data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


async def reply(update: Update, text: str, **kwargs: object) -> Message | None:
    """Answer in the chat of the update (message or button press)."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, **kwargs)  # type: ignore[arg-type]


async def answer_callback(update: Update, text: str | None = None, alert: bool = False) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(text=text, show_alert=alert)


def callback_args(update: Update, area: str, count: int) -> list[str] | None:
    """The `count` arguments of callback data `<area>:<a>:<b>...`, or None if malformed."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    parts = query.data.split(":")
    if parts[0] != area or len(parts) != count + 1 or any(not part for part in parts[1:]):
        return None
    return parts[1:]


# Primary keys are 32-bit integers on PostgreSQL: a larger id from forged callback data
# would be a database error, not a "not found".
MAX_ID = 2**31 - 1


def int_arg(value: str) -> int | None:
    """A number from callback data (an id, an index; untrusted): 0..MAX_ID, else None."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def page_arg(value: str) -> int | None:
    """A page number (0 for the first) from callback data, else None (ids start at 1)."""
    if not value.isascii() or not value.isdigit() or len(value) > 6:
        return None
    return int(value)
