"""`relais outbox`: what the delivery outbox holds (read-only; see bot/delivery/report.py)."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import EXIT_OK, load_settings, open_database
from bot.config import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = commands.add_parser("outbox", help="what the delivery outbox holds")
    outbox.set_defaults(handler=cmd_outbox)


def cmd_outbox(args: argparse.Namespace) -> int:
    return outbox_command(load_settings())


async def show_outbox(settings: Settings) -> str:
    from bot.clock import SystemClock
    from bot.delivery.report import build_report, format_report

    async with open_database(settings.database_url) as db, db.sessionmaker() as session:
        report = await build_report(session, SystemClock().now())
    return format_report(report)


def outbox_command(settings: Settings) -> int:
    """Print the report; 0 on success."""
    print(asyncio.run(show_outbox(settings)))
    return EXIT_OK
