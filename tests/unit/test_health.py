"""bot/health.py: /healthz is 200 only when the bot runs, its database answers, the Bot API
answered recently and the delivery engine is alive; otherwise 503 with the reasons.

Time is a fake monotonic source moved by hand; the real-process tests are in
tests/e2e/test_run_outage.py.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from telegram.error import NetworkError

from bot.config import Settings
from bot.db import Database
from bot.health import (
    DISPATCHER_STALE_SECONDS,
    BotApiWatch,
    HealthServer,
    WatchedRequest,
    health_report,
    probe_webhook,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_app(
    *,
    running: bool = True,
    updater_running: bool = True,
    db: Database | None = None,
    watch: BotApiWatch | None = None,
    engine: Any = None,
) -> Any:
    settings = Settings(_env_file=None, health_stale_seconds=30)  # type: ignore[call-arg]
    runtime = (
        SimpleNamespace(
            db=db,
            bot_api=watch or BotApiWatch(),
            engine=engine,
            has_engine=engine is not None,
            settings=settings,
        )
        if db is not None
        else None
    )
    return SimpleNamespace(
        running=running,
        updater=SimpleNamespace(running=updater_running),
        bot_data=SimpleNamespace(runtime=runtime),
    )


def live_engine(now: float) -> Any:
    return SimpleNamespace(started_at=now - 5, last_beat=now - 1, last_plan_ok_at=now - 2)


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    yield database
    await database.dispose()


async def test_healthy_when_everything_answers(db: Database) -> None:
    clock = FakeTime()
    app = fake_app(db=db, watch=BotApiWatch(clock), engine=live_engine(clock.now))
    healthy, report = await health_report(app, "polling", now=clock.now)
    assert healthy
    assert report == {
        "status": "ok",
        "mode": "polling",
        "checks": {"application": "ok", "database": "ok", "bot_api": "ok", "delivery": "ok"},
    }


async def test_unhealthy_reasons_without_runtime() -> None:
    healthy, report = await health_report(fake_app(updater_running=False), "webhook", now=0.0)
    assert not healthy
    assert report["status"] == "error"
    assert report["checks"] == {
        "application": "not receiving updates",
        "database": "not configured",
        "bot_api": "not configured",
        "delivery": "not started",
    }


async def test_bot_api_turns_red_after_the_stale_time_of_failures(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeTime()
    watch = BotApiWatch(clock)
    engine = live_engine(clock.now)
    app = fake_app(db=db, watch=watch, engine=engine)
    watch.succeeded("getUpdates")
    caplog.set_level(logging.INFO, logger="bot.health")

    clock.now += 10  # a long poll ends, then Telegram goes away
    for _ in range(5):
        watch.failed("getUpdates", "NetworkError: connection refused")
        clock.now += 3
    # 25 s without an answer: failing, not yet down.
    assert (await health_report(app, "polling", now=clock.now))[0]

    clock.now += 6
    watch.failed("getUpdates", "NetworkError: connection refused")
    healthy, report = await health_report(app, "polling", now=clock.now)
    assert not healthy
    assert report["checks"]["bot_api"] == (
        "no answer from the Bot API for 31 s "
        "(6 failed calls, last: getUpdates: NetworkError: connection refused)"
    )

    clock.now += 100
    engine.last_beat = engine.last_plan_ok_at = clock.now
    watch.succeeded("getUpdates")
    assert (await health_report(app, "polling", now=clock.now))[0]
    # Said once when it started, once when it ended, with the count.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Telegram Bot API unreachable (getUpdates: NetworkError: connection refused); "
        "retrying in the background, said again when it answers",
        "Telegram Bot API answers again (getUpdates) after 6 failed calls in 121 s",
    ]


async def test_the_first_long_poll_in_progress_is_not_a_failure(db: Database) -> None:
    clock = FakeTime()
    watch = BotApiWatch(clock)
    clock.now += 300  # no answer yet, but nothing failed either
    app = fake_app(db=db, watch=watch, engine=live_engine(clock.now))
    assert (await health_report(app, "polling", now=clock.now))[0]


async def test_a_silent_dispatcher_or_planner_is_reported(db: Database) -> None:
    clock = FakeTime()
    engine = live_engine(clock.now)
    app = fake_app(db=db, watch=BotApiWatch(clock), engine=engine)
    engine.last_beat = clock.now - DISPATCHER_STALE_SECONDS - 1
    healthy, report = await health_report(app, "polling", now=clock.now)
    assert not healthy
    assert report["checks"]["delivery"] == "the dispatcher has been silent for 61 s"

    engine.last_beat = clock.now
    engine.last_plan_ok_at = clock.now - 200  # planner every 30 s: 3 ticks or 90 s at least
    healthy, report = await health_report(app, "polling", now=clock.now)
    assert not healthy
    assert report["checks"]["delivery"] == "no successful planner tick for 200 s"


async def test_the_getupdates_request_reports_to_the_watch() -> None:
    clock = FakeTime()
    watch = BotApiWatch(clock)
    request = WatchedRequest(watch, connect_timeout=0.5)
    await request.initialize()
    try:
        url = "http://127.0.0.1:9/bot123:SECRET/getUpdates"  # discard port: refused
        with pytest.raises(NetworkError):
            await request.do_request(url, "POST")
    finally:
        await request.shutdown()
    assert watch.failures == 1
    assert watch.last_error is not None
    assert watch.last_error.startswith("getUpdates: NetworkError")
    assert "SECRET" not in watch.last_error


async def test_webhook_probe_reports_a_webhook_telegram_cannot_reach() -> None:
    clock = FakeTime()
    watch = BotApiWatch(clock)
    info = SimpleNamespace(
        url="https://relais.example.be/telegram-x",
        last_error_date=datetime.now(UTC) - timedelta(seconds=5),
        last_error_message="Connection refused",
        pending_update_count=3,
    )

    async def get_webhook_info(**_: Any) -> Any:
        return info

    app: Any = SimpleNamespace(bot=SimpleNamespace(get_webhook_info=get_webhook_info))
    await probe_webhook(app, watch)
    assert watch.last_ok_at == clock.now
    assert watch.problem(30) == (
        "Telegram cannot deliver to the webhook (Connection refused; 3 updates waiting)"
    )
    info.pending_update_count = 0
    await probe_webhook(app, watch)
    assert watch.problem(30) is None


async def test_the_server_answers_503_then_stops() -> None:
    server = HealthServer(
        fake_app(running=False, updater_running=False),
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
