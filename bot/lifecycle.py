"""`relais run` stops within 5 s of SIGTERM (or Ctrl-C), whatever Telegram is doing.

PTB's own stop (the end of `run_polling`) stops the Updater first, and the Updater waits for
its polling task: while Telegram is unreachable that task sleeps between retries (up to 30 s)
and then asks getUpdates once more, so `docker stop` had to kill the bot. Once the bot runs,
the stop signals are ours instead (installed in `post_init`, replacing PTB's):

1. the delivery engine stops at once: its sends in the air get a moment to finish, then it
   hands back every claim (bot/delivery/engine.py);
2. meanwhile the Updater stops, bounded: its polling task is cancelled if it does not end in
   time (a long poll or a retry pause costs nothing to drop);
3. then PTB's usual stop runs (`Application.stop`, `shutdown`, `post_shutdown`), and the
   interpreter exits without a final collection of the heap (`gc.freeze`).

A watchdog thread is the last resort: if the process is still there after
`STOP_DEADLINE_SECONDS` (something waits on a database that does not answer, say), it logs
what happened and exits with status 1. Before `post_init` (getMe, retried while Telegram is
down), PTB's own handlers stop it, which is quick: nothing runs yet. Between `post_init` and
the start (the Updater's first calls, retried too), ours end `run_polling` as PTB's would.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.runtime import RelaisApp

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# The promise is 5 s from the signal to the exit; this leaves room for the interpreter's exit.
STOP_DEADLINE_SECONDS = 4.5
# How long the Updater may take to stop polling (or the webhook server) before it is cancelled.
UPDATER_STOP_SECONDS = 1.0
# After a cancel, how long to wait for the cancelled task to unwind (twice at most).
CANCEL_WAIT_SECONDS = 0.5


class GracefulStop:
    """The stop-signal handler of a running Application (see the module docstring)."""

    def __init__(self, app: RelaisApp, *, deadline: float = STOP_DEADLINE_SECONDS) -> None:
        self.app = app
        self.deadline = deadline
        self.task: asyncio.Task[None] | None = None
        self._watchdog: threading.Timer | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.request, sig)

    def request(self, sig: int) -> None:
        """Called by the event loop on a stop signal."""
        if self.task is not None:
            log.info("stop already under way (%s again)", signal.Signals(sig).name)
            return
        log.info("stop requested (%s)", signal.Signals(sig).name)
        self._watchdog = threading.Timer(self.deadline, self._expired)
        self._watchdog.daemon = True
        self._watchdog.start()
        self.task = asyncio.get_running_loop().create_task(self.stop(), name="relais:stop")

    async def stop(self) -> None:
        runtime = self.app.bot_data.runtime
        engine_stop = (
            asyncio.ensure_future(runtime.engine.stop())
            if runtime is not None and runtime.has_engine
            else None
        )
        updater = self.app.updater
        if updater is not None and updater.running:
            await bounded(updater.stop(), UPDATER_STOP_SECONDS, "stopping the updates")
        if engine_stop is not None:
            try:
                await engine_stop
            except Exception:
                log.exception("stopping the delivery engine failed")
        if self.app.running:
            # PTB's run_polling/run_webhook carry on with Application.stop() and shutdown().
            self.app.stop_running()
        else:
            # Still starting (the Updater's first calls, retried while Telegram is down):
            # end run_polling/run_webhook the way PTB's own stop-signal handler does.
            raise SystemExit(0)

    def cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _expired(self) -> None:
        log.error(
            "the bot did not stop within %.1f s of the stop signal; exiting now "
            "(deliveries still claimed, if any, are requeued at the next start)",
            self.deadline,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(1)


async def bounded(awaitable: Awaitable[Any], seconds: float, what: str) -> None:
    """Await `awaitable` for at most `seconds`, then cancel it (and wait a little for that)."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    attempts = 0
    while not done and attempts < 2:
        # A cancelled task may swallow one cancel (PTB's Updater does, then asks Telegram once
        # more): cancel again if it is still there.
        task.cancel()
        attempts += 1
        done, _ = await asyncio.wait({task}, timeout=CANCEL_WAIT_SECONDS)
    if not done:
        log.warning("%s: still waiting after %.1f s; going on without it", what, seconds)
        return
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s failed: %r", what, task.exception())
    elif attempts:
        log.info("%s: cut short after %.1f s", what, seconds)


class _LastPollFilter(logging.Filter):
    """PTB's Updater, when it stops, confirms the updates it fetched with one more getUpdates;
    during an outage that call fails and PTB logs it at ERROR with a traceback. It is the
    outage the Bot API watch already reported: one WARNING line says what it means."""

    PREFIX = "Error while calling `get_updates` one more time"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith(self.PREFIX):
            error = record.exc_info[1] if record.exc_info else None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = (
                "stopping: could not confirm the last updates to Telegram (%s); "
                "they may come again at the next start"
            )
            record.args = (f"{type(error).__name__}: {error}" if error else "no answer",)
            record.exc_info = record.exc_text = None
        return True


def attach_graceful_stop(app: RelaisApp, *, deadline: float = STOP_DEADLINE_SECONDS) -> None:
    """Install `GracefulStop` on the running loop once the Application is initialised.

    Chains onto `post_init` (PTB's public hook, after whatever it already does), like
    bot/health.py; `post_shutdown` cancels the watchdog once the stop has completed.
    """
    stopper = GracefulStop(app, deadline=deadline)
    updater_log = logging.getLogger("telegram.ext.Updater")
    if not any(isinstance(f, _LastPollFilter) for f in updater_log.filters):
        updater_log.addFilter(_LastPollFilter())
    previous_init = app.post_init
    previous_shutdown = app.post_shutdown

    async def post_init(application: Any) -> None:
        if previous_init is not None:
            await previous_init(application)
        stopper.install(asyncio.get_running_loop())

    async def post_shutdown(application: Any) -> None:
        if previous_shutdown is not None:
            await previous_shutdown(application)
        stopper.cancel_watchdog()
        # Nothing is left to collect: spare the interpreter's final garbage collection of the
        # whole heap (most of a second on a busy small VPS, out of the 5 s a stop may take).
        gc.freeze()

    app.post_init = post_init
    app.post_shutdown = post_shutdown
