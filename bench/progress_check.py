"""The monthly progress check's planner against the population: 1k, 10k and 100k members.

    .venv/bin/python bench/progress_check.py                              # SQLite, 1k/10k/100k
    .venv/bin/python bench/progress_check.py --database-url postgresql+asyncpg://...
    .venv/bin/python bench/progress_check.py --sizes 1000,10000 --storm

The planner `progress` (bot/services/progress.py) must cost what is due, not what exists,
like the tips and check-in planners (bot/delivery/due.py). The due work is held constant:
whatever the size, `DUE_MEMBERS` merchants (tip day Wednesday at 10:00) get their December
check in this tick (Wednesday 2 December 2026, 10:00 in Brussels: their first tip day on or
after the 1st). Everyone else (tips on Tuesday and Friday at 09:30) had theirs the day
before, more than the planner's tolerance ago, and their reminder comes on Friday: nothing
is due for them.

For each size: the catch-up ticks (rows inserted without `next_progress_at`, as after the
upgrade; at most 5,000 worked out per tick, a tick every 30 s of the clock), the first tick
(it plans the due checks), then the steady state (ticks every 30 s, nothing new; median of
fifteen, the sizes taking turns). Each tick runs the planner and inserts into the outbox,
in one unit of work, as bot/delivery/planner.py does. With `--storm`, also the tick of the
check day of the largest size when *everyone* shares a rhythm (Tuesday 1 December 09:30):
one check per member in one tick, as the tips planner does every Tuesday.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.delivery.outbox import enqueue  # noqa: E402
from bot.delivery.planner import plan_window  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Base, Cohort, Enrolment, Member  # noqa: E402
from bot.services.progress import plan_progress_checks  # noqa: E402

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # Wednesday 2 December, 10:00 in Brussels
STORM = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # Tuesday 1 December, 09:30 in Brussels
COHORT_SIZE = 20
DUE_MEMBERS = 50
CHUNK = 5000
STEADY_RUNS = 15
TICK = timedelta(seconds=30)
MAX_CATCH_UP_TICKS = 60


async def bulk(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(model), list(rows[start : start + CHUNK]))


async def populate(db: Database, members: int, *, everyone_due: bool = False) -> None:
    cohorts = max(members // COHORT_SIZE, 1)
    ids = itertools.count(1)
    joined = NOW - timedelta(days=60)
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
                    "join_code": f"P{c:07d}",
                    "created_at": joined,
                }
                for c in range(1, cohorts + 1)
            ],
        )
        rows, enrolments = [], []
        for c in range(1, cohorts + 1):
            for _ in range(COHORT_SIZE):
                m = next(ids)
                due_now = not everyone_due and m <= DUE_MEMBERS
                rows.append(
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
                        "onboarded_at": joined,
                        "created_at": joined,
                    }
                )
                enrolments.append({"cohort_id": c, "member_id": m, "joined_at": joined})
        await bulk(session, Member, rows)
        await bulk(session, Enrolment, enrolments)


class Population:
    def __init__(self, url: str, members: int, tmp: Path, *, everyone_due: bool = False) -> None:
        self.members = members
        self.everyone_due = everyone_due
        self.schema: str | None = None
        name = f"progress_bench_{members}{'_storm' if everyone_due else ''}"
        if url.startswith("postgresql"):
            self.schema = name
            self.db = Database(url, connect_args={"server_settings": {"search_path": name}})
        else:
            url = f"sqlite+aiosqlite:///{tmp / f'{name}.db'}"
            self.db = Database(url)
        self.url = url
        self.settings = Settings(
            _env_file=None,
            bot_token="1:BENCH",
            database_url=url,
        )
        self.results: dict[str, Any] = {"members": members}

    async def build(self) -> None:
        if self.schema is None:
            await upgrade(self.url)
        else:
            async with self.db.engine.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
                await conn.execute(text(f"CREATE SCHEMA {self.schema}"))
                await conn.run_sync(Base.metadata.create_all)
        await populate(self.db, self.members, everyone_due=self.everyone_due)
        async with self.db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))

    async def tick(self, now: datetime) -> tuple[float, int]:
        started = time.perf_counter()
        async with self.db.unit_of_work() as session:
            planned = await plan_progress_checks(session, plan_window(self.settings, now))
            inserted = await enqueue(session, planned)
        return time.perf_counter() - started, inserted

    async def unknown(self) -> int:
        async with self.db.unit_of_work() as session:
            found = await session.scalar(
                select(func.count(Member.id)).where(Member.next_progress_at.is_(None))
            )
        return int(found or 0)

    async def catch_up(self, start: datetime) -> None:
        moment, times = start, []
        while True:
            elapsed, _ = await self.tick(moment)
            times.append(elapsed)
            moment += TICK
            if await self.unknown() == 0 or len(times) >= MAX_CATCH_UP_TICKS:
                break
        self.results["catch-up"] = (len(times), sum(times), max(times))

    async def close(self) -> None:
        if self.schema is not None:
            async with self.db.engine.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        await self.db.dispose()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


async def main(url: str | None, sizes: list[int], storm: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        populations = [Population(url or "", size, Path(tmp)) for size in sizes]
        for population in populations:
            await population.build()
            await population.catch_up(NOW - timedelta(minutes=30))
            elapsed, inserted = await population.tick(NOW)
            population.results["first"] = (elapsed, inserted)
            population.results["steady"] = []
        # The steady state, the sizes taking turns (a busy moment weighs on all alike).
        for run in range(1, STEADY_RUNS + 1):
            for population in populations:
                elapsed, inserted = await population.tick(NOW + run * TICK)
                assert inserted == 0, "the steady state planned something"
                population.results["steady"].append(elapsed)
        engine = "PostgreSQL" if url and url.startswith("postgresql") else "SQLite"
        print(f"\n{engine}: monthly progress check planner (times in ms)")
        print("| members | catch-up | 1st tick (checks queued) | steady median | steady min |")
        print("|---|---|---|---|---|")
        for population in populations:
            results = population.results
            ticks, total, longest = results["catch-up"]
            first, inserted = results["first"]
            steady = results["steady"]
            print(
                f"| {population.members:,} | {ticks} ticks, {ms(total)} (longest {ms(longest)}) "
                f"| {ms(first)} ({inserted}) | {ms(statistics.median(steady))} "
                f"| {ms(min(steady))} |"
            )
        if len(populations) >= 2:
            small, large = populations[-2], populations[-1]
            growth = statistics.median(large.results["steady"]) / statistics.median(
                small.results["steady"]
            )
            print(f"steady growth {small.members:,} -> {large.members:,}: x{growth:.2f}")
        for population in populations:
            await population.close()
        if storm:
            size = max(sizes)
            crowd = Population(url or "", size, Path(tmp), everyone_due=True)
            await crowd.build()
            await crowd.catch_up(STORM - timedelta(minutes=30))
            elapsed, inserted = await crowd.tick(STORM)
            print(
                f"check day, everyone due ({size:,} members): {ms(elapsed)} ms, {inserted} planned"
            )
            await crowd.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--storm", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, [int(s) for s in args.sizes.split(",")], args.storm))
