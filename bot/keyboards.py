"""Telegram's inline keyboard from plain `Button` rows: the one converter of the bot.

Renderers and handlers build rows of `Button` (bot/delivery/registry.py, bot/buttons.py);
the outbox dispatcher and every handler turn them into `InlineKeyboardMarkup` here.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.delivery.registry import Button


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    """The inline keyboard of `rows` (a callback or a link button each), or None if empty."""
    if not any(rows):
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.label, url=button.url)
                if button.url is not None
                else InlineKeyboardButton(button.label, callback_data=button.callback_data)
                for button in row
            ]
            for row in rows
            if row
        ]
    )
