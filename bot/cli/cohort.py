"""`relais cohort create --name ... --commune ...`: create a cohort from the command line.

Also `relais cohort booster --cohort <code> [--ends-on YYYY-MM-DD | --extend N | --end]` (the
months after the last session) and `relais cohort alumni --from <code> --name ... --commune ...`
(a new cohort, the earlier one's merchants invited as guests).

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
    register_booster(cohort_commands)
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


# -- the booster phase (bot/services/booster.py) -----------------------------------------------


def register_booster(cohort_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    booster = cohort_commands.add_parser(
        "booster", help="the months after a cohort's last session: show, set the end, extend, end"
    )
    booster.add_argument("--cohort", required=True, help="the cohort's join code or number")
    action = booster.add_mutually_exclusive_group()
    action.add_argument("--ends-on", metavar="YYYY-MM-DD", help="the sessions end on this day")
    action.add_argument("--extend", type=int, metavar="MONTHS", help="add months to the phase")
    action.add_argument("--end", action="store_true", help="end the booster phase now")
    booster.set_defaults(handler=cmd_cohort_booster)
    alumni = cohort_commands.add_parser(
        "alumni", help="create a new cohort and invite an earlier cohort's merchants as guests"
    )
    alumni.add_argument("--from", dest="source", required=True, help="the earlier cohort")
    alumni.add_argument("--name", required=True, help='e.g. "Estaimpuis 2027"')
    alumni.add_argument("--commune", required=True, help='e.g. "Estaimpuis"')
    alumni.set_defaults(handler=cmd_cohort_alumni)


async def _find_cohort(session: AsyncSession, ref: str) -> Cohort:
    from sqlalchemy import or_, select

    from bot.models import Cohort

    number = int(ref) if ref.isdigit() else -1
    found = await session.scalar(
        select(Cohort).where(or_(Cohort.join_code == ref, Cohort.id == number))
    )
    if found is None:
        raise CliError(f"no cohort {ref!r} (give its join code or number)", EXIT_CONFIG)
    return found


async def booster_command(
    settings: Settings,
    ref: str,
    *,
    ends_on: str | None = None,
    extend: int | None = None,
    end: bool = False,
    clock: Clock | None = None,
) -> str:
    """Change the cohort's booster phase as asked, then describe it (plain text, French)."""
    from zoneinfo import ZoneInfo

    from bot.content import load_for_bot
    from bot.services import booster

    now = (clock or SystemClock()).now()
    programme = booster.programme_of(settings, load_for_bot())
    async with open_database(settings.database_url) as db, db.unit_of_work() as session:
        cohort = await _find_cohort(session, ref)
        zone = ZoneInfo(cohort.timezone)
        if ends_on is not None:
            try:
                day = datetime.fromisoformat(ends_on).date()
            except ValueError:
                raise CliError(f"not a date: {ends_on!r} (YYYY-MM-DD)", EXIT_CONFIG) from None
            await booster.set_end(
                session, cohort.id, datetime(day.year, day.month, day.day, 23, 59, tzinfo=zone)
            )
        elif extend is not None:
            if not 1 <= extend <= 24:
                raise CliError("--extend takes 1 to 24 months", EXIT_CONFIG)
            if await booster.extend(session, cohort.id, extend, now, programme) is None:
                raise CliError("this cohort has no end yet (no session, no --ends-on)", EXIT_CONFIG)
        elif end:
            await booster.end_now(session, cohort.id, now, programme)
        times = await booster.cohort_times(session, cohort.id, now, programme)
        assert times is not None
        name = cohort.name
    phases = {"sessions": "séances en cours", "booster": "suite par message", "after": "terminé"}
    lines = [f"Cohorte « {name} » : {phases[times.phase.value]}."]
    if times.end is not None:
        lines.append(f"Fin des séances : {times.end.astimezone(zone):%d/%m/%Y %H:%M}")
    if times.booster_end is not None:
        lines.append(f"Fin de la suite par message : {times.booster_end.astimezone(zone):%d/%m/%Y}")
    return "\n".join(lines)


def cmd_cohort_booster(args: argparse.Namespace) -> int:
    settings = load_settings()
    print(
        asyncio.run(
            booster_command(
                settings, args.cohort, ends_on=args.ends_on, extend=args.extend, end=args.end
            )
        )
    )
    return EXIT_OK


async def alumni_command(
    settings: Settings, source: str, name: str, commune: str, *, clock: Clock | None = None
) -> str:
    from bot.services import booster

    now = (clock or SystemClock()).now()
    async with open_database(settings.database_url) as db, db.unit_of_work() as session:
        earlier = await _find_cohort(session, source)
        cohort = await create_with_settings(session, settings, name, commune, now)
        invited = await booster.invite_alumni(session, earlier.id, cohort.id, now)
    return (
        f"Cohorte « {cohort.name} » ({cohort.commune}) créée, n° {cohort.id}, "
        f"code {cohort.join_code}.\n"
        f"{invited} ancien(s) de « {earlier.name} » invité(s) (message avec le lien du groupe)."
    )


def cmd_cohort_alumni(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        print(asyncio.run(alumni_command(settings, args.source, args.name, args.commune)))
    except ValueError as exc:
        raise CliError(f"cannot create the cohort: {exc}", EXIT_CONFIG) from None
    return EXIT_OK
