"""A local stand-in for the Telegram Bot API, and a user simulator.

`SandboxBotAPI` serves the Bot API over HTTP (strict like Telegram, with flood limits, fault
injection and a record of everything the bot sent); `Simulator` / `SimUser` / `SimGroup` play the
users in end-to-end tests, benchmarks and ``relais try``.
"""

from bot.sandbox.records import (
    Button,
    CallbackQueryRecord,
    GroupState,
    InboxEvent,
    MessageEdit,
    SandboxStats,
    SentMessage,
    SimUserState,
    StoredFile,
)
from bot.sandbox.server import ApiError, PendingUpdate, SandboxBot, SandboxBotAPI
from bot.sandbox.simulator import SimGroup, Simulator, SimUser

__all__ = [
    "ApiError",
    "Button",
    "CallbackQueryRecord",
    "GroupState",
    "InboxEvent",
    "MessageEdit",
    "PendingUpdate",
    "SandboxBot",
    "SandboxBotAPI",
    "SandboxStats",
    "SentMessage",
    "SimGroup",
    "SimUser",
    "SimUserState",
    "Simulator",
    "StoredFile",
]
