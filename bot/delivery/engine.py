"""The delivery engine: runs the planner tick and the dispatcher of one process.

    engine = DeliveryEngine(runtime, application.bot, build_registry())
    engine.start(application)   # planner every SCHEDULER_TICK_SECONDS, dispatcher continuously
    ...
    await engine.stop()

When the bot is the Application's (its rate limiter is bot/ratelimit.py's), the dispatcher
shares that limiter's message budget: replies to people go first, the outbox sends in what
they leave.

Both run on PTB's JobQueue, so they live and stop with the Application: the planner as a
repeating job, the dispatcher as one long job that drains what is due, then sleeps until
the next due row, a wake-up (`runtime.wake_dispatcher()`, e.g. after a trainer confirmed a
broadcast) or at most `IDLE_MAX_SECONDS`. `stop()` (called by `relais run` as soon as SIGTERM
arrives, see bot/lifecycle.py, and again at shutdown) lets the sends in the air finish for
`STOP_GRACE_SECONDS`, abandons those still waiting for Telegram after that, and hands back
every claim: nothing stays `sending` under this process's name. `Application.stop()` waits
for running jobs too, so the dispatcher also ends before the bot's HTTP client is closed.

`last_beat` and `last_plan_ok_at` (monotonic seconds) tell /healthz that the loop is alive.

Tests and benchmarks drive it by hand instead: `await engine.plan_once()` then
`await engine.dispatch_once()` (see tests/e2e/harness.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Bot
from telegram.ext import Application, Job

from bot.delivery.dispatcher import Dispatcher, DispatchReport
from bot.delivery.limits import Limits, SendBudget
from bot.delivery.planner import PlanReport, run_planners
from bot.delivery.registry import DeliveryRegistry
from bot.ratelimit import ReplyRateLimiter
from bot.runtime import Runtime

log = logging.getLogger(__name__)

# The dispatcher looks at the outbox at least this often (lease renewal, missed wake-ups).
IDLE_MAX_SECONDS = 10.0
# ... and at most this often when due rows exist that it could not claim (another process).
IDLE_MIN_SECONDS = 0.05
# SQLite: how often a standby process tries to take the dispatcher lease.
STANDBY_RETRY_SECONDS = 5.0
# After an unexpected error in a drain (e.g. the database went away).
ERROR_RETRY_SECONDS = 5.0
# How often a sleeping dispatcher checks that the Application is still running.
STOP_POLL_SECONDS = 0.25
# How long stop() waits for the dispatcher to finish its sends in the air, then how long for
# the abandoned ones to unwind: `relais run` must exit within 5 s of SIGTERM.
STOP_GRACE_SECONDS = 1.5
ABANDON_SECONDS = 0.5


class DeliveryEngine:
    """Planner + dispatcher of one process (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        bot: Bot,
        registry: DeliveryRegistry,
        limits: Limits | None = None,
    ) -> None:
        self.runtime = runtime
        self.bot = bot
        self.registry = registry
        self.dispatcher = Dispatcher(runtime, bot, registry, limits, budget=shared_budget(bot))
        self.last_plan: PlanReport | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._planner_job: Job[Any] | None = None
        self._dispatcher_job: Job[Any] | None = None
        self._loop_done: asyncio.Event | None = None
        self._loop_task: asyncio.Task[Any] | None = None
        self._stopped = False
        # For /healthz (bot/health.py): monotonic seconds.
        self.started_at: float | None = None
        self.last_beat = time.monotonic()
        self.last_plan_ok_at: float | None = None

    # --- by hand (tests, benchmarks, `relais try`) ------------------------------------------
    async def plan_once(self) -> int:
        """Run every planner once; returns how many deliveries were queued."""
        report = await run_planners(self.runtime, self.registry)
        self.last_plan = report
        if report.inserted:
            self.wake()
        return report.inserted

    async def dispatch_once(self) -> DispatchReport:
        """Send everything due at the runtime clock's now, within the limits; returns counts."""
        return await self.dispatcher.drain()

    def wake(self) -> None:
        """Something became due now: stop sleeping (a no-op if the dispatcher is busy)."""
        self._wake.set()

    # --- on the Application's JobQueue ------------------------------------------------------
    def start(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Schedule the planner tick and the dispatcher loop on the Application's JobQueue."""
        job_queue = application.job_queue
        if job_queue is None:
            raise RuntimeError("the delivery engine needs PTB's JobQueue (extra job-queue)")
        self._stopping = False
        self._stopped = False
        self.started_at = self.last_beat = time.monotonic()
        self.runtime.wake_dispatcher = self.wake
        self._planner_job = job_queue.run_repeating(
            self._planner_tick,
            interval=self.runtime.settings.scheduler_tick_seconds,
            first=0.0,
            name="relais:planner",
            # A slow tick is not run twice at once, and missed ticks collapse into one.
            job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        self._dispatcher_job = job_queue.run_once(
            self._dispatcher_loop, when=0.0, name="relais:dispatcher"
        )
        log.info(
            "delivery engine scheduled: planner every %.0f s, dispatcher continuous",
            self.runtime.settings.scheduler_tick_seconds,
        )

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop both and hand back every claim; returns within about `grace` + 1 s.

        The sends in the air get `grace` seconds to finish (their outcome is recorded as
        usual); those still waiting for Telegram then are abandoned, and their rows requeued
        like the claims of a stopped dispatcher (at least once, the attempt counted). Safe to
        call twice (SIGTERM, then the Application's shutdown).
        """
        if self._stopped:
            return
        self._stopping = True
        self.wake()
        if self._planner_job is not None:
            # Gone already if the Application stopped its JobQueue first (the usual order).
            with contextlib.suppress(LookupError):
                self._planner_job.schedule_removal()
            self._planner_job = None
        if self._loop_done is not None and not await _wait(self._loop_done, grace):
            abandoned = self.dispatcher.abandon_sends()
            if abandoned:
                log.warning(
                    "%d sends still waiting for Telegram after %.1f s: abandoned, requeued",
                    abandoned,
                    grace,
                )
            if self._loop_task is not None:
                self._loop_task.cancel()  # a drain may be pausing (429, outage breaker)
            if not await _wait(self._loop_done, ABANDON_SECONDS):
                log.error("the dispatcher did not stop within %.0f s", grace + ABANDON_SECONDS)
        self._stopped = True
        try:
            await self.dispatcher.hand_back_claims()
        except Exception:
            log.exception("could not hand back the claimed deliveries")
        try:
            await self.dispatcher.close()
        except Exception:
            log.exception("could not release the dispatcher lease")
        log.info("message budget: %s", self.dispatcher.limiter.budget.summary())
        self.runtime.wake_dispatcher = _nothing

    async def _planner_tick(self, context: Any) -> None:
        if self._stopping:
            return
        try:
            await self.plan_once()
        except Exception:
            log.exception("planner tick failed")
        else:
            self.last_plan_ok_at = time.monotonic()

    async def _dispatcher_loop(self, context: Any) -> None:
        application: Application[Any, Any, Any, Any, Any, Any] = context.application
        self._loop_done = asyncio.Event()
        self._loop_task = asyncio.current_task()
        try:
            await self.run(lambda: application.running and not self._stopping)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # stop() cut the drain short (a pause, or sends Telegram never answered): the
            # drain gave back what it had not sent, stop() requeues what was in the air.
            log.info("dispatcher stopped (its drain cut short)")
        finally:
            self._loop_done.set()

    async def run(self, running: Callable[[], bool]) -> None:
        """Drain, sleep until something is due, drain again ... while `running()` holds."""
        log.info("dispatcher running as %s", self.dispatcher.name)

        def alive() -> bool:
            # The drain and the sleep ask this often: each time is a sign of life (/healthz).
            self.last_beat = time.monotonic()
            return running()

        while alive():
            # Cleared before the drain: a wake-up during it means "look again at once".
            self._wake.clear()
            try:
                report = await self.dispatcher.drain(alive)
                wait = await self._idle_seconds(report)
            except Exception:
                log.exception("dispatcher drain failed; retrying in %.0f s", ERROR_RETRY_SECONDS)
                wait = ERROR_RETRY_SECONDS
            await self._sleep(wait, alive)
        log.info("dispatcher stopped")

    async def _idle_seconds(self, report: DispatchReport) -> float:
        if report.standby:
            return STANDBY_RETRY_SECONDS
        if report.paused_for > 0:
            return report.paused_for
        next_due = await self.dispatcher.next_due_at()
        if next_due is None:
            return IDLE_MAX_SECONDS
        seconds = (next_due - self.runtime.clock.now()).total_seconds()
        return min(max(seconds, IDLE_MIN_SECONDS), IDLE_MAX_SECONDS)

    async def _sleep(self, seconds: float, running: Callable[[], bool]) -> None:
        """Sleep `seconds`, until woken, or until the Application stops."""
        deadline = time.monotonic() + seconds
        while running() and not self._wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), min(remaining, STOP_POLL_SECONDS))
            except TimeoutError:
                continue


def shared_budget(bot: Bot) -> SendBudget | None:
    """The message budget of the Application's replies, if the bot has one: the outbox then
    uses what the replies leave (bot/ratelimit.py)."""
    limiter = getattr(bot, "rate_limiter", None)
    return limiter.budget if isinstance(limiter, ReplyRateLimiter) else None


def _nothing() -> None:
    return None


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Whether `event` was set within `seconds`."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True
