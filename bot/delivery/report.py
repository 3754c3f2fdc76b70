"""The operator's window into the delivery engine, printed by `relais outbox` (bot/cli/outbox.py).

    $ relais outbox
    Outbox at 2026-11-25 10:00 UTC
    status     total  broadcast  reminder  tip
    pending       12         10         2    .
    sent        3040       3000        40    .
    ...
    oldest pending: #812 reminder due 2026-11-25 09:58 UTC (2 min ago)
    dispatcher: host:4242 (lease until 10:00:25 UTC)
    last failures:
      #77 broadcast member 12, 1 attempt, 2026-11-25 09:12 UTC: bad request: ...

Like the rest of the `relais` command, it speaks English to the operator (member-facing texts
go through the catalogs). It only reads: counts by status and kind, the oldest pending row,
what is claimed right now and by whom, the dispatcher lease(s), and the last failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.dispatcher import LEASE_NAME, REGISTRATION_PREFIX, UNCONFIRMED_NOTE
from bot.models import Delivery, DeliveryStatus, Lease

STATUS_ORDER = [status.value for status in DeliveryStatus]


@dataclass(frozen=True)
class FailureLine:
    id: int
    kind: str
    member_id: int
    attempts: int
    at: datetime
    error: str


@dataclass(frozen=True)
class ClaimLine:
    claimed_by: str
    count: int
    oldest: datetime | None


@dataclass(frozen=True)
class LeaseLine:
    name: str
    holder: str
    expires_at: datetime


@dataclass
class OutboxReport:
    now: datetime
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # status -> kind -> n
    oldest_pending: tuple[int, str, datetime] | None = None
    overdue: int = 0  # pending and due: what the dispatcher has not caught up with
    unconfirmed: int = 0  # sent, but the send timed out (see dispatcher.py)
    claims: list[ClaimLine] = field(default_factory=list)
    leases: list[LeaseLine] = field(default_factory=list)
    last_failures: list[FailureLine] = field(default_factory=list)

    def count(self, status: str, kind: str | None = None) -> int:
        by_kind = self.counts.get(status, {})
        return by_kind.get(kind, 0) if kind is not None else sum(by_kind.values())


async def build_report(session: AsyncSession, now: datetime, *, failures: int = 10) -> OutboxReport:
    """Read what the operator needs to know about the outbox (a few indexed queries)."""
    report = OutboxReport(now=now)
    for status, kind, count in await session.execute(
        select(Delivery.status, Delivery.kind, func.count()).group_by(
            Delivery.status, Delivery.kind
        )
    ):
        report.counts.setdefault(status, {})[kind] = count
    pending = DeliveryStatus.PENDING.value
    oldest = (
        await session.execute(
            select(Delivery.id, Delivery.kind, Delivery.due_at)
            .where(Delivery.status == pending)
            .order_by(Delivery.due_at, Delivery.id)
            .limit(1)
        )
    ).first()
    if oldest is not None:
        report.oldest_pending = (oldest[0], oldest[1], oldest[2])
    report.overdue = (
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == pending, Delivery.due_at <= now)
        )
        or 0
    )
    report.unconfirmed = (
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.status == DeliveryStatus.SENT.value,
                Delivery.last_error == UNCONFIRMED_NOTE,
            )
        )
        or 0
    )
    for claimed_by, count, since in await session.execute(
        select(Delivery.claimed_by, func.count(), func.min(Delivery.claimed_at))
        .where(Delivery.status == DeliveryStatus.SENDING.value)
        .group_by(Delivery.claimed_by)
    ):
        report.claims.append(ClaimLine(claimed_by or "?", count, since))
    for lease in await session.scalars(
        select(Lease)
        .where((Lease.name == LEASE_NAME) | Lease.name.startswith(REGISTRATION_PREFIX))
        .order_by(Lease.name)
    ):
        report.leases.append(LeaseLine(lease.name, lease.holder, lease.expires_at))
    for row in await session.execute(
        select(
            Delivery.id,
            Delivery.kind,
            Delivery.member_id,
            Delivery.attempts,
            func.coalesce(Delivery.claimed_at, Delivery.due_at),
            Delivery.last_error,
        )
        .where(Delivery.status == DeliveryStatus.FAILED.value)
        .order_by(func.coalesce(Delivery.claimed_at, Delivery.due_at).desc(), Delivery.id.desc())
        .limit(failures)
    ):
        report.last_failures.append(
            FailureLine(row[0], row[1], row[2], row[3], _aware(row[4]), row[5] or "")
        )
    return report


def _aware(value: datetime) -> datetime:
    # coalesce() loses the column type, so SQLite hands back a naive (UTC) datetime.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _when(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC")


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def format_report(report: OutboxReport) -> str:
    """The report as a few lines of text for a terminal."""
    lines = [f"Outbox at {_when(report.now)}"]
    kinds = sorted({kind for by_kind in report.counts.values() for kind in by_kind})
    if not kinds:
        lines.append("empty: nothing was ever queued")
    else:
        statuses = [s for s in STATUS_ORDER if s in report.counts] + sorted(
            s for s in report.counts if s not in STATUS_ORDER
        )
        header = ["status", "total", *kinds]
        rows = [
            [status, str(report.count(status))]
            + [str(report.count(status, kind) or ".") for kind in kinds]
            for status in statuses
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [row[0].ljust(widths[0])] + [
                cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
    if report.oldest_pending is not None:
        delivery_id, kind, due_at = report.oldest_pending
        lines.append(
            f"oldest pending: #{delivery_id} {kind} due {_when(due_at)} "
            f"({_ago(report.now - due_at)}); {report.overdue} due now"
        )
    else:
        lines.append("oldest pending: none")
    if report.unconfirmed:
        lines.append(
            f"unconfirmed: {report.unconfirmed} sent but timed out (most likely delivered)"
        )
    for claim in report.claims:
        since = f" since {_when(claim.oldest)}" if claim.oldest is not None else ""
        lines.append(f"sending: {claim.count} claimed by {claim.claimed_by}{since}")
    if report.leases:
        for lease in report.leases:
            state = "until" if lease.expires_at > report.now else "EXPIRED at"
            lines.append(f"dispatcher: {lease.holder} (lease {state} {_when(lease.expires_at)})")
    else:
        lines.append("dispatcher: none running")
    if report.last_failures:
        lines.append("last failures:")
        for failure in report.last_failures:
            attempts = "attempt" if failure.attempts == 1 else "attempts"
            lines.append(
                f"  #{failure.id} {failure.kind} member {failure.member_id}, "
                f"{failure.attempts} {attempts}, {_when(failure.at)}: {failure.error}"
            )
    else:
        lines.append("last failures: none")
    return "\n".join(lines)
