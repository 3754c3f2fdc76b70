"""Starting Relais and looking after it: `relais run`, `migrate`, `doctor`, `backup`.

The `relais run` tests start the real command in a subprocess, against the sandbox Bot API
served by the test, on a database that was never migrated: it must migrate, start, answer a
user (by long polling, and by webhook with the secret header), serve /healthz, and stop
cleanly on SIGTERM - without the token ever appearing in what it prints.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bot.app import NotMigratedError, build_application
from bot.cli import main
from bot.cli.run import webhook_plan
from bot.config import Settings
from bot.migrate import head_revision
from bot.sandbox.server import SandboxBotAPI

from ..conftest import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
# Shaped like a real token, so that the log redaction is tested too.
TOKEN = "123456789:AAEsandboxTokenForStartupTests_0123456"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(home: Path, **settings: str) -> dict[str, str]:
    """A minimal environment: no setting leaks in from the machine running the tests."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **settings,
    }


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """In-process `main()` calls: an empty folder and no Relais setting in the environment."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def relais(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def relais_async(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main() in a thread, for commands that talk to the sandbox served by this event loop."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@asynccontextmanager
async def sandbox_with_bot() -> AsyncIterator[SandboxBotAPI]:
    async with SandboxBotAPI(flood_limits=False) as sandbox:
        sandbox.add_bot(TOKEN, username="relais_test_bot")
        yield sandbox


# --- settings and token ---------------------------------------------------------------------


def test_run_without_token_says_how_to_get_one(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for words in ("BOT_TOKEN is not set", "@BotFather", "/newbot", "BOT_TOKEN=", ".env.example"):
        assert words in result.stderr
    assert not (tmp_path / "relais.db").exists(), "nothing is created without a token"


def test_a_bad_setting_is_one_clear_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    code, _, err = relais(capsys, "run")
    assert code == 2
    assert err.strip().splitlines() == [
        "relais: invalid setting TIMEZONE: unknown time zone 'Mars/Olympus' (see .env.example)"
    ]
    assert not (workdir / "relais.db").exists()


def test_a_bad_webhook_url_is_a_setting_error(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "relais.example.be")
    code, _, err = relais(capsys, "run")
    assert code == 2
    assert "invalid setting WEBHOOK_URL" in err


async def test_build_application_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=sqlite_url(tmp_path / "empty.db"),
    )
    app = build_application(settings, start_engine=False)
    runtime = app.bot_data.runtime
    assert runtime is not None
    assert app.post_init is not None
    try:
        with pytest.raises(NotMigratedError, match=r"revision none.*run `relais migrate` first"):
            await app.post_init(app)
    finally:
        await runtime.db.dispose()


# --- migrate and doctor -----------------------------------------------------------------------


async def test_migrate_then_doctor_on_the_sandbox(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with sandbox_with_bot() as sandbox:
        monkeypatch.setenv("BOT_TOKEN", TOKEN)
        monkeypatch.setenv("ADMIN_IDS", "42")
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", sandbox.base_url)

        code, out, _ = await relais_async(capsys, "doctor", "--quick")
        assert code == 1
        assert "run `relais migrate`" in out
        assert not (workdir / "relais.db").exists(), "the doctor creates nothing"

        code, out, _ = await relais_async(capsys, "migrate")
        assert code == 0
        assert f"migrated from revision none (empty database) to {head_revision()}" in out
        code, out, _ = await relais_async(capsys, "migrate")
        assert (code, out.strip()) == (
            0,
            f"database schema is up to date (revision {head_revision()})",
        )

        code, out, err = await relais_async(capsys, "doctor")
        assert code == 0, out
        assert "FAIL" not in out
        assert f"schema: up to date (revision {head_revision()})" in out
        assert "the bot is @relais_test_bot" in out
        assert "webhook: polling mode" in out
        assert TOKEN not in out + err


async def test_doctor_reports_a_rejected_token(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with sandbox_with_bot() as sandbox:
        other = "987654321:AAEnotTheSandboxToken_abcdefghijklmnop"
        monkeypatch.setenv("BOT_TOKEN", other)
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", sandbox.base_url)
        assert (await relais_async(capsys, "migrate"))[0] == 0
        code, out, err = await relais_async(capsys, "doctor")
    assert code == 1
    assert "rejected BOT_TOKEN" in out
    assert "@BotFather" in out
    assert other not in out + err


def test_doctor_without_token_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = relais(capsys, "doctor", "--quick")
    assert code == 2
    assert "FAIL  BOT_TOKEN" in out
    assert "/newbot" in err


# --- backup -------------------------------------------------------------------------------------


def test_backup_copies_the_database(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert relais(capsys, "migrate")[0] == 0
    # A reader holding the database open (as the bot does) does not prevent the copy.
    live = sqlite3.connect(workdir / "relais.db")
    try:
        code, out, _ = relais(capsys, "backup", "--out", "copy.db")
    finally:
        live.close()
    assert code == 0, out
    assert "backup written: copy.db" in out
    copy = sqlite3.connect(workdir / "copy.db")
    try:
        assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        copy.close()

    code, _, err = relais(capsys, "backup", "--out", "copy.db")
    assert code == 1
    assert "already exists" in err
    assert relais(capsys, "backup", "--out", "copy.db", "--force")[0] == 0


def test_backup_without_a_database(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = relais(capsys, "backup", "--out", "copy.db")
    assert code == 1
    assert "there is no database at" in err
    assert not (workdir / "relais.db").exists()


def test_backup_on_postgresql_gives_the_pg_dump_command(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://relais:s3cret@db:5432/relais")
    code, out, err = relais(capsys, "backup", "--out", "relais.dump")
    assert code == 1  # nothing was written
    assert "pg_dump --format=custom --file=relais.dump 'postgresql://relais@db:5432/relais'" in err
    assert "pg_restore" in err
    assert "s3cret" not in out + err


# --- relais run --------------------------------------------------------------------------------


class RunningRelais:
    """`relais run` in a subprocess; its output goes to a file (a full pipe would block it)."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.log_path = workdir / "relais.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_healthy(self, health_port: int) -> dict[str, object]:
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + 30
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(f"relais run exited early:\n{self.output}")
                try:
                    response = await client.get(f"http://127.0.0.1:{health_port}/healthz")
                    if response.status_code == 200:
                        report: dict[str, object] = response.json()
                        return report
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"relais run never became healthy:\n{self.output}")
                await asyncio.sleep(0.1)

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "run"
    directory.mkdir()
    return directory


