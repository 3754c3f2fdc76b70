"""bot/health.py: /healthz says 503 with the reason until the bot runs and its database answers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from bot.db import Database
from bot.health import HealthServer, health_report


def fake_app(*, running: bool, updater_running: bool, db: Database | None) -> Any:
    runtime = SimpleNamespace(db=db) if db is not None else None
    return SimpleNamespace(
        running=running,
        updater=SimpleNamespace(running=updater_running),
        bot_data=SimpleNamespace(runtime=runtime),
    )


async def test_healthy_when_running_with_a_database(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    try:
        healthy, report = await health_report(
            fake_app(running=True, updater_running=True, db=db), "polling"
        )
    finally:
        await db.dispose()
    assert healthy
    assert report == {
        "status": "ok",
        "mode": "polling",
        "checks": {"application": "ok", "database": "ok"},
    }


async def test_unhealthy_reasons() -> None:
    healthy, report = await health_report(
        fake_app(running=True, updater_running=False, db=None), "webhook"
    )
    assert not healthy
    assert report["checks"] == {
        "application": "not receiving updates",
        "database": "not configured",
    }


async def test_the_server_answers_503_then_stops(tmp_path: Path) -> None:
    server = HealthServer(
        fake_app(running=False, updater_running=False, db=None),
        port=0,
        mode="polling",
        listen="127.0.0.1",
    )
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/healthz")
            missing = await client.get(f"http://127.0.0.1:{server.port}/")
    finally:
        await server.stop()
    assert response.status_code == 503
    assert response.json()["checks"]["application"] == "not running"
    assert missing.status_code == 404
