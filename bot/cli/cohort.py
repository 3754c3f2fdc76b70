"""`relais cohort create --name ... --commune ...`: create a cohort from the command line.

Used before anyone has talked to the bot (or without ADMIN_IDS): it prints the join code
and the deep-link payload to put behind `https://t.me/<bot>?start=`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.cli.common import EXIT_CONFIG, EXIT_OK, CliError, load_settings, open_database
from bot.cli.run import announce_migration, migrate_or_explain
from bot.clock import Clock, SystemClock
from bot.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.models import Cohort


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cohort = commands.add_parser("cohort", help="manage cohorts")
    cohort_commands = cohort.add_subparsers(title="cohort commands", metavar="ACTION")
    create = cohort_commands.add_parser("create", help="create a cohort and print its join code")
    create.add_argument("--name", required=True, help='e.g. "Estaimpuis 2026"')
    create.add_argument("--commune", required=True, help='e.g. "Estaimpuis"')
    create.set_defaults(handler=cmd_cohort_create)
    cohort.set_defaults(handler=_help_of(cohort))


def _help_of(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show_help(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG

    return show_help


def cmd_cohort_create(args: argparse.Namespace) -> int:
    settings = load_settings()
    # A cohort is often the first thing created, before the bot ever ran: migrate first too.
    before, after = migrate_or_explain(settings)
    if before != after:
        print(announce_migration(before, after))
    try:
        print(asyncio.run(create_and_describe(settings, args.name, args.commune)))
    except ValueError as exc:  # bot.services.validation.InvalidValue: empty or too long
        raise CliError(f"cannot create the cohort: {exc}", EXIT_CONFIG) from None
    return EXIT_OK


async def create_with_settings(
    session: AsyncSession, settings: Settings, name: str, commune: str, now: datetime
) -> Cohort:
    """A new cohort in the installation's zone and language (also used by `relais init`).

    Raises bot.services.validation.InvalidValue for an empty or too long name/commune.
    """
    from bot.services import cohorts

    return await cohorts.create_cohort(
        session,
        name=name,
        commune=commune,
        timezone=settings.timezone,
        language=settings.default_language,
        now=now,
    )


async def create_and_describe(
    settings: Settings, name: str, commune: str, *, clock: Clock | None = None
) -> str:
    """Create the cohort and return what to print (plain text, French like the guides)."""
    from bot.services.cohorts import JOIN_PREFIX

    now = (clock or SystemClock()).now()
    async with open_database(settings.database_url) as db, db.unit_of_work() as session:
        cohort = await create_with_settings(session, settings, name, commune, now)
    return (
        f"Cohorte « {cohort.name} » ({cohort.commune}) créée, n° {cohort.id}.\n"
        f"Code d'inscription : {cohort.join_code}\n"
        f"Lien : https://t.me/<nom_du_bot>?start={JOIN_PREFIX}{cohort.join_code}\n"
        "Un coordinateur (ADMIN_IDS) obtient le lien complet et le QR code avec /inviter."
    )
