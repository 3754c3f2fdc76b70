"""`relais run` while Telegram is unreachable: /healthz tells the truth, SIGTERM stops it fast.

Real processes (python -m bot.cli run) against the sandbox Bot API served by this test, on
the test database (SQLite, or PostgreSQL with TEST_DATABASE_URL):

* the sandbox answers 502 to everything: /healthz turns 503 and names the Bot API, the
  outage is logged once at WARNING (no "unhandled error" per failed poll), and when the
  sandbox comes back /healthz is 200 again and the log gives the count of failed calls;
* Telegram stops answering in three ways (502s, the server gone, answers that never come)
  while deliveries are being sent: SIGTERM ends the process with status 0 within 5 s and no
  delivery is left `sending` (the dispatcher hands back its claims).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.delivery.dispatcher import RECOVERED_NOTE
from bot.models import Delivery, Enrolment, TrainingSession
from bot.sandbox.server import SandboxBotAPI
from tests.e2e.delivery_support import outbox_counts, seed_recipients

ROOT = Path(__file__).resolve().parents[2]
STOP_LIMIT_SECONDS = 5.0


@pytest.fixture
async def sandbox(settings: Settings) -> AsyncIterator[SandboxBotAPI]:
    async with SandboxBotAPI(flood_limits=False) as api:
        assert settings.token
        api.add_bot(settings.token, username="relais_test_bot")
        yield api


class Bot:
    """`relais run` in a subprocess, its output in a file (a full pipe would block it)."""

    def __init__(self, settings: Settings, sandbox: SandboxBotAPI, workdir: Path) -> None:
        self.log_path = workdir / "relais.log"
        self.health_port = _free_port()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("BOT_", "DATABASE_", "TELEGRAM_", "TEST_DATABASE", "HEALTH_"))
        }
        self.env.update(
            BOT_TOKEN=settings.token or "",
            DATABASE_URL=settings.database_url,
            TELEGRAM_API_BASE_URL=sandbox.base_url,
            HEALTH_PORT=str(self.health_port),
            HEALTH_STALE_SECONDS="2",
            SCHEDULER_TICK_SECONDS="1",
            REMINDER_OFFSETS_MINUTES="120",
            QUIET_HOURS="",
            LOG_LEVEL=os.environ.get("OUTAGE_LOG_LEVEL", "INFO"),
            PYTHONPATH=str(ROOT),
        )
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None

    @property
    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            # The working directory is the test's own: no .env of the developer is read.
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def health(self) -> tuple[int, dict[str, object]]:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"http://127.0.0.1:{self.health_port}/healthz")
        return response.status_code, response.json()

    async def wait_health(self, status: int, seconds: float) -> dict[str, object]:
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while True:
            if self.process.returncode is not None:
                raise AssertionError(f"relais run exited early:\n{self.output}")
            try:
                code, report = await self.health()
                if code == status:
                    return report
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"/healthz never said {status}:\n{self.output}"
            await asyncio.sleep(0.1)

    async def terminate(self) -> tuple[int, float]:
        """SIGTERM; returns the exit status and the seconds it took (killed after 20 s)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode, time.monotonic() - started

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_healthz_turns_503_while_telegram_is_down_and_the_outage_is_logged_once(
    settings: Settings, db: Database, sandbox: SandboxBotAPI, tmp_path: Path
) -> None:
    bot = Bot(settings, sandbox, tmp_path)
    await bot.start()
    try:
        report = await bot.wait_health(200, 90)  # start-up: slow on a busy machine
        assert report["checks"] == {
            "application": "ok",
            "database": "ok",
            "bot_api": "ok",
            "delivery": "ok",
        }

        sandbox.go_down()  # every call, the long poll included, gets 502 Bad Gateway
        report = await bot.wait_health(503, 20)
        checks = report["checks"]
        assert isinstance(checks, dict)
        assert checks["bot_api"].startswith("no answer from the Bot API for ")
        assert "getUpdates: HTTP 502" in checks["bot_api"]
        assert checks["database"] == "ok"

        sandbox.come_back()
        await bot.wait_health(200, 30)  # at PTB's next retry (its pause grows 1.5x a time)
    finally:
        code, _ = await bot.terminate()
    output = bot.output
    assert code == 0, output
    assert output.count("Telegram Bot API unreachable (getUpdates: HTTP 502") == 1, output
    back = [line for line in output.splitlines() if "Telegram Bot API answers again" in line]
    assert len(back) == 1, output
    failed = int(back[0].split(" after ")[1].split(" failed calls")[0])
    assert failed >= 1
    assert "level=WARNING" in back[0]
    assert "unhandled error" not in output
    assert "level=ERROR" not in output, output


