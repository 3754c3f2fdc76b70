"""`relais try`: chat with Relais in a terminal, on a simulated Telegram (bot/devtools/)."""

from __future__ import annotations

import argparse
import asyncio


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def cmd_try(args: argparse.Namespace) -> int:
    from bot.devtools.tryout import run

    return asyncio.run(run(role=args.role, empty=args.empty))
