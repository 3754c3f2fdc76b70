"""`GET /healthz` of a running bot, for Docker's HEALTHCHECK and load balancers.

Why a separate little server (on HEALTH_PORT) rather than a route on the webhook server:
PTB builds its webhook tornado Application inside `Updater.start_webhook` (private
`WebhookAppClass`) and offers no public way to add a route to it. A second tornado server
in the same event loop costs nothing, works the same in polling and webhook mode, and
keeps the health endpoint off the public webhook port (the reverse proxy only forwards the
webhook path).

The answer is 200 when the Application is running, its Updater is receiving updates and
the database answers `SELECT 1` within a few seconds; otherwise 503, with the reasons:

    {"status": "ok", "mode": "polling", "checks": {"application": "ok", "database": "ok"}}
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import tornado.web
from sqlalchemy import text
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.runtime import RelaisApp

log = logging.getLogger(__name__)

DATABASE_TIMEOUT_SECONDS = 3.0


async def health_report(app: RelaisApp, mode: str) -> tuple[bool, dict[str, Any]]:
    """(healthy, report): what /healthz answers."""
    checks: dict[str, str] = {}
    updater = app.updater
    if not app.running:
        checks["application"] = "not running"
    elif updater is not None and not updater.running:
        checks["application"] = "not receiving updates"
    else:
        checks["application"] = "ok"
    runtime = app.bot_data.runtime
    if runtime is None:
        checks["database"] = "not configured"
    else:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
                async with runtime.db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except TimeoutError:
            checks["database"] = f"no answer within {DATABASE_TIMEOUT_SECONDS:g}s"
        except Exception as exc:  # any failure is the answer, not a crash of the probe
            checks["database"] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return healthy, {"status": "ok" if healthy else "error", "mode": mode, "checks": checks}


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
    """
    health = HealthServer(app, port=port, mode=mode, listen=listen)
    previous_init = app.post_init
    previous_shutdown = app.post_shutdown

    async def post_init(application: Any) -> None:
        if previous_init is not None:
            await previous_init(application)
        await health.start()

    async def post_shutdown(application: Any) -> None:
        await health.stop()
        if previous_shutdown is not None:
            await previous_shutdown(application)

    app.post_init = post_init
    app.post_shutdown = post_shutdown
