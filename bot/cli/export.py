"""`relais export --cohort <id or join code> --out file.xlsx`: a cohort's spreadsheet.

The workbook is the one `/export` sends (bot/reports/export.py builds it), with headers in
the cohort's language. Personal data leaves the database: the export is audited, as
`cohort.export` done from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.cli.common import load_settings, open_database
from bot.config import Settings

if TYPE_CHECKING:
    from bot.models import Cohort


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser(
        "export", help="write a cohort's spreadsheet (members, sessions, RSVPs, attendance)"
    )
    export.add_argument("--cohort", required=True, help="the cohort's id or join code")
    export.add_argument("--out", required=True, metavar="FILE", help="the .xlsx file to write")
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    return export_command(load_settings(), args.cohort, args.out)


async def _export(settings: Settings, ref: str, out: Path) -> tuple[Cohort | None, int]:
    from bot.content import load_for_bot
    from bot.i18n import I18n
    from bot.reports.export import workbook_bytes
    from bot.services.audit import audit
    from bot.services.cohorts import find_by_ref

    async with open_database(settings.database_url) as db, db.unit_of_work() as session:
        cohort = await find_by_ref(session, ref, include_archived=True)
        if cohort is None:
            return None, 0
        t = I18n(default_language=settings.default_language)(cohort.language, cohort.timezone)
        data = await workbook_bytes(session, cohort, t, load_for_bot())
        # Personal data left the database: the commune can see who exported what, when.
        await audit(session, None, cohort.id, "cohort.export", {"via": "cli"})
    await asyncio.to_thread(out.write_bytes, data)
    return cohort, len(data)


def export_command(
    settings: Settings, cohort: str, out: str | Path, *, stdout: TextIO | None = None
) -> int:
    """Write the workbook; exit code 0 when written, 1 when the cohort is unknown."""
    stream = stdout or sys.stdout
    path = Path(out)
    found, size = asyncio.run(_export(settings, cohort, path))
    if found is None:
        print(f"relais: no cohort with id or join code {cohort!r}", file=sys.stderr)
        return 1
    print(f"Wrote {path} ({size} bytes) for cohort {found.id} {found.name!r}.", file=stream)
    return 0
