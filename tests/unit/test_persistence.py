"""PTB persistence (bot/persistence.py): one transaction per round, nothing unchanged rewritten."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import ManualClock
from bot.db import Database
from bot.models import ConversationState, UserData
from bot.persistence import DatabasePersistence


class CountingDatabase:
    """The test database, counting the write transactions opened through it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.units = 0

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        self.units += 1
        async with self.db.unit_of_work() as session:
            yield session

    def read(self) -> Any:
        return self.db.read()


def persistence_on(
    db: Database, clock: ManualClock
) -> tuple[DatabasePersistence, CountingDatabase]:
    counting = CountingDatabase(db)
    return DatabasePersistence(counting, clock), counting  # type: ignore[arg-type]


async def rows(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        users = await session.scalar(select(func.count()).select_from(UserData))
        states = await session.scalar(select(func.count()).select_from(ConversationState))
    return users or 0, states or 0


async def test_a_round_of_changes_is_written_in_one_transaction(
    db: Database, clock: ManualClock
) -> None:
    persistence, counting = persistence_on(db, clock)
    # As Application.update_persistence does: every call of the round gathered at once.
    await asyncio.gather(
        *(persistence.update_user_data(user, {"draft": {"n": user}}) for user in range(1, 201)),
        *(
            persistence.update_conversation("onboarding", (u, u), "ASK_SECTOR")
            for u in range(1, 201)
        ),
    )
    assert counting.units == 1
    assert await rows(db) == (200, 200)

    reloaded = DatabasePersistence(db, clock)
    assert (await reloaded.get_user_data())[7] == {"draft": {"n": 7}}
    assert (await reloaded.get_conversations("onboarding"))[(7, 7)] == "ASK_SECTOR"


async def test_what_the_database_already_holds_is_not_written_again(
    db: Database, clock: ManualClock
) -> None:
    persistence, counting = persistence_on(db, clock)
    await persistence.get_user_data()
    await persistence.get_conversations("onboarding")
    # PTB hands over every user who sent anything, most with an empty user_data.
    await asyncio.gather(*(persistence.update_user_data(user, {}) for user in range(50)))
    assert counting.units == 0

    await persistence.update_user_data(1, {"draft": "a"})
    await persistence.update_conversation("onboarding", (1, 1), "ASK_NAME")
    assert counting.units == 2
    await persistence.update_user_data(1, {"draft": "a"})
    await persistence.update_conversation("onboarding", (1, 1), "ASK_NAME")
    assert counting.units == 2  # unchanged: skipped

    # After a restart, what was loaded counts as held too.
    again, counting_again = persistence_on(db, clock)
    await again.get_user_data()
    await again.get_conversations("onboarding")
    await again.update_user_data(1, {"draft": "a"})
    await again.update_conversation("onboarding", (1, 1), "ASK_NAME")
    assert counting_again.units == 0


async def test_ending_a_conversation_and_dropping_a_draft_delete_their_rows(
    db: Database, clock: ManualClock
) -> None:
    persistence, _ = persistence_on(db, clock)
    await persistence.update_user_data(1, {"draft": "a"})
    await persistence.update_user_data(2, {"draft": "b"})
    await persistence.update_conversation("onboarding", (1, 1), "ASK_NAME")
    assert await rows(db) == (2, 1)
    await asyncio.gather(
        persistence.update_user_data(1, {}),
        persistence.drop_user_data(2),
        persistence.update_conversation("onboarding", (1, 1), None),
    )
    assert await rows(db) == (0, 0)
    # A drop is written even for a row this process never loaded (another erasure path).
    async with db.unit_of_work() as session:
        session.add(UserData(user_id=3, data={"x": 1}, updated_at=clock.now()))
    await persistence.drop_user_data(3)
    assert await rows(db) == (0, 0)


async def test_a_draft_that_is_not_json_fails_alone(db: Database, clock: ManualClock) -> None:
    persistence, counting = persistence_on(db, clock)
    results = await asyncio.gather(
        persistence.update_user_data(1, {"ok": 1}),
        persistence.update_user_data(2, {"bad": object()}),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], TypeError)
    assert counting.units == 1
    assert await rows(db) == (1, 0)


async def test_a_change_made_while_a_batch_is_written_goes_into_the_next(
    db: Database, clock: ManualClock
) -> None:
    persistence, counting = persistence_on(db, clock)
    first = asyncio.create_task(persistence.update_user_data(1, {"v": 1}))
    await asyncio.sleep(0)  # the first batch is being written...
    second = asyncio.create_task(persistence.update_user_data(1, {"v": 2}))
    await asyncio.gather(first, second)
    assert counting.units == 2
    reloaded = DatabasePersistence(db, clock)
    assert (await reloaded.get_user_data())[1] == {"v": 2}  # ...and the later one wins
