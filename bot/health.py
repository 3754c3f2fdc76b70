"""`GET /healthz` of a running bot, for Docker's HEALTHCHECK and load balancers.

The answer is 200 only when every check holds, otherwise 503 with the reasons:

    {"status": "ok", "mode": "polling",
     "checks": {"application": "ok", "database": "ok", "bot_api": "ok", "delivery": "ok"}}

- application: the Application runs and its Updater takes updates (not stopping).
- database: `SELECT 1` answers within DATABASE_TIMEOUT_SECONDS.
- bot_api: the Bot API answered recently. In polling mode every getUpdates is watched (a long
  poll ends at least every 10 s when Telegram is up); in webhook mode a job asks
  getWebhookInfo every WEBHOOK_PROBE_SECONDS, which also tells whether Telegram manages to
  deliver to our webhook. Calls failing for HEALTH_STALE_SECONDS (30 by default, counted from
  the last answer) turn this check red.
- delivery: the delivery engine's dispatcher loop is alive (it beats at least every few
  seconds, sleeping or sending) and the planner tick succeeded recently.

A Telegram outage is logged once at WARNING when it starts and once when the Bot API
answers again, with the number of failed calls; PTB's polling loop would otherwise report
every failed getUpdates to the error handler (an ERROR with a traceback each time), so
handlers/errors.py leaves those to `BotApiWatch`.

Why a separate little server (on HEALTH_PORT) rather than a route on the webhook server:
PTB builds its webhook tornado Application inside `Updater.start_webhook` (private
`WebhookAppClass`) and offers no public way to add a route to it. A second tornado server in
the same event loop costs nothing, works the same in both modes, and keeps the health
endpoint off the public webhook port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import tornado.web
from sqlalchemy import text
from telegram.error import TelegramError
from telegram.request import HTTPXRequest, RequestData
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

if TYPE_CHECKING:
    from bot.runtime import RelaisApp

log = logging.getLogger(__name__)

DATABASE_TIMEOUT_SECONDS = 3.0
# Webhook mode: how often getWebhookInfo is asked (polling needs no probe: getUpdates is one).
WEBHOOK_PROBE_SECONDS = 10.0
# Telegram's last failed delivery to our webhook counts when it is more recent than this.
WEBHOOK_ERROR_WINDOW_SECONDS = 60.0
# The dispatcher loop beats at least every IDLE_MAX_SECONDS (10 s) plus one drain; a send in
# the air lasts at most its timeouts (about 20 s).
DISPATCHER_STALE_SECONDS = 60.0
# The planner runs every SCHEDULER_TICK_SECONDS: this many ticks (and at least the minimum)
# without a successful one is unhealthy.
PLANNER_STALE_TICKS = 3
PLANNER_STALE_MIN_SECONDS = 90.0

TimeSource = Callable[[], float]


class BotApiWatch:
    """How the Bot API has been answering this process: the last answer, the failures since.

    Fed by `WatchedRequest` (every getUpdates) and by the webhook probe. Logs an outage once
    when it starts and once when it ends, with the count of failed calls in between.
    """

    def __init__(self, time_source: TimeSource = time.monotonic) -> None:
        self._time = time_source
        self.started_at = time_source()
        self.last_ok_at: float | None = None
        self.failures = 0  # consecutive, since the last answer
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self.webhook_problem: str | None = None

    def succeeded(self, method: str) -> None:
        now = self._time()
        if self.failures:
            log.warning(
                "Telegram Bot API answers again (%s) after %d failed calls in %.0f s",
                method,
                self.failures,
                now - (self.failing_since or now),
                extra={"failed_calls": self.failures},
            )
        self.last_ok_at = now
        self.failures = 0
        self.failing_since = None
        self.last_error = None

    def failed(self, method: str, reason: str) -> None:
        now = self._time()
        if not self.failures:
            self.failing_since = now
            log.warning(
                "Telegram Bot API unreachable (%s: %s); retrying in the background, "
                "said again when it answers",
                method,
                reason,
            )
        self.failures += 1
        self.last_error = f"{method}: {reason}"

    def problem(self, stale_seconds: float) -> str | None:
        """Why the Bot API counts as down now (no answer for `stale_seconds`), or None."""
        if self.webhook_problem is not None:
            return self.webhook_problem
        if not self.failures:
            return None  # nothing failed since the last answer (or the first call is running)
        reference = self.last_ok_at if self.last_ok_at is not None else self.started_at
        silent = self._time() - reference
        if silent < stale_seconds:
            return None
        return (
            f"no answer from the Bot API for {silent:.0f} s "
            f"({self.failures} failed calls, last: {self.last_error})"
        )


class WatchedRequest(HTTPXRequest):
    """PTB's HTTPXRequest that tells a `BotApiWatch` how each call went (the getUpdates one)."""

    def __init__(self, watch: BotApiWatch, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.watch = watch

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]  # never the URL itself: it holds the token
        try:
            code, payload = await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except TelegramError as exc:  # NetworkError, TimedOut: nothing came back
            self.watch.failed(api_method, f"{type(exc).__name__}: {exc.message}")
            raise
        if code == 200:
            self.watch.succeeded(api_method)
        else:
            self.watch.failed(api_method, _describe_answer(code, payload))
        return code, payload


def _describe_answer(code: int, payload: bytes) -> str:
    try:
        description = json.loads(payload).get("description")
    except (ValueError, AttributeError):
        description = None
    return f"HTTP {code}" + (f" {description}" if isinstance(description, str) else "")


