"""`relais bilan --cohort <id or join code> --out bilan.pdf`: the programme's impact report.

The PDF is the one `/bilan` sends (bot/reports/bilan.py computes, bot/reports/bilan_pdf.py
draws), in the cohort's language unless `--lang` says otherwise. Aggregates only: nothing
personal leaves the database, so nothing is audited.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot.cli.common import CliError, load_settings, open_database
from bot.clock import Clock, SystemClock
from bot.config import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bilan = commands.add_parser(
        "bilan",
        help="write a cohort's impact report (A4 PDF, aggregates only) for the commune",
        description="The programme's impact report as an A4 PDF: sessions and attendance, "
        "weekly engagement, objectives, practices and numbers before and after, the most "
        "liked tip themes. Any figure over fewer than five people is shown as '< 5'.",
    )
    bilan.add_argument("--cohort", required=True, help="the cohort's id or join code")
    bilan.add_argument("--out", required=True, metavar="FILE", help="the .pdf file to write")
    bilan.add_argument(
        "--lang", choices=("fr", "nl", "en"), help="the report's language (default: the cohort's)"
    )
    bilan.set_defaults(handler=cmd_bilan)


def cmd_bilan(args: argparse.Namespace) -> int:
    return bilan_command(load_settings(), args.cohort, args.out, lang=args.lang)


async def _bilan(
    settings: Settings, ref: str, lang: str | None, clock: Clock
) -> tuple[str, bytes] | None:
    from bot.content import load_for_bot
    from bot.i18n import I18n
    from bot.reports.bilan import bilan_with_content
    from bot.reports.bilan_pdf import render_bilan
    from bot.services.cohorts import find_by_ref

    content = load_for_bot()
    async with open_database(settings.database_url) as db, db.read() as session:
        cohort = await find_by_ref(session, ref, include_archived=True)
        if cohort is None:
            return None
        data = await bilan_with_content(
            session, cohort, clock.now(), content, settings.booster_months
        )
        language = lang or cohort.language
    t = I18n(default_language=settings.default_language)(language, data.zone)
    pdf = await asyncio.to_thread(render_bilan, data, t, content)
    return data.cohort_name, pdf


def bilan_command(
    settings: Settings,
    ref: str,
    out: str | Path,
    *,
    lang: str | None = None,
    stdout: TextIO | None = None,
    clock: Clock | None = None,
) -> int:
    """Write the PDF; exit code 0 when written, 1 when the cohort is unknown."""
    path = Path(out)
    if not path.parent.exists():
        raise CliError(f"the folder {path.parent.resolve()} does not exist")
    found = asyncio.run(_bilan(settings, ref, lang, clock or SystemClock()))
    if found is None:
        raise CliError(f"no cohort with id or join code {ref!r}")
    name, pdf = found
    path.write_bytes(pdf)
    print(
        f"Wrote {path} ({len(pdf)} bytes): the impact report of cohort {name!r}.",
        file=stdout or sys.stdout,
    )
    return 0