async def _add_due_reminder(db: Database, cohort_member_id: int) -> None:
    """A session in 2 hours minus a minute: its 2-hour reminder is due now for the cohort."""
    now = datetime.now(UTC)
    async with db.unit_of_work() as session:
        cohort_id = await session.scalar(
            select(Enrolment.cohort_id).where(Enrolment.member_id == cohort_member_id)
        )
        assert cohort_id is not None
        session.add(
            TrainingSession(
                cohort_id=cohort_id,
                number=1,
                starts_at=now + timedelta(minutes=119),
                ends_at=now + timedelta(minutes=239),
                place="Salle du Conseil",
                theme="Vidéo et live",
                checkin_token="outage-test-token",
                created_at=now,
                updated_at=now,
            )
        )


async def _wait_for(db: Database, status: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (await outbox_counts(db))[status] == 0:
        assert time.monotonic() < deadline, f"no delivery became {status!r}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("outage", ["502", "gone", "silent"])
async def test_sigterm_during_an_outage_exits_within_5_s_and_hands_back_every_claim(
    outage: str, settings: Settings, db: Database, sandbox: SandboxBotAPI, tmp_path: Path
) -> None:
    recipients = await seed_recipients(db, sandbox, 40)
    bot = Bot(settings, sandbox, tmp_path)
    await bot.start()
    try:
        await bot.wait_health(200, 90)  # start-up: slow on a busy machine
        if outage == "502":
            sandbox.go_down()
        elif outage == "gone":
            await sandbox.stop()  # connections refused
        else:
            sandbox.set_latency(120)  # connections accepted, answers never come
        await _add_due_reminder(db, recipients[0].member_id)
        if outage == "silent":
            await _wait_for(db, "sending", 20)  # sends in the air, waiting for Telegram
        else:
            await _wait_for(db, "pending", 20)  # tried, failed, requeued for later
            await asyncio.sleep(1.0)  # the long poll has failed and is retrying
        code, seconds = await bot.terminate()
    finally:
        await bot.kill()
    output = bot.output
    print(f"\nstop during outage {outage!r}: exit {code} after {seconds:.2f} s")
    assert code == 0, output
    assert seconds <= STOP_LIMIT_SECONDS, output
    counts = await outbox_counts(db)
    assert counts["sending"] == 0, output
    # The outage is reported as such (WARNING), never as errors of the bot.
    assert "level=ERROR" not in output, output
    if outage == "silent":
        # The abandoned sends went back to the queue, their attempt counted.
        async with db.unit_of_work() as session:
            notes = list(await session.scalars(select(Delivery.last_error)))
        assert RECOVERED_NOTE in notes, output
        assert "abandoned, requeued" in output


async def test_sigterm_while_the_updater_still_retries_its_first_call_exits_within_5_s(
    settings: Settings, db: Database, sandbox: SandboxBotAPI, tmp_path: Path
) -> None:
    # getMe answers (the bot initialises), then deleteWebhook, the Updater's first call before
    # polling, fails again and again: the bot is initialised but not yet running.
    sandbox.inject_errors(status=502, count=1000, method="deleteWebhook")
    bot = Bot(settings, sandbox, tmp_path)
    await bot.start()
    try:
        report = await bot.wait_health(503, 90)  # the health server runs: post_init is done
        assert report["checks"]["application"] == "not running"  # type: ignore[index]
        await asyncio.sleep(0.5)  # a retry or two
        code, seconds = await bot.terminate()
    finally:
        await bot.kill()
    output = bot.output
    print(f"\nstop while starting: exit {code} after {seconds:.2f} s")
    assert code == 0, output
    assert seconds <= STOP_LIMIT_SECONDS, output
    assert "stop requested (SIGTERM)" in output
    assert "did not stop within" not in output