async def test_run_migrates_then_polls(run_dir: Path) -> None:
    health_port = free_port()
    async with sandbox_with_bot() as sandbox:
        env = clean_env(
            run_dir,
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=sandbox.base_url,
            HEALTH_PORT=str(health_port),
            LOG_LEVEL="DEBUG",  # the most verbose level must not leak the token either
        )
        bot = RunningRelais(run_dir, env)
        await bot.start()
        try:
            report = await bot.wait_healthy(health_port)
            assert report == {
                "status": "ok",
                "mode": "polling",
                "checks": {
                    "application": "ok",
                    "database": "ok",
                    "bot_api": "ok",
                    "delivery": "ok",
                },
            }
            alice = sandbox.user(1001, "Alice")
            await alice.send("/start")
            await alice.expect(timeout=10)
        finally:
            code = await bot.stop()
    output = bot.output
    assert code == 0, output
    assert f"database migrated from revision none (empty database) to {head_revision()}" in output
    assert "starting in polling mode" in output
    assert "Traceback" not in output
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output


async def test_run_with_a_rejected_token_says_so(run_dir: Path) -> None:
    other = "987654321:AAEnotTheSandboxToken_abcdefghijklmnop"
    async with sandbox_with_bot() as sandbox:
        env = clean_env(
            run_dir, BOT_TOKEN=other, TELEGRAM_API_BASE_URL=sandbox.base_url, HEALTH_PORT="0"
        )
        bot = RunningRelais(run_dir, env)
        await bot.start()
        assert bot.process is not None
        code = await asyncio.wait_for(bot.process.wait(), timeout=60)
    output = bot.output
    assert code == 1, output
    assert "relais: Telegram rejected BOT_TOKEN" in output
    # PTB logs the refusal (its traceback folded into one log line); nothing crashes.
    assert not any(line.startswith("Traceback") for line in output.splitlines())
    assert other not in output


async def test_run_in_webhook_mode_checks_the_secret(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    health_port, port = free_port(), free_port()
    webhook_url = f"http://127.0.0.1:{port}/relais"
    async with sandbox_with_bot() as sandbox:
        settings = {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": sandbox.base_url,
            "WEBHOOK_URL": webhook_url,
            "WEBHOOK_SECRET": "s3cret-header_value",
            "PORT": str(port),
            "HEALTH_PORT": str(health_port),
            "DATABASE_URL": sqlite_url(run_dir / "relais.db"),
        }
        bot = RunningRelais(run_dir, clean_env(run_dir, **settings))
        await bot.start()
        try:
            report = await bot.wait_healthy(health_port)
            assert report["mode"] == "webhook"
            plan = webhook_plan(
                Settings(_env_file=None, **{k.lower(): v for k, v in settings.items()})
            )  # type: ignore[call-arg]
            assert plan.webhook_url.startswith(f"{webhook_url}/telegram-")
            assert sandbox.bot(TOKEN).webhook is not None
            assert sandbox.bot(TOKEN).webhook.url == plan.webhook_url  # type: ignore[union-attr]

            # Telegram's POSTs (the sandbox sends the secret header) reach the bot.
            alice = sandbox.user(1002, "Alice")
            await alice.send("/start")
            await alice.expect(timeout=10)

            # Anyone else's are refused.
            update = b'{"update_id": 1}'
            json_type = {"Content-Type": "application/json"}
            async with httpx.AsyncClient(timeout=5) as client:
                no_secret = await client.post(plan.webhook_url, content=update, headers=json_type)
                wrong = await client.post(
                    plan.webhook_url,
                    content=update,
                    headers={**json_type, "X-Telegram-Bot-Api-Secret-Token": "guess"},
                )
                wrong_path = await client.post(
                    f"{webhook_url}/telegram",
                    content=update,
                    headers={**json_type, "X-Telegram-Bot-Api-Secret-Token": plan.secret_token},
                )
            assert no_secret.status_code == 403
            assert wrong.status_code == 403
            assert wrong_path.status_code == 404

            # The doctor agrees with the running bot.
            for name, value in settings.items():
                monkeypatch.setenv(name, value)
            monkeypatch.chdir(run_dir)
            code, out, _ = await relais_async(capsys, "doctor")
            assert "webhook: Telegram delivers updates to 127.0.0.1" in out
            # Only the http:// address (fine for the sandbox) would be a problem with Telegram.
            assert code == 0, out
        finally:
            code = await bot.stop()
    output = bot.output
    assert code == 0, output
    assert "starting in webhook mode" in output
    assert TOKEN not in output
