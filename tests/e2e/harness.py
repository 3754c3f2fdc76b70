"""End-to-end harness: the real Application, unchanged, against the sandbox Bot API.

    async def test_something(relais: Harness) -> None:
        cohort = await relais.make_cohort()
        alice = relais.user("Alice")
        await alice.send(f"/start join_{cohort.join_code}")
        await alice.expect("Bienvenue")

Time only moves when a test moves it (`relais.clock`); scheduled deliveries are planned
and sent when the test calls `relais.tick()` (or `relais.advance(...)`), never behind its back.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.content import ContentLibrary, load_for_bot
from bot.db import Database
from bot.i18n import I18n
from bot.models import Cohort, Member, Role
from bot.runtime import RelaisApp
from bot.sandbox.server import SandboxBotAPI
from bot.sandbox.simulator import Simulator, SimUser
from tests import factories


# Read once for the whole run: parsing every catalog and every content file costs about a
# second, and hundreds of tests start an Application (both are read-only once loaded).
@cache
def shared_i18n(default_language: str, timezone: str) -> I18n:
    return I18n(default_language=default_language, default_zone=timezone)


@cache
def shared_content() -> ContentLibrary:
    return load_for_bot()


BOT_USERNAME = "relais_test_bot"


class Harness:
    def __init__(
        self, sandbox: SandboxBotAPI, settings: Settings, db: Database, clock: ManualClock
    ) -> None:
        self.sandbox = sandbox
        self.settings = settings
        self.db = db
        self.clock = clock
        self.sim = Simulator(sandbox)
        # Actions return once the running app has processed the update, not after a guessed
        # quiet period (a handler's database work can outlast it, on PostgreSQL especially).
        self.sim.add_busy_probe(self._app_busy)
        self.app: RelaisApp | None = None
        # Updates handed over by getUpdates, and those the Application has processed: until
        # they match, the app is busy - even when its queue and its processor are empty for a
        # moment (the getUpdates answer on its way to PTB, an update between the queue and
        # its task), which on a loaded machine can outlast the simulator's quiet period.
        self._handed_over = 0
        self._processed = 0
        # How many updates were being processed at once, at most (concurrency is on).
        self._in_flight = 0
        self.peak_in_flight = 0
        hand_over = sandbox._hand_over

        def counting_hand_over(bot: Any, batch: list[Any]) -> bytes:
            if bot.token == settings.token:
                self._handed_over += len(batch)
            return hand_over(bot, batch)

        sandbox._hand_over = counting_hand_over  # type: ignore[method-assign]
        self._ids = itertools.count(10_001)
        self._codes = itertools.count(1)

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        # A fresh Database object per Application: post_shutdown disposes the old engine.
        self.db = Database(self.settings.database_url)
        app = build_application(
            self.settings,
            clock=self.clock,
            db=self.db,
            i18n=shared_i18n(self.settings.default_language, self.settings.timezone),
            content=shared_content(),
            start_engine=False,
            persistence_interval=0.2,
        )
        process_update = app.process_update

        async def counting_process_update(update: object) -> None:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            try:
                await process_update(update)
            finally:
                self._in_flight -= 1
                if isinstance(update, Update):
                    self._processed += 1

        app.process_update = counting_process_update  # type: ignore[method-assign]
        # What was handed over to an earlier Application is not this one's to wait for.
        self._processed = self._handed_over
        await app.initialize()
        # As run_polling does: PTB calls post_init/post_shutdown only from run_polling/webhook.
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)
        self.app = app

    def _app_busy(self) -> bool:
        app = self.app
        if app is None:
            return False
        return (
            self._processed < self._handed_over
            or app.update_queue.qsize() > 0
            or app.update_processor.current_concurrent_updates > 0
        )

    async def stop(self) -> None:
        app = self.app
        if app is None:
            return
        self.app = None
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)

    async def restart(self) -> None:
        """Stop the Application and start a new one on the same database and sandbox."""
        await self.stop()
        await self.start()

    # --- people --------------------------------------------------------------------
    def user(
        self, first_name: str = "Alice", *, language_code: str = "fr", **kwargs: Any
    ) -> SimUser:
        return self.sim.user(next(self._ids), first_name, language_code=language_code, **kwargs)

    # --- time and the outbox ---------------------------------------------------------
    @property
    def engine(self) -> Any:
        assert self.app is not None
        assert self.app.bot_data.runtime is not None
        return self.app.bot_data.runtime.engine

    async def tick(self) -> None:
        """Plan, then send everything due at the clock's current time, then let replies land."""
        await self.engine.plan_once()
        await self.engine.dispatch_once()
        await self.sim.idle()

    async def advance(self, delta: timedelta | None = None, **kwargs: float) -> None:
        self.clock.advance(delta, **kwargs)
        await self.tick()

    async def advance_to(self, instant: datetime, step: timedelta = timedelta(hours=1)) -> None:
        """Move the clock to `instant`, ticking every `step` on the way (like the real ticks)."""
        while self.clock.now() + step < instant:
            await self.advance(step)
        self.clock.set(instant)
        await self.tick()

    # --- the database ------------------------------------------------------------------
    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.db.unit_of_work() as session:
            yield session

    async def make_cohort(
        self, name: str = "Estaimpuis 2026", commune: str = "Estaimpuis"
    ) -> Cohort:
        async with self.session() as tx:
            return await factories.make_cohort(
                tx,
                name,
                commune=commune,
                timezone=self.settings.timezone,
                language=self.settings.default_language,
                join_code=f"TEST{next(self._codes):04d}",
                created_at=self.clock.now(),
            )

    async def make_member(
        self,
        user: SimUser,
        cohort: Cohort,
        *,
        role: Role = Role.MERCHANT,
        business_name: str | None = "Salon Alice",
        sector: str | None = "beauty",
        language: str | None = None,
        started: bool = True,
    ) -> Member:
        """A member already through onboarding (to test later features without repeating it).

        `started` makes the sandbox know the private chat, as if the user had opened it.
        """
        now = self.clock.now()
        async with self.session() as tx:
            member = await factories.make_member(
                tx,
                cohort,
                user.first_name,
                role=role,
                joined_at=now,
                onboarded_at=now,
                user_id=user.id,
                business_name=business_name,
                sector=sector,
                commune=cohort.commune,
                language=language or user.language_code or "fr",
                tip_days=",".join(self.settings.tip_days),
                tip_time=time.fromisoformat(self.settings.tip_time),
                consent_at=now,
                created_at=now,
            )
        if started:
            self.sandbox.mark_started(user.id)
        return member


@asynccontextmanager
async def running_harness(
    settings: Settings, db: Database, clock: ManualClock, **sandbox_kwargs: Any
) -> AsyncIterator[Harness]:
    token = settings.token
    assert token
    async with SandboxBotAPI(**sandbox_kwargs) as sandbox:
        sandbox.add_bot(token, username=BOT_USERNAME)
        test_settings = settings.model_copy(update={"telegram_api_base_url": sandbox.base_url})
        harness = Harness(sandbox, test_settings, db, clock)
        await harness.start()
        try:
            yield harness
        finally:
            await harness.stop()