async def probe_webhook(app: RelaisApp, watch: BotApiWatch) -> None:
    """Webhook mode: one getWebhookInfo, recorded in `watch` (the JobQueue calls it)."""
    try:
        info = await app.bot.get_webhook_info(read_timeout=5, connect_timeout=5)
    except TelegramError as exc:
        watch.failed("getWebhookInfo", f"{type(exc).__name__}: {exc.message}")
        return
    watch.succeeded("getWebhookInfo")
    problem = None
    if not info.url:
        problem = "Telegram knows no webhook for this bot (another process deleted it?)"
    elif info.last_error_date is not None and info.pending_update_count:
        age = (datetime.now(UTC) - info.last_error_date).total_seconds()
        if age < WEBHOOK_ERROR_WINDOW_SECONDS:
            problem = (
                f"Telegram cannot deliver to the webhook ({info.last_error_message}; "
                f"{info.pending_update_count} updates waiting)"
            )
    if problem != watch.webhook_problem and problem is not None:
        log.warning("webhook: %s", problem)
    watch.webhook_problem = problem


def _application_check(app: RelaisApp) -> str:
    updater = app.updater
    if not app.running:
        return "not running"
    if updater is not None and not updater.running:
        return "not receiving updates"
    return "ok"


async def _database_check(app: RelaisApp) -> str:
    runtime = app.bot_data.runtime
    if runtime is None:
        return "not configured"
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            async with runtime.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return f"no answer within {DATABASE_TIMEOUT_SECONDS:g} s"
    except Exception as exc:  # any failure is the answer, not a crash of the probe
        return f"error: {type(exc).__name__}"
    return "ok"


def _delivery_check(app: RelaisApp, now: float) -> str:
    runtime = app.bot_data.runtime
    if runtime is None or not runtime.has_engine:
        return "not started"
    engine = runtime.engine
    if engine.started_at is None:
        return "not started"
    silent = now - engine.last_beat
    if silent > DISPATCHER_STALE_SECONDS:
        return f"the dispatcher has been silent for {silent:.0f} s"
    tick = runtime.settings.scheduler_tick_seconds
    limit = max(PLANNER_STALE_TICKS * tick, PLANNER_STALE_MIN_SECONDS)
    planned = engine.last_plan_ok_at if engine.last_plan_ok_at is not None else engine.started_at
    if now - planned > limit:
        return f"no successful planner tick for {now - planned:.0f} s"
    return "ok"


async def health_report(
    app: RelaisApp, mode: str, *, now: float | None = None
) -> tuple[bool, dict[str, Any]]:
    """(healthy, report): what /healthz answers."""
    moment = time.monotonic() if now is None else now
    runtime = app.bot_data.runtime
    checks: dict[str, str] = {
        "application": _application_check(app),
        "database": await _database_check(app),
    }
    problem = (
        runtime.bot_api.problem(runtime.settings.health_stale_seconds)
        if runtime is not None
        else "not configured"
    )
    checks["bot_api"] = problem or "ok"
    checks["delivery"] = _delivery_check(app, moment)
    healthy = all(value == "ok" for value in checks.values())
    report: dict[str, Any] = {"status": "ok" if healthy else "error", "mode": mode}
    report["checks"] = checks
    return healthy, report


class _HealthHandler(tornado.web.RequestHandler):
    def initialize(self, app: RelaisApp, mode: str) -> None:
        self.relais_app = app
        self.mode = mode

    async def get(self) -> None:
        healthy, report = await health_report(self.relais_app, self.mode)
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(report))


class _QuietApplication(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        # A probe every few seconds would drown the real events; failures show in the checks.
        return None


class HealthServer:
    """Serves /healthz for `app` on `port` (0 picks a free one: see `.port` after start)."""

    def __init__(self, app: RelaisApp, *, port: int, mode: str, listen: str = "0.0.0.0") -> None:
        self.listen = listen
        self.port = port
        self._web = _QuietApplication([(r"/healthz/?", _HealthHandler, {"app": app, "mode": mode})])
        self._server: HTTPServer | None = None

    async def start(self) -> None:
        sockets: list[socket.socket] = bind_sockets(self.port, address=self.listen)
        self.port = sockets[0].getsockname()[1]
        self._server = HTTPServer(self._web)
        self._server.add_sockets(sockets)
        log.info(
            "health endpoint listening", extra={"url": f"http://{self.listen}:{self.port}/healthz"}
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            await server.close_all_connections()


def attach_health_server(app: RelaisApp, *, port: int, mode: str, listen: str = "0.0.0.0") -> None:
    """Start a HealthServer once the Application is initialised, stop it at shutdown.

    Chains onto the Application's `post_init`/`post_shutdown` hooks (PTB's public
    attributes): after the existing `post_init`, so that a database that is not migrated
    fails first; before the existing `post_shutdown`, which closes the database. PTB calls
    `post_shutdown` on every exit path (`post_stop` only when the Application had started).
    In webhook mode it also schedules the getWebhookInfo probe.
    """
    health = HealthServer(app, port=port, mode=mode, listen=listen)
    previous_init = app.post_init
    previous_shutdown = app.post_shutdown

    async def post_init(application: Any) -> None:
        if previous_init is not None:
            await previous_init(application)
        runtime = app.bot_data.runtime
        if mode == "webhook" and app.job_queue is not None and runtime is not None:
            watch = runtime.bot_api

            async def probe(_context: Any) -> None:
                await probe_webhook(app, watch)

            app.job_queue.run_repeating(
                probe, interval=WEBHOOK_PROBE_SECONDS, first=0.0, name="relais:webhook-probe"
            )
        await health.start()

    async def post_shutdown(application: Any) -> None:
        await health.stop()
        if previous_shutdown is not None:
            await previous_shutdown(application)

    app.post_init = post_init
    app.post_shutdown = post_shutdown
