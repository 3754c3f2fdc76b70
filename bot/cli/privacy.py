"""`relais purge` (retention by hand) and `relais audit` (who did what), for operators.

relais purge [--dry-run]
    Erase the members whose retention period (RETENTION_DAYS) and week of notice are over,
    exactly as the bot's daily pass does, and queue the warnings that are due (the running
    bot sends them). `--dry-run` only counts.

relais audit [--cohort C] [--since YYYY-MM-DD] [--action A] [--limit N] [--json]
    The audit log, oldest first: every staff action (cohort created, invitation made and
    accepted, role granted, session planned or cancelled, attendance ticked, export...) and
    every erasure (`privacy.forget`, anonymous). Actors are shown by first name and member
    number; "-" when there is none (the command line, the bot itself, or a person erased since).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, TextIO

from bot.cli.common import load_settings, open_database
from bot.config import Settings

if TYPE_CHECKING:
    from bot.db import Database
    from bot.services.privacy import PurgeReport


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    purge = commands.add_parser(
        "purge",
        help="erase members inactive for RETENTION_DAYS (after their week of notice)",
        description="Erase the members whose retention period (RETENTION_DAYS) and week of "
        "notice are over, as the bot's daily pass does, and queue the warnings that are due "
        "(the running bot sends them).",
    )
    purge.add_argument("--dry-run", action="store_true", help="only count, change nothing")
    purge.set_defaults(handler=cmd_purge)

    audit = commands.add_parser(
        "audit",
        help="list the audit log (staff actions, erasures)",
        description="Print the audit log, oldest first: who did what, when, in which cohort.",
    )
    audit.add_argument("--cohort", help="only this cohort (id or join code)")
    audit.add_argument("--since", metavar="YYYY-MM-DD", help="only entries from this day on")
    audit.add_argument("--action", help='only actions starting with this (e.g. "staff.")')
    audit.add_argument("--limit", type=int, default=200, help="the newest N entries (200)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(handler=cmd_audit)


def cmd_purge(args: argparse.Namespace) -> int:
    return purge_command(load_settings(), dry_run=args.dry_run)


def cmd_audit(args: argparse.Namespace) -> int:
    return audit_command(
        load_settings(),
        cohort=args.cohort,
        since=args.since,
        action=args.action,
        limit=args.limit,
        as_json=args.json,
    )


# --- purge ---------------------------------------------------------------------------------------


async def run_purge(settings: Settings, now: datetime, *, dry_run: bool) -> PurgeReport:
    from bot.services import privacy

    async with open_database(settings.database_url) as db, db.unit_of_work() as session:
        return await privacy.purge_inactive(session, now, settings.retention_days, dry_run=dry_run)


def purge_command(
    settings: Settings, *, dry_run: bool = False, stdout: TextIO | None = None
) -> int:
    """Exit code 0; the counts are printed."""
    out = stdout or sys.stdout
    if settings.retention_days <= 0:
        print("RETENTION_DAYS is 0: automatic erasure is off, nothing to do.", file=out)
        return 0
    from bot.clock import SystemClock

    report = asyncio.run(run_purge(settings, SystemClock().now(), dry_run=dry_run))
    verb = "would erase" if dry_run else "erased"
    queue = "would queue" if dry_run else "queued"
    print(
        f"retention {settings.retention_days} days: {verb} {report.erased} member(s), "
        f"{queue} {report.warnings} warning(s); {report.waiting} other(s) inactive, "
        "within their week of notice.",
        file=out,
    )
    return 0


# --- audit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    actor: str
    cohort: str
    action: str
    details: dict[str, Any]

    def as_json(self) -> str:
        return json.dumps(
            {
                "at": self.at.isoformat(),
                "actor": self.actor,
                "cohort": self.cohort,
                "action": self.action,
                "details": self.details,
            },
            ensure_ascii=False,
            default=str,
        )

    def as_text(self) -> str:
        details = json.dumps(self.details, ensure_ascii=False, default=str)
        when = f"{self.at:%Y-%m-%d %H:%M} UTC"
        return f"{when}  {self.actor:<20}  {self.cohort:<24}  {self.action:<22}  {details}"


async def audit_lines(
    db: Database,
    *,
    cohort: str | None = None,
    since: date | None = None,
    action: str | None = None,
    limit: int = 200,
) -> list[AuditLine] | None:
    """The newest `limit` entries matching, oldest first; None if the cohort is unknown."""
    from sqlalchemy import select

    from bot.models import AuditEntry, Cohort, Member
    from bot.services.cohorts import find_by_ref

    async with db.unit_of_work() as session:
        query = select(AuditEntry, Member.first_name, Cohort.name).outerjoin(
            Member, Member.id == AuditEntry.actor_id
        )
        query = query.outerjoin(Cohort, Cohort.id == AuditEntry.cohort_id)
        if cohort is not None:
            found = await find_by_ref(session, cohort, include_archived=True)
            if found is None:
                return None
            query = query.where(AuditEntry.cohort_id == found.id)
        if since is not None:
            query = query.where(AuditEntry.at >= datetime.combine(since, time(), tzinfo=UTC))
        if action is not None:
            query = query.where(AuditEntry.action.startswith(action, autoescape=True))
        query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(max(limit, 1))
        rows = (await session.execute(query)).all()
    lines = []
    for entry, first_name, cohort_name in reversed(rows):
        # No actor: done from the command line, by the bot itself, or by someone erased since.
        actor = "-" if entry.actor_id is None else f"#{entry.actor_id} {first_name}"
        lines.append(
            AuditLine(
                at=entry.at,
                actor=actor,
                cohort=cohort_name or "-",
                action=entry.action,
                details=dict(entry.details or {}),
            )
        )
    return lines


def audit_command(
    settings: Settings,
    *,
    cohort: str | None = None,
    since: str | None = None,
    action: str | None = None,
    limit: int = 200,
    as_json: bool = False,
    stdout: TextIO | None = None,
) -> int:
    """Exit code 0, or 2 for an unknown cohort or a malformed date."""
    out = stdout or sys.stdout
    start: date | None = None
    if since:
        try:
            start = date.fromisoformat(since)
        except ValueError:
            print(f"relais: --since expects a date as YYYY-MM-DD, got {since!r}", file=sys.stderr)
            return 2

    async def read() -> list[AuditLine] | None:
        async with open_database(settings.database_url) as db:
            return await audit_lines(db, cohort=cohort, since=start, action=action, limit=limit)

    lines = asyncio.run(read())
    if lines is None:
        print(f"relais: no cohort with id or join code {cohort!r}", file=sys.stderr)
        return 2
    if not lines:
        if not as_json:
            print("The audit log has no entry matching.", file=out)
        return 0
    for line in lines:
        print(line.as_json() if as_json else line.as_text(), file=out)
    return 0
