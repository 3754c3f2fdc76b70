"""A crowd under Telegram's strict limit: 2,000 members get a reminder, all tap within a minute.

    .venv/bin/python bench/crowd.py                        # 2,000 members, SQLite
    .venv/bin/python bench/crowd.py --members 500          # a quick look
    .venv/bin/python bench/crowd.py --database-url postgresql+asyncpg://...   # EMPTIED

What it does, in one run:
1. starts the sandbox Bot API in this process with the strict flood limits (at most 30 sent
   or edited messages in any trailing second, measured at arrival; 1/s per chat, bursts of 3)
   and a round trip of 20-150 ms on every request (seeded: half before it arrives, half
   before its answer leaves, as from Europe);
2. creates one cohort of `--members` onboarded members and a session tomorrow, so that the
   24-hour reminder (with its RSVP buttons) is due now for everyone;
3. runs Relais as deployed (`relais run`: build_application, polling, the outbox engine) in
   a child process, as bench/latency.py does; its planner queues the reminders and its
   outbox sends them;
4. every member who receives the reminder taps one of its RSVP buttons (yes 4 times out of
   5) at a random moment within `--tap-window` seconds (60) of receiving it. Relais answers a
   tap with the callback answer (free) and an edit of the reminder (its buttons point at the
   answer, its last line says it): one message of the budget per tap.

It prints tap-to-answer p50/p99 (from the tap queued at the sandbox to the callback answer,
to the edit of the reminder, and to both), the messages per second of the replies and of the outbox
(and together, against Telegram's 30) while the outbox had work, the most messages that
arrived in any trailing second, 429s, and what was lost: reminders never received or
received twice, taps unanswered at the end (a tap unanswered after 120 s no longer holds the
run open), RSVPs missing from the database; then Relais's CPU time and the budget's summary
that the engine logs when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from bench.latency import note, percentile, spawn, stop, wait_polling  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Base, Cohort, Enrolment, Member, Rsvp, TrainingSession  # noqa: E402
from bot.sandbox.records import CallbackQueryRecord, SentMessage  # noqa: E402
from bot.sandbox.server import SandboxBotAPI  # noqa: E402

TOKEN = "123456:BENCH-CROWD-0123456789abcdefghijklmnopq"
TELEGRAM_LIMIT = 30.0
FIRST_USER = 5_000_001
# A tap not answered this long after it was made counts as unanswered.
ANSWER_TIMEOUT = 120.0
REMINDER_MARK = "⏰"


@dataclass
class Tap:
    user_id: int
    at: float  # time.monotonic() the update was queued at the sandbox
    record: CallbackQueryRecord
    seen: int  # events in the chat before the tap
    reply_at: float | None = None  # the first change in the chat after the tap (the edit)

    @property
    def answered_at(self) -> float | None:
        return self.record.answered_at if self.record.answered else None

    @property
    def answered(self) -> float | None:
        """When both the callback answer and the edit were there."""
        if self.answered_at is None or self.reply_at is None:
            return None
        return max(self.answered_at, self.reply_at)

    @property
    def done(self) -> bool:
        return self.answered is not None


# --- the database -------------------------------------------------------------------------------


async def prepare(url: str, members: int, sandbox: SandboxBotAPI) -> None:
    """Migrate (and empty) the database; a cohort of onboarded members, a session tomorrow."""
    await upgrade(url, "head")
    db = Database(url)
    try:
        if not db.is_sqlite:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with db.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        now = datetime.now(UTC)
        async with db.unit_of_work() as session:
            cohort = Cohort(
                name="Province 2026",
                commune="Namur",
                timezone="Europe/Brussels",
                language="fr",
                join_code="CROWD1",
            )
            session.add(cohort)
            await session.flush()
            # The 24-hour reminder became due an hour ago; the 2-hour one is far off.
            starts = now + timedelta(hours=23)
            session.add(
                TrainingSession(
                    cohort_id=cohort.id,
                    number=1,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    place="Salle du Conseil",
                    theme="Vidéo et live",
                    checkin_token="crowdcheckin",
                )
            )
            rows = []
            for n in range(members):
                user_id = FIRST_USER + n
                sandbox.add_user(user_id, f"Membre{n}", language_code="fr")
                sandbox.mark_started(user_id)
                rows.append(
                    Member(
                        telegram_user_id=user_id,
                        chat_id=user_id,
                        first_name=f"Membre{n}",
                        business_name=f"Commerce {n}",
                        sector="retail",
                        commune="Namur",
                        language="fr",
                        tip_days="",  # no tip today: the reminder is the whole outbox
                        tip_time=clock_time(9, 30),
                        consent_at=now,
                        onboarded_at=now,
                        active_cohort_id=cohort.id,
                    )
                )
            session.add_all(rows)
            await session.flush()
            session.add_all(Enrolment(cohort_id=cohort.id, member_id=m.id) for m in rows)
    finally:
        await db.dispose()


async def rsvps_recorded(url: str) -> int:
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            return int(await session.scalar(select(func.count()).select_from(Rsvp)) or 0)
    finally:
        await db.dispose()


# --- the crowd ----------------------------------------------------------------------------------


class Crowd:
    """Watches what the bot sends; each member taps an RSVP button of their reminder once."""

    def __init__(self, sandbox: SandboxBotAPI, members: int, window: float, seed: int) -> None:
        self.sandbox = sandbox
        self.members = members
        self.window = window
        self.rng = random.Random(seed)
        self.bot = sandbox.bot(TOKEN)
        self.scanned = 0
        self.reminded: Counter[int] = Counter()
        self.taps: list[Tap] = []
        self.pending: list[Tap] = []
        self.scheduled = 0

    def _tap(self, message: SentMessage) -> None:
        buttons = [b for row in message.inline_keyboard for b in row if b.callback_data]
        choice = buttons[0] if self.rng.random() < 0.8 or len(buttons) < 2 else buttons[1]
        assert choice.callback_data is not None
        user = message.chat_id
        seen = len(self.sandbox.inbox(user, token=TOKEN))
        _, record = self.sandbox.user_clicks(user, message, choice.callback_data, token=TOKEN)
        tap = Tap(user, record.created_at, record, seen)
        self.taps.append(tap)
        self.pending.append(tap)

    def scan(self) -> None:
        """New reminders get their tap scheduled; pending taps check for their answer."""
        sent = self.bot.sent
        loop = asyncio.get_running_loop()
        while self.scanned < len(sent):
            message = sent[self.scanned]
            self.scanned += 1
            if not message.plain.startswith(REMINDER_MARK) or not message.inline_keyboard:
                continue
            self.reminded[message.chat_id] += 1
            if self.reminded[message.chat_id] == 1:
                self.scheduled += 1
                loop.call_later(self.rng.uniform(0, self.window), self._tap, message)
        now = time.monotonic()
        still = []
        for tap in self.pending:
            self._look(tap)
            if not tap.done and now - tap.at < ANSWER_TIMEOUT:
                still.append(tap)
        self.pending = still

    def _look(self, tap: Tap) -> None:
        if tap.reply_at is None:
            events = self.sandbox.inbox(tap.user_id, token=TOKEN)
            if len(events) > tap.seen:
                tap.reply_at = events[tap.seen].at

    def settle(self) -> None:
        """At the end: what every tap got, late answers included."""
        self.scan()
        for tap in self.taps:
            self._look(tap)

    @property
    def finished(self) -> bool:
        return (
            len(self.reminded) >= self.members
            and len(self.taps) >= self.scheduled
            and not self.pending
        )

    async def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self.scan()
            if self.finished:
                return
            await asyncio.sleep(0.01)


# --- figures ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux), 0.0 if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:,.0f}" if values else "-"


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="relais-crowd-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'relais.db'}"
    low, high = (float(x) / 1000 for x in args.latency.split("-"))
    sandbox_api = SandboxBotAPI(
        flood_limits=True,
        strict_flood=True,
        latency=(low, high),
        latency_seed=args.seed,
    )
    async with sandbox_api as sandbox:
        sandbox.add_bot(TOKEN, username="relais_crowd_bot")
        note(f"{args.members} members")
        await prepare(url, args.members, sandbox)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BOT_TOKEN": TOKEN,
            "DATABASE_URL": url,
            "TELEGRAM_API_BASE_URL": sandbox.base_url,
            "HEALTH_PORT": "0",
            "LOG_LEVEL": "INFO",  # the engine says at the end how the budget went
            "QUIET_HOURS": "",
            "ADMIN_IDS": "",
        }
        log = workdir / "relais.log"
        relais = spawn([str(ROOT / ".venv" / "bin" / "relais"), "run"], env, log)
        crowd = Crowd(sandbox, args.members, args.tap_window, args.seed)
        try:
            await wait_polling(sandbox, TOKEN, seconds=120)
            sandbox.stats.reset()
            started = time.monotonic()
            cpu_before = cpu_seconds(relais.pid)
            note("waiting for the reminders; the crowd taps")
            await crowd.run(started + args.max_seconds)
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(relais.pid) - cpu_before
            crowd.settle()
        finally:
            await stop(relais)
        note("done")
        stats = sandbox.stats
        bot = sandbox.bot(TOKEN)
        reminders = [m for m in bot.sent if m.plain.startswith(REMINDER_MARK)]
        reply_times = [m.sent_at for m in bot.sent if not m.plain.startswith(REMINDER_MARK)]
        reply_times += [edit.at for m in bot.sent for edit in m.edits]
    recorded = await rsvps_recorded(url)
    logged = log.read_text(errors="replace")
    errors = logged.count("unhandled error")
    budget = next(
        (
            line.split("message budget: ", 1)[1].rstrip('"')
            for line in logged.splitlines()[::-1]
            if "message budget: " in line
        ),
        "(not logged)",
    )

    outbox_times = sorted(m.sent_at for m in reminders)
    first, last = (outbox_times[0], outbox_times[-1]) if outbox_times else (0.0, 0.0)
    busy = last - first
    replies_busy = sum(1 for t in reply_times if first <= t <= last)
    together = rate(len(outbox_times) + replies_busy, busy)
    callback = [t.answered_at - t.at for t in crowd.taps if t.answered_at is not None]
    confirmed = [t.reply_at - t.at for t in crowd.taps if t.reply_at is not None]
    both = [t.answered - t.at for t in crowd.taps if t.answered is not None]
    unanswered = sum(1 for t in crowd.taps if not t.done)  # by the end of the run
    never = args.members - len(crowd.reminded)
    twice = sum(1 for n in crowd.reminded.values() if n > 1)

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"crowd: {args.members} members, taps within {args.tap_window:.0f} s of the reminder, "
        f"latency {args.latency} ms (seed {args.seed}), strict flood limits, {database}"
    )
    print(
        f"run: {elapsed:.1f} s; outbox busy {busy:.1f} s (first to last reminder); "
        f"Relais used {cpu:.0f} s of CPU ({cpu / elapsed:.0%} of one core), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("| tap answered by | taps | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for name, values in (
        ("callback answer", callback),
        ("edit of the reminder", confirmed),
        ("both", both),
    ):
        print(
            f"| {name} | {len(values)} | {ms(values, 0.5)} | {ms(values, 0.9)} | "
            f"{ms(values, 0.99)} | {ms(values, 1.0)} |"
        )
    print()
    print("| while the outbox had work | messages | per second | share of 30/s |")
    print("|---|---|---|---|")
    print(
        f"| outbox (reminders) | {len(outbox_times)} | {rate(len(outbox_times), busy):.2f} | "
        f"{rate(len(outbox_times), busy) / TELEGRAM_LIMIT:.3f} |"
    )
    print(
        f"| replies (messages + edits) | {replies_busy} | {rate(replies_busy, busy):.2f} | "
        f"{rate(replies_busy, busy) / TELEGRAM_LIMIT:.3f} |"
    )
    print(
        f"| together | {len(outbox_times) + replies_busy} | {together:.2f} | "
        f"{together / TELEGRAM_LIMIT:.3f} |"
    )
    print()
    print(
        f"429s: {stats.flood_429}; most in any trailing second: {stats.most_in_any_window(1.0)}; "
        f"replies after the outbox: {len(reply_times) - replies_busy}"
    )
    print(
        f"lost: reminders never received {never}, received twice {twice}; taps {len(crowd.taps)}, "
        f"unanswered {unanswered}; RSVPs in the database {recorded}; "
        f"unhandled errors {errors}"
    )
    print(f"Relais's budget: {budget}")
    print(f"logs: {workdir}")
    lost = never + twice + unanswered + errors + (len(crowd.taps) - recorded)
    return 1 if lost or stats.flood_429 else 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument(
        "--tap-window", type=float, default=60.0, help="taps within this many seconds"
    )
    parser.add_argument("--latency", default="20-150", help="round trip LOW-HIGH ms")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="stop the run after this long"
    )
    parser.add_argument("--database-url", help="PostgreSQL to use (EMPTIED); default SQLite")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
