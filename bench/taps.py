"""One tap at a time: what an RSVP tap and a check-in tap cost, and where the time goes.

    .venv/bin/python bench/taps.py                          # SQLite, 100 taps of each kind
    .venv/bin/python bench/taps.py --profile                # + cProfile of the taps
    .venv/bin/python bench/taps.py --latency 20-150         # Telegram's round trips
    .venv/bin/python bench/taps.py --database-url postgresql+asyncpg://...   # EMPTIED

The real Application (build_application: the access gate, the per-person processor, the
handlers, persistence) polls the sandbox Bot API in this process, as the end-to-end tests
run it (tests/e2e/harness.py; flood limits off, and no latency unless `--latency 20-150`
gives every Bot API call a round trip like Telegram's from Europe, seeded). `--taps`
merchants of one cohort each open `/seances` and `/objectifs` (not measured), then tap,
one after the other so that nothing queues:

* **RSVP**: ✅ on their session card (`rsvp:<id>:yes`);
* **check-in**: 🚧 (`obj:<id>:doing`) on the card of their objective, the same buttons as
  the weekly check-in.

For each kind it prints the time from the tap (queued at the sandbox) to the callback
answer and to all done (the answer and the last change the member sees: an edit or a
message), p50/p90/max,
and per tap: the CPU time of the process (the sandbox's share included, the same for every
version of Relais; steadier than wall time on a shared machine), SQL statements,
transactions, and Bot API calls by method. `--profile` runs
cProfile over the taps and prints Relais's own functions (bot/, handlers/) by cumulative
time; the sandbox shares the process, so only the ranking of Relais's functions is read.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from bench.latency import percentile  # noqa: E402
from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Base  # noqa: E402
from bot.sandbox.records import SentMessage  # noqa: E402
from bot.sandbox.simulator import SimUser  # noqa: E402
from tests import factories  # noqa: E402
from tests.e2e.harness import Harness, running_harness  # noqa: E402

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Brussels


@dataclass
class Tally:
    """What the taps of one kind cost."""

    answer: list[float] = field(default_factory=list)  # s, tap to callback answer
    shown: list[float] = field(default_factory=list)  # s, tap to all done (answer, changes)
    statements: int = 0
    commits: int = 0
    cpu: float = 0.0  # s of this process's CPU (the sandbox's share of the tap included)
    calls: Counter[str] = field(default_factory=Counter)
    taps: int = 0


class SqlCounter:
    """Counts the statements and commits of the Application's engine."""

    def __init__(self, db: Database) -> None:
        self.statements = 0
        self.commits = 0
        self.shown: list[str] | None = None  # statements written down while not None
        sync = db.engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        event.listen(sync, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements += 1
        if self.shown is not None:
            self.shown.append(" ".join(statement.split())[:160])

    def _commit(self, *_: Any) -> None:
        self.commits += 1
        if self.shown is not None:
            self.shown.append("COMMIT")


@dataclass
class Step:
    """What one measured action left: the member's new events (a new or edited message)."""

    events: list[Any] = field(default_factory=list)


@asynccontextmanager
async def measured(
    relais: Harness, sql: SqlCounter, user: SimUser, tally: Tally, show_sql: bool, label: str
) -> AsyncIterator[Step]:
    """Counts the CPU, statements, commits and Bot API calls of the action in the block; the
    member's new events are in the Step once the block is done (at least one, or it fails)."""
    sandbox = relais.sandbox
    mark = len(sandbox.inbox(user.id))
    statements, commits = sql.statements, sql.commits
    calls = Counter(sandbox.stats.requests)
    if show_sql and not tally.taps:
        sql.shown = []
    step = Step()
    cpu = time.process_time()
    yield step
    tally.cpu += time.process_time() - cpu
    step.events = sandbox.inbox(user.id)[mark:]
    assert step.events, f"{label}: nothing changed for the member"
    tally.taps += 1
    tally.statements += sql.statements - statements
    tally.commits += sql.commits - commits
    tally.calls.update(sandbox.stats.requests - calls)
    if sql.shown is not None:
        print(f"statements of the first {label}:")
        print("\n".join(f"  {line}" for line in sql.shown))
        sql.shown = None


async def tap(
    relais: Harness,
    sql: SqlCounter,
    user: SimUser,
    message: SentMessage,
    data: str,
    tally: Tally,
    show_sql: bool,
) -> None:
    async with measured(relais, sql, user, tally, show_sql, f"{data.split(':')[0]} tap") as step:
        pending, record = relais.sandbox.user_clicks(user.id, message, data)
        relais.sim._track(pending)
        await relais.sim.settle([pending])
    assert record.answered_at is not None, f"{data} not answered"
    tally.answer.append(record.answered_at - record.created_at)
    last = max(record.answered_at, *(e.at for e in step.events))
    tally.shown.append(last - record.created_at)


async def command(
    relais: Harness, sql: SqlCounter, user: SimUser, text: str, tally: Tally, show_sql: bool
) -> None:
    """`user` sends `text`; measured to the bot's first answer in their chat."""
    async with measured(relais, sql, user, tally, show_sql, text) as step:
        started = time.monotonic()
        await user.send(text)
    # The sandbox stamps events with the monotonic clock, as it stamps updates.
    tally.answer.append(step.events[0].at - started)
    tally.shown.append(max(e.at for e in step.events) - started)


def report(name: str, tally: Tally) -> None:
    n = max(tally.taps, 1)

    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q) * 1000:.1f}" if values else "-"

    calls = ", ".join(
        f"{method} {count / n:.2f}"
        for method, count in sorted(tally.calls.items())
        if method != "getUpdates"
    )
    print(
        f"| {name} | {tally.taps} | {ms(tally.answer, 0.5)} / {ms(tally.answer, 0.9)} / "
        f"{ms(tally.answer, 1.0)} | {ms(tally.shown, 0.5)} / {ms(tally.shown, 0.9)} / "
        f"{ms(tally.shown, 1.0)} | {tally.cpu / n * 1000:.1f} | {tally.statements / n:.1f} | "
        f"{tally.commits / n:.1f} | {calls} |"
    )


