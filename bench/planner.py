"""Planner tick cost against the population: 1k, 10k and 100k members, SQLite and PostgreSQL.

    .venv/bin/python bench/planner.py                                   # SQLite, 1k/10k/100k
    .venv/bin/python bench/planner.py --database-url postgresql+asyncpg://...
    .venv/bin/python bench/planner.py --sizes 1000,10000

A tick must cost what is due, not what exists. So the due work is held constant while the
population grows: whatever the size, exactly `DUE_COHORTS` cohorts (20 merchants and a trainer
each) have a session tomorrow whose 24-hour reminder falls due in this tick, and
`DUE_MEMBERS` merchants (tip day Wednesday at 10:00, the moment of the tick) are due for a
tip and for a check-in on their objective. Everyone else is in a steady state: tips on
Tuesday and Friday at 09:30, a session every two weeks for three months, one active
objective asked about two days ago, a history of three sent deliveries each.

For each size it runs the real planners (bot/delivery/features.py) through `run_planners`:

1. catch-up ticks from three hours before, every 30 s: the rows were inserted without
   their stored due times, as after the migration that added them, so these ticks work
   them out, a bounded number per tick, until none is unknown (nothing is due yet; before
   due times were stored this was one ordinary tick);
2. the first tick (it queues the due work);
3. the steady state: ticks every 30 s after it (nothing new; the median of fifteen), the
   sizes taking turns, so that the machine's busy moments fall on all of them alike;

then the dispatcher's own per-loop query (`next_due_at`). It prints the time of each, per
planner, the Python memory peak of the first tick (tracemalloc), and the growth from 10k to
100k members (1.0 = independent of the population). On a machine busy with other work the
wall time of a tick swells with the wait for a CPU: the steady tick's minimum, and its CPU
time (this process, which includes SQLite's work; with PostgreSQL on this machine, plus the
server processes serving the database), show the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.content import load_for_bot  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.delivery.dispatcher import Dispatcher  # noqa: E402
from bot.delivery.features import build_registry  # noqa: E402
from bot.delivery.planner import run_planners  # noqa: E402
from bot.delivery.registry import DeliveryRegistry, Planned, PlanWindow  # noqa: E402
from bot.i18n import I18n  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import (  # noqa: E402
    Base,
    Cohort,
    Delivery,
    Enrolment,
    Member,
    Objective,
    ObjectiveCheckin,
    StaffRole,
    TrainingSession,
)
from bot.runtime import Runtime  # noqa: E402

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Brussels
COHORT_SIZE = 20
DUE_COHORTS = 5  # sessions whose 24-hour reminder is due in the tick: 100 reminders
DUE_MEMBERS = 50  # merchants due for a tip and a check-in in the tick
HISTORY_PER_MEMBER = 3  # sent deliveries already in the outbox
CHUNK = 5000
STEADY_RUNS = 15
CATCH_UP_BEFORE = timedelta(hours=3)
MAX_CATCH_UP_TICKS = 60
TICK = timedelta(seconds=30)


async def bulk(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(model), list(rows[start : start + CHUNK]))


async def populate(db: Database, members: int) -> None:
    """A population of `members` merchants in steady state, plus the constant due work."""
    cohorts = max(members // COHORT_SIZE, DUE_COHORTS)
    ids = itertools.count(1)
    async with db.unit_of_work() as session:
        await bulk(
            session,
            Cohort,
            [
                {
                    "id": c,
                    "name": f"Cohorte {c}",
                    "commune": "Estaimpuis",
                    "timezone": "Europe/Brussels",
                    "language": "fr",
                    "join_code": f"B{c:07d}",
                    "created_at": NOW - timedelta(days=60),
                }
                for c in range(1, cohorts + 1)
            ],
        )
        member_rows, enrolments, staff = [], [], []
        due_members: set[int] = set()
        for c in range(1, cohorts + 1):
            for k in range(COHORT_SIZE + 1):  # the last one is the cohort's trainer
                m = next(ids)
                trainer = k == COHORT_SIZE
                # The first DUE_MEMBERS merchants' tip moment is the tick's (Wednesday 10:00).
                due_now = not trainer and len(due_members) < DUE_MEMBERS
                if due_now:
                    due_members.add(m)
                member_rows.append(
                    {
                        "id": m,
                        "telegram_user_id": 10_000_000 + m,
                        "chat_id": 10_000_000 + m,
                        "first_name": f"M{m}",
                        "language": "fr",
                        "tip_days": "wed" if due_now else "tue,fri",
                        "tip_time": dtime(10, 0) if due_now else dtime(9, 30),
                        "paused": False,
                        "checkins_paused": False,
                        "reachable": True,
                        "active_cohort_id": c,
                        "onboarded_at": NOW - timedelta(days=60),
                        "created_at": NOW - timedelta(days=60),
                    }
                )
                if trainer:
                    staff.append({"cohort_id": c, "member_id": m, "role": "trainer"})
                else:
                    enrolments.append(
                        {"cohort_id": c, "member_id": m, "joined_at": NOW - timedelta(days=60)}
                    )
        await bulk(session, Member, member_rows)
        await bulk(session, Enrolment, enrolments)
        await bulk(session, StaffRole, staff)

        # Sessions: the first DUE_COHORTS cohorts meet tomorrow (reminder due now); every
        # cohort otherwise meets every two weeks, from 3 days on, for three months, and met
        # twice in the past.
        sessions, token = [], itertools.count(1)
        for c in range(1, cohorts + 1):
            starts = [NOW - timedelta(days=30), NOW - timedelta(days=16)]
            first = timedelta(days=3 + c % 11, hours=9)
            starts += [NOW + first + timedelta(weeks=2 * k) for k in range(6)]
            if c <= DUE_COHORTS:
                starts.append(NOW + timedelta(hours=24, seconds=30))
            for number, start in enumerate(sorted(starts), 1):
                sessions.append(
                    {
                        "cohort_id": c,
                        "number": number,
                        "starts_at": start,
                        "ends_at": start + timedelta(hours=2),
                        "place": "Salle du Conseil",
                        "theme": "Vidéo et live",
                        "checkin_token": f"T{next(token):09d}",
                        "created_at": NOW - timedelta(days=60),
                        "updated_at": NOW - timedelta(days=60),
                        "revision": 1,
                    }
                )
        await bulk(session, TrainingSession, sessions)

        # One active objective per merchant, asked about two days ago (nothing due), except
        # those of the DUE_MEMBERS, last asked eight days ago (a check-in is due now).
        objectives, checkins = [], []
        for index, row in enumerate(enrolments, 1):
            objectives.append(
                {
                    "id": index,
                    "member_id": row["member_id"],
                    "cohort_id": row["cohort_id"],
                    "text": "Publier deux stories par semaine",
                    "measure_kind": "count",
                    "target_per_week": 2,
                    "due_on": (NOW + timedelta(days=60)).date(),
                    "status": "active",
                    "created_at": NOW - timedelta(days=30),
                }
            )
            asked = NOW - timedelta(days=8 if row["member_id"] in due_members else 2)
            checkins.append(
                {"objective_id": index, "asked_at": asked, "answered_at": asked, "answer": "doing"}
            )
        await bulk(session, Objective, objectives)
        await bulk(session, ObjectiveCheckin, checkins)

        # The outbox's history: a few sent deliveries per member.
        history = [
            {
                "member_id": row["id"],
                "kind": "tip",
                "dedup_key": f"tip:{k}",
                "payload": {},
                "urgent": False,
                "due_at": NOW - timedelta(days=7 * (k + 1)),
                "status": "sent",
                "attempts": 1,
                "sent_at": NOW - timedelta(days=7 * (k + 1)),
                "created_at": NOW - timedelta(days=7 * (k + 1)),
            }
            for row in member_rows
            for k in range(HISTORY_PER_MEMBER)
        ]
        await bulk(session, Delivery, history)


async def cpu_seconds(db: Database) -> float:
    """CPU time used so far by this process and, for a PostgreSQL server on this machine,
    by the server processes serving this database (read in /proc; 0 where unreadable)."""
    used = time.process_time()
    if db.is_sqlite:
        return used  # the database works in this process's threads
    async with db.engine.connect() as conn:
        pids = (
            await conn.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        ).all()
    return used + sum(_proc_cpu_seconds(pid) for pid in pids)


def _proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process of this machine (0 if it is gone or elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def unknown_due_times(db: Database) -> int:
    """Rows whose stored due time is still unknown (0 before due times were stored)."""
    columns = [("members", "next_tip_at"), ("objectives", "next_checkin_at")]
    total = 0
    async with db.engine.connect() as conn:
        for table, column in columns:
            if not hasattr(Base.metadata.tables[table].c, column):
                continue
            found = await conn.scalar(text(f"SELECT count(*) FROM {table} WHERE {column} IS NULL"))
            total += int(found or 0)
    return total


def timed(registry: DeliveryRegistry, times: dict[str, float]) -> DeliveryRegistry:
    """The same planners, each timed."""
    wrapped = DeliveryRegistry()

    def wrap(
        name: str, planner: Callable[[AsyncSession, PlanWindow], Awaitable[Sequence[Planned]]]
    ) -> Callable[[AsyncSession, PlanWindow], Awaitable[Sequence[Planned]]]:
        async def run(session: AsyncSession, window: PlanWindow) -> Sequence[Planned]:
            started = time.perf_counter()
            try:
                return await planner(session, window)
            finally:
                times[name] = time.perf_counter() - started

        return run

    for name, planner in registry.planners.items():
        wrapped.add_planner(name, wrap(name, planner))
    return wrapped


# (wall seconds, deliveries queued, Python memory peak, seconds per planner, CPU seconds)
Sample = tuple[float, int, int, dict[str, float], float]


class Population:
    """One population in its own database (SQLite: a file; PostgreSQL: a schema of the
    given database), with the planners' runtime over it."""

    def __init__(self, url: str, members: int, tmp: Path) -> None:
        self.members = members
        self.schema: str | None = None
        if url.startswith("postgresql"):
            self.schema = f"planner_bench_{members}"
            self.db = Database(url, connect_args={"server_settings": {"search_path": self.schema}})
        else:
            url = f"sqlite+aiosqlite:///{tmp / f'planner_{members}.db'}"
            self.db = Database(url)
        self.url = url
        self.clock = ManualClock(NOW - CATCH_UP_BEFORE)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token="1:BENCH",
            database_url=url,
        )
        self.runtime = Runtime(
            settings=settings,
            db=self.db,
            clock=self.clock,
            i18n=I18n(),
            content=load_for_bot(),
            instance="bench:1",
        )
        self.results: dict[str, Any] = {"members": members}
        # One registry for the whole run, as the running bot builds it once (bot/app.py): some
        # planners keep a little state between ticks (the booster's look every 10 minutes).
        self.per_planner: dict[str, float] = {}
        self.registry = timed(build_registry(self.runtime.content), self.per_planner)

    async def build(self, analyze: bool) -> None:
        """The schema, the population, the catch-up ticks and the first tick."""
        if self.schema is None:
            await upgrade(self.url)
        else:
            # The models' schema (the migrations give the same: tests/migrations).
            async with self.db.engine.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
                await conn.execute(text(f"CREATE SCHEMA {self.schema}"))
                await conn.run_sync(Base.metadata.create_all)
        built = time.perf_counter()
        await populate(self.db, self.members)
        if analyze or self.schema is not None:
            # PostgreSQL's autovacuum would analyse a table this size within a minute.
            async with self.db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
        self.results["build"] = time.perf_counter() - built

        # Catch-up: ticks until every stored due time is known (tracing would slow them).
        moment, catch_up = NOW - CATCH_UP_BEFORE, []
        while True:
            catch_up.append(await self.tick(moment, traced=False))
            moment += TICK
            if await unknown_due_times(self.db) == 0 or len(catch_up) >= MAX_CATCH_UP_TICKS:
                break
        self.results["catch-up"] = {
            "ticks": len(catch_up),
            "seconds": sum(sample[0] for sample in catch_up),
            "longest": max(sample[0] for sample in catch_up),
            "longest_cpu": max(sample[4] for sample in catch_up),
            "inserted": sum(sample[1] for sample in catch_up),
        }
        # The first tick queues the due work.
        self.results["first"] = summary([await self.tick(NOW, traced=True)])

    async def tick(self, moment: datetime, traced: bool) -> Sample:
        self.clock.set(moment)
        self.per_planner.clear()
        registry = self.registry
        gc.collect()
        if traced:
            tracemalloc.start()
        started, cpu = time.perf_counter(), await cpu_seconds(self.db)
        report = await run_planners(self.runtime, registry)
        elapsed, cpu = time.perf_counter() - started, await cpu_seconds(self.db) - cpu
        peak = 0
        if traced:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        if report.errors:
            raise SystemExit(f"planner errors: {report.errors}")
        return elapsed, report.inserted, peak, dict(self.per_planner), cpu

    async def next_due(self) -> None:
        dispatcher = Dispatcher(self.runtime, None, DeliveryRegistry())  # type: ignore[arg-type]
        started = time.perf_counter()
        for _ in range(20):
            await dispatcher.next_due_at()
        self.results["next_due"] = (time.perf_counter() - started) / 20

    async def close(self) -> None:
        if self.schema is not None:
            async with self.db.engine.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        await self.db.dispose()


