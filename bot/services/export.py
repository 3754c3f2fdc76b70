"""`relais export --cohort <id or join code> --out file.xlsx`: the coordinator's workbook,
written from the command line (the workbook itself is bot/reports/export.py).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.config import Settings
from bot.db import Database
from bot.i18n import I18n
from bot.models import Cohort
from bot.reports.export import workbook_bytes
from bot.services.audit import audit
from bot.services.cohorts import find_by_ref

# --- `relais export` --------------------------------------------------------------------------


async def _export(settings: Settings, ref: str, out: Path) -> tuple[Cohort | None, int]:
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as session:
            cohort = await find_by_ref(session, ref, include_archived=True)
            if cohort is None:
                return None, 0
            t = I18n(default_language=settings.default_language)(cohort.language, cohort.timezone)
            data = await workbook_bytes(session, cohort, t)
            # Personal data left the database: the commune can see who exported what, when.
            await audit(session, None, cohort.id, "cohort.export", {"via": "cli"})
    finally:
        await db.dispose()
    await asyncio.to_thread(out.write_bytes, data)
    return cohort, len(data)


def export_command(
    settings: Settings, cohort: str, out: str | Path, *, stdout: TextIO | None = None
) -> int:
    """`relais export --cohort <id or join code> --out file.xlsx`; exit code 0 when written."""
    stream = stdout or sys.stdout
    path = Path(out)
    found, size = asyncio.run(_export(settings, cohort, path))
    if found is None:
        print(f"relais: no cohort with id or join code {cohort!r}", file=sys.stderr)
        return 1
    print(f"Wrote {path} ({size} bytes) for cohort {found.id} {found.name!r}.", file=stream)
    return 0