@contextmanager
def profiled(enabled: bool) -> Iterator[cProfile.Profile | None]:
    if not enabled:
        yield None
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield profile
    finally:
        profile.disable()


def print_profile(profile: cProfile.Profile, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(rf"{ROOT}/(bot/(?!sandbox)|handlers/)", top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print("\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:] if line.strip()))


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="relais-taps-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'relais.db'}"
    await upgrade(url, "head")
    setup = Database(url)
    if not setup.is_sqlite:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with setup.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    settings = Settings(
        _env_file=None,
        bot_token="123456:BENCH-TAPS",
        database_url=url,
        admin_ids=[],
    )
    clock = ManualClock(NOW)
    sandbox_options: dict[str, Any] = {"flood_limits": False}
    if args.latency:
        low, high = (float(x) / 1000 for x in args.latency.split("-"))
        sandbox_options.update(latency=(low, high), latency_seed=1)
    async with running_harness(settings, setup, clock, **sandbox_options) as relais:
        cohort = await relais.make_cohort()
        async with relais.session() as tx:
            ts = await factories.make_session(tx, cohort, NOW + timedelta(days=7))
        people = [relais.user(f"Membre{n}") for n in range(args.taps)]
        for person in people:
            member = await relais.make_member(person, cohort, business_name="Commerce")
            async with relais.session() as tx:
                await factories.make_objective(tx, member, cohort, now=NOW)
        cards: list[tuple[SimUser, SentMessage, SentMessage]] = []
        for person in people:
            await person.send("/seances")
            card = await person.expect("Séance")
            await person.send("/objectifs")
            await person.expect("Vos objectifs")
            await person.click("✏️")  # the objective's answers: the check-in's buttons
            objective = next(m for m in reversed(person.messages) if "🚧" in str(m.buttons))
            cards.append((person, card, objective))
        sql = SqlCounter(relais.db)
        rsvp, checkin, listing = Tally(), Tally(), Tally()
        database = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{args.taps} taps of each kind, {database}, latency {args.latency or 'none'}")
        started = time.monotonic()
        with profiled(args.profile) as profile:
            for person, card, objective in cards:
                yes = next(b for row in card.inline_keyboard for b in row if "✅" in b.text)
                doing = next(b for row in objective.inline_keyboard for b in row if "🚧" in b.text)
                assert yes.callback_data is not None
                assert doing.callback_data is not None
                await tap(relais, sql, person, card, yes.callback_data, rsvp, args.sql)
                await tap(relais, sql, person, objective, doing.callback_data, checkin, args.sql)
                await command(relais, sql, person, "/seances", listing, args.sql)
        elapsed = time.monotonic() - started
        del ts
    await setup.dispose()
    print(f"({elapsed:.1f} s)")
    print(
        "| tap | taps | callback answer p50 / p90 / max ms | all done p50 / p90 / max ms "
        "| CPU ms per tap | SQL statements per tap | commits per tap | Bot API calls per tap |"
    )
    print("|---|---|---|---|---|---|---|---|")
    report("RSVP ✅", rsvp)
    report("check-in 🚧", checkin)
    report("/seances", listing)
    if profile is not None:
        print()
        print_profile(profile, args.top)
        if args.profile_out:
            profile.dump_stats(args.profile_out)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taps", type=int, default=100, help="merchants, one tap of each kind")
    parser.add_argument(
        "--latency", metavar="LOW-HIGH", help="a round trip of LOW-HIGH ms on every Bot API call"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the taps")
    parser.add_argument("--sql", action="store_true", help="print the first taps' statements")
    parser.add_argument("--profile-out", metavar="PATH", help="with --profile: pstats file")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    parser.add_argument("--database-url", help="PostgreSQL to use (EMPTIED); default SQLite")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