def summary(samples: Sequence[Sample]) -> dict[str, Any]:
    return {
        "seconds": statistics.median(sample[0] for sample in samples),
        "min": min(sample[0] for sample in samples),
        "cpu": statistics.median(sample[4] for sample in samples),
        "inserted": samples[0][1],
        "peak_kb": max(sample[2] for sample in samples) / 1024,
        "planners": {
            name: statistics.median(sample[3][name] for sample in samples) for name in samples[0][3]
        },
    }


async def measure(url: str, sizes: list[int], analyze: bool, tmp: Path) -> list[dict[str, Any]]:
    """Build every population, then tick them in turn: each round of the steady state ticks
    every size once (in an order that alternates), so that a busy moment of the machine
    weighs on all sizes alike instead of on whichever happened to run then."""
    populations = [Population(url, size, tmp) for size in sizes]
    try:
        for population in populations:
            await population.build(analyze)
            print(
                f"  built {population.members} members in {population.results['build']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        steady: dict[int, list[Sample]] = {population.members: [] for population in populations}
        for k in range(STEADY_RUNS):
            order = populations if k % 2 == 0 else list(reversed(populations))
            for population in order:
                sample = await population.tick(NOW + TICK * (k + 1), traced=True)
                steady[population.members].append(sample)
        for population in populations:
            population.results["steady"] = summary(steady[population.members])
            await population.next_due()
        return [population.results for population in populations]
    finally:
        for population in populations:
            await population.close()


def growth(results: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> str:
    by_size = {r["members"]: r for r in results}
    if 10_000 in by_size and 100_000 in by_size:
        return f"x{key(by_size[100_000]) / key(by_size[10_000]):.2f}"
    return "-"


async def main(url: str | None, sizes: list[int], analyze: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = await measure(url or "sqlite", sizes, analyze, Path(tmp))
    url = url or "sqlite"
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    if analyze and backend == "SQLite":
        backend += " after ANALYZE"
    print(
        f"planner tick, {backend}: due work held constant ({DUE_COHORTS * COHORT_SIZE} reminders,"
        f" {DUE_MEMBERS} tips, {DUE_MEMBERS} check-ins, {DUE_COHORTS} digests) while the"
        " population grows"
    )
    print(
        f"{'members':>8} {'catch-up':>33} {'1st tick':>9} {'queued':>7} {'steady tick':>12}"
        f" {'(min)':>8} {'(cpu)':>8} {'peak mem':>9} {'next_due':>9}"
        "   steady tick per planner (ms)"
    )
    for r in results:
        planners = ", ".join(
            f"{name} {seconds * 1000:.1f}" for name, seconds in r["steady"]["planners"].items()
        )
        c = r["catch-up"]
        catch_up = (
            f"{c['ticks']} x, {c['seconds']:.1f} s, max {c['longest'] * 1000:.0f}ms"
            f" (cpu {c['longest_cpu'] * 1000:.0f})"
        )
        print(
            f"{r['members']:>8} {catch_up:>33}"
            f" {r['first']['seconds'] * 1000:7.1f}ms {r['first']['inserted']:>7}"
            f" {r['steady']['seconds'] * 1000:10.1f}ms {r['steady']['min'] * 1000:6.1f}ms"
            f" {r['steady']['cpu'] * 1000:6.1f}ms"
            f" {r['first']['peak_kb']:7.0f}KB {r['next_due'] * 1000:7.2f}ms   {planners}"
        )
    print("first tick per planner (ms):")
    for r in results:
        planners = ", ".join(
            f"{name} {seconds * 1000:.1f}" for name, seconds in r["first"]["planners"].items()
        )
        print(f"{r['members']:>8}   {planners}")
    print(
        "growth 10k -> 100k members: longest catch-up tick "
        + growth(results, lambda r: float(r["catch-up"]["longest"]))
        + ", first tick "
        + growth(results, lambda r: float(r["first"]["seconds"]))
        + ", steady tick "
        + growth(results, lambda r: float(r["steady"]["seconds"]))
        + " (min "
        + growth(results, lambda r: float(r["steady"]["min"]))
        + ", cpu "
        + growth(results, lambda r: float(r["steady"]["cpu"]))
        + ")"
        + ", next_due "
        + growth(results, lambda r: float(r["next_due"]))
    )
    names = list(results[-1]["steady"]["planners"])
    for name in names:
        print(
            f"  {name}: steady x"
            + growth(results, lambda r, n=name: float(r["steady"]["planners"][n])).lstrip("x")
        )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL: one schema planner_bench_<size> per size is created there and"
        " dropped at the end; default: SQLite files in a temporary directory",
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="member counts")
    parser.add_argument(
        "--analyze", action="store_true", help="SQLite: ANALYZE after loading (the bot does not)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.database_url, [int(s) for s in args.sizes.split(",")], args.analyze))


if __name__ == "__main__":
    cli()
