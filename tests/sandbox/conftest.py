"""Fixtures of the sandbox tests: a running sandbox, a real PTB Bot, a small real Application.

The echo application stands in for Relais: a few handlers shaped like ours (HTML replies,
inline and reply keyboards, callback answers and edits, a photo round trip, a handler doing
slow work between two Bot API calls) so the simulator is proven against real PTB behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import SandboxBotAPI, Simulator

TOKEN = "123456:SANDBOX-TEST-TOKEN"
USERNAME = "relais_test_bot"

EchoApp = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Override in a module to configure the sandbox."""
    return {"flood_limits": False}


@pytest.fixture
async def sandbox(sandbox_options: dict[str, Any]) -> AsyncIterator[SandboxBotAPI]:
    async with SandboxBotAPI(**sandbox_options) as api:
        api.add_bot(TOKEN, username=USERNAME)
        yield api


@pytest.fixture
async def bot(sandbox: SandboxBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url) as b:
        yield b


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    if context.args:
        await update.effective_message.reply_text(f"Payload : {context.args[0]}")
        return
    await update.effective_message.reply_text(
        "<b>Bienvenue</b> chez Relais !",
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("🇫🇷 Français", callback_data="lang:fr"),
                    InlineKeyboardButton("🇳🇱 Nederlands", callback_data="lang:nl"),
                ],
                [InlineKeyboardButton("Silence", callback_data="mute")],
                [InlineKeyboardButton("Rejoindre", url=f"https://t.me/{USERNAME}?start=join_X1")],
            ]
        ),
    )
    await update.effective_message.reply_text(
        "Menu",
        reply_markup=ReplyKeyboardMarkup(
            [["Mes objectifs", "Aide"], [KeyboardButton("Mon numéro", request_contact=True)]],
            resize_keyboard=True,
        ),
    )


async def _language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    await query.answer("C'est noté")
    await query.edit_message_text(f"Langue : {query.data.split(':')[1]}")


async def _mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Deliberately does not answer the callback query."""


async def _slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Je cherche…")
    await asyncio.sleep(0.15)  # e.g. a slow query, longer than the simulator's quiet period
    await update.effective_message.reply_text("Trouvé !")


async def _photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_photo(
        message.photo[-1].file_id, caption="<i>Belle</i> photo", parse_mode="HTML"
    )


async def _contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    assert message.contact is not None
    await message.reply_text(f"Numéro : {message.contact.phone_number}")


async def _edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.edited_message
    assert message is not None
    await message.reply_text(f"Modifié : {message.text}")


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    assert message is not None
    await message.reply_text(f"Écho : {message.text}")


def build_echo_app(sandbox: SandboxBotAPI) -> EchoApp:
    app: EchoApp = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(sandbox.base_url)
        .base_file_url(sandbox.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("lent", _slow))
    app.add_handler(CallbackQueryHandler(_language, pattern=r"^lang:"))
    app.add_handler(CallbackQueryHandler(_mute, pattern=r"^mute$"))
    app.add_handler(MessageHandler(filters.PHOTO, _photo))
    app.add_handler(MessageHandler(filters.CONTACT, _contact))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT, _edited))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, _echo))
    return app


@pytest.fixture
async def echo_app(sandbox: SandboxBotAPI) -> AsyncIterator[EchoApp]:
    app = build_echo_app(sandbox)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=5)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture
def sim(sandbox: SandboxBotAPI, echo_app: EchoApp) -> Simulator:
    simulator = sandbox.simulator
    simulator.watch(echo_app)
    return simulator
