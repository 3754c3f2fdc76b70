"""Planning by stored due time: a planner reads only the rows whose time has come.

A feature whose contacts follow each person's own rhythm (a tip on their tip days, a
check-in on each objective, later a monthly progress check) keeps, on the row that carries
the rhythm, the instant its planner must look at that row next (`members.next_tip_at`,
`objectives.next_checkin_at`, ...: a timezone-aware UTC column with an index). Each tick,
`plan_due` reads in batches:

1. the rows whose stored time falls before the horizon, on the index (`<= horizon`);
2. the rows whose time is NULL (at most `CATCH_UP` per tick), on the same index: NULL
   means "something this row's rhythm depends on changed; work it out again". Writers
   never compute a due time themselves (they would need the clock, the zone, the
   history); they set it to NULL in their own unit of work, and the next tick looks at the
   row as every tick used to.

The feature's `evaluate` plans what falls due in the window, exactly as a planner looking
at everyone would, and says when to look at each row next. `plan_due` stores that time,
never at or before the horizon, so every row leaves the due range and a tick ends. The
cost of a tick is what is due plus what changed, whatever the population.

The stored time is a lower bound: looking at a row too early only costs a little work,
too late would lose a message. So whatever can bring a contact *earlier* (new tip days, a
resumed pause, a new answer...) must reset the row to NULL in the same unit of work.

On PostgreSQL the rows are read `FOR UPDATE SKIP LOCKED`: two planning processes split the
rows instead of both doing them, and a writer's reset cannot be overwritten by a planner
that read the row before it (the writer waits for the planner, or the planner skips the
row until the next tick). SQLite runs one write transaction at a time anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.delivery.registry import Planned, PlanWindow

# Rows read per query.
BATCH = 1000
# Rows with an unknown (NULL) time worked out per tick: a handful in normal operation
# (whatever changed since the last tick); after the migration that added a column, every
# row, worked through over the first ticks so that no tick holds a long transaction.
CATCH_UP = 5000
# When nothing about a row can be foreseen (no tip day, an unknown zone...), look again after
# this long: a guard, as whatever changes the answer resets the row anyway.
IDLE_RECHECK = timedelta(days=7)
# A stored time always lies past the horizon by at least this much.
_PAST_HORIZON = timedelta(microseconds=1)

# A select of rows of any shape, and one of its rows.
Rows = Select[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]
# (rows of one batch, the window) -> (planned deliveries, {row id: when to look next}).
Evaluate = Callable[
    [Sequence[AnyRow], PlanWindow],
    Awaitable[tuple[list[Planned], Mapping[int, datetime]]],
]


async def plan_due(
    session: AsyncSession,
    window: PlanWindow,
    *,
    rows: Rows,
    due: InstrumentedAttribute[datetime | None],
    evaluate: Evaluate,
    batch: int | None = None,
) -> list[Planned]:
    """Evaluate the rows of `rows` that are due (or NULL), and store when each is due next.

    `rows` selects one row per schedule (its first column is the primary key of `due`'s
    table) with whatever `evaluate` needs; it may join other tables and add conditions that
    the index of `due` serves (e.g. `objectives.status = 'active'`).
    """
    entity = due.class_
    table = cast(Table, entity.__table__)
    (key,) = table.primary_key.columns
    column = table.c[due.key]
    store = (
        update(table)
        .where(key == bindparam("row_id"))
        .values({column: bindparam("next_at", type_=column.type)})
    )
    size = batch or BATCH
    floor = window.horizon + _PAST_HORIZON
    planned: list[Planned] = []
    # Everything due, in one tick, as a planner looking at everyone would. Then at most
    # CATCH_UP rows whose time is unknown. Both in the order of `due`'s index (for NULLs a
    # no-op): PostgreSQL then reads the index, whatever its statistics say; left free, it
    # may scan the whole table for a few NULLs, believing them to be everywhere (as right
    # after the migration, before the next ANALYZE).
    due_now = rows.where(due <= window.horizon).order_by(due)
    unknown = rows.where(due.is_(None)).order_by(due)
    for statement, most in ((due_now, None), (unknown, CATCH_UP)):
        statement = statement.limit(size).with_for_update(of=entity, skip_locked=True)
        looked_at = 0
        while most is None or looked_at < most:
            found = (await session.execute(statement)).all()
            if not found:
                break
            looked_at += len(found)
            items, next_at = await evaluate(found, window)
            planned += items
            await session.execute(
                store,
                [
                    {"row_id": row[0], "next_at": max(next_at.get(row[0], floor), floor)}
                    for row in found
                ],
            )
            if len(found) < size:
                break
    return planned


def idle_until(window: PlanWindow) -> datetime:
    """When to look again at a row about which nothing can be foreseen now."""
    return window.horizon + IDLE_RECHECK
