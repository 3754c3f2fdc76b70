"""`relais init` on an empty folder, as a newcomer runs it: with flags, then with answers piped
in; re-running destroys and doubles nothing; then the bot starts with the written settings
and the person holding the printed setup code becomes coordinator in Telegram.

`relais init` runs in a subprocess (cwd = an empty folder, no BOT_TOKEN in its environment)
and checks the token against the sandbox Bot API (TELEGRAM_API_BASE_URL).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dotenv import dotenv_values
from sqlalchemy import func, select

from bot.cli.init import EXAMPLE
from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.models import Cohort, SetupCode, StaffRole
from bot.sandbox.server import SandboxBotAPI
from tests.conftest import TEST_DATABASE_URL
from tests.e2e.harness import Harness

TOKEN = "987654:INIT-TEST-TOKEN"
BOT = "relais_init_bot"
SETUP_LINK = re.compile(rf"https://t\.me/{BOT}\?start=(setup_[A-Z0-9]+)")
# Settings that must not leak from the developer's environment into the subprocess.
SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields}


@dataclass
class Install:
    folder: Path
    sandbox: SandboxBotAPI

    @property
    def env_file(self) -> Path:
        return self.folder / ".env"

    def database_url(self) -> str:
        return TEST_DATABASE_URL or f"sqlite+aiosqlite:///{self.folder / 'relais.db'}"

    async def init(self, *flags: str, stdin: str = "") -> tuple[int, str, str]:
        env = {k: v for k, v in os.environ.items() if k.upper() not in SETTINGS_VARIABLES}
        env["TELEGRAM_API_BASE_URL"] = self.sandbox.base_url
        if TEST_DATABASE_URL:
            env["DATABASE_URL"] = TEST_DATABASE_URL
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from bot.cli import main; raise SystemExit(main())",  # what `relais` runs
            "init",
            *flags,
            cwd=self.folder,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def cohorts(self) -> list[tuple[str, str, str]]:
        db = Database(self.database_url())
        try:
            async with db.unit_of_work() as session:
                rows = await session.execute(
                    select(Cohort.name, Cohort.commune, Cohort.join_code).order_by(Cohort.id)
                )
                return [tuple(row) for row in rows]  # type: ignore[misc]
        finally:
            await db.dispose()


@pytest.fixture
async def install(tmp_path: Path, db: Database) -> AsyncIterator[Install]:
    """An empty folder and a sandbox Bot API that knows the token (`db` empties PostgreSQL)."""
    folder = tmp_path / "installation"
    folder.mkdir()
    async with SandboxBotAPI(flood_limits=False) as sandbox:
        sandbox.add_bot(TOKEN, username=BOT, first_name="Relais")
        yield Install(folder, sandbox)


FLAGS = (
    "--token",
    TOKEN,
    "--org",
    "Commune d'Estaimpuis",
    "--contact",
    "info@estaimpuis.be",
    "--cohort-name",
    "Estaimpuis 2026",
    "--commune",
    "Estaimpuis",
)


async def test_init_with_flags_then_again_destroys_nothing_and_the_code_works(
    install: Install, clock: ManualClock
) -> None:
    code, out, err = await install.init(*FLAGS, "--yes")
    assert code == 0, err
    assert f"Jeton accepté par Telegram : le bot est @{BOT}." in out
    link = SETUP_LINK.search(out)
    assert link is not None, out
    values = dotenv_values(install.env_file)
    assert values["BOT_TOKEN"] == TOKEN
    assert values["ORGANISATION_NAME"] == "Commune d'Estaimpuis"
    assert values["ORGANISATION_CONTACT"] == "info@estaimpuis.be"
    assert not values.get("ADMIN_IDS")
    text = install.env_file.read_text()
    assert "# --- Telegram" in text  # written from .env.example, explanations included
    assert stat.S_IMODE(install.env_file.stat().st_mode) == 0o600  # it holds the token
    cohorts = await install.cohorts()
    assert [c[:2] for c in cohorts] == [("Estaimpuis 2026", "Estaimpuis")]
    if not TEST_DATABASE_URL:
        assert (install.folder / "relais.db").exists()

    # Someone adds a setting by hand; init again, answering every question with Enter.
    install.env_file.write_text(text + "LOG_LEVEL=DEBUG\n")
    code, out, err = await install.init(stdin="\n" * 6)
    assert code == 0, err
    assert "rien de changé" in out
    assert "Groupe : « Estaimpuis 2026 » (Estaimpuis), déjà là" in out
    again = SETUP_LINK.search(out)
    assert again is not None
    assert again.group(1) == link.group(1)  # the same code, still unused
    values = dotenv_values(install.env_file)
    assert values["LOG_LEVEL"] == "DEBUG"
    assert values["BOT_TOKEN"] == TOKEN
    assert await install.cohorts() == cohorts  # same cohort, same join code: nothing doubled

    # The bot starts with the written settings; whoever opens the link coordinates.
    settings = Settings(_env_file=install.env_file)  # type: ignore[call-arg]
    settings = settings.model_copy(
        update={
            "database_url": install.database_url(),
            "telegram_api_base_url": install.sandbox.base_url,
        }
    )
    assert settings.token == TOKEN
    assert settings.organisation_name == "Commune d'Estaimpuis"
    relais = Harness(install.sandbox, settings, Database(settings.database_url), clock)
    await relais.start()
    try:
        claire = relais.sim.user(555_001, "Claire")
        await claire.follow(link.group(0))
        await claire.expect("vous coordonnez le groupe Estaimpuis 2026")
        await claire.send("/inviter")
        invite = await claire.expect("Lien d'inscription", kind="photo")
        assert f"https://t.me/{BOT}?start=join_{cohorts[0][2]}" in invite.text
        await claire.send("/privacy")
        await claire.expect("Commune d'Estaimpuis")
    finally:
        await relais.stop()

    # Once someone coordinates, init prints no code any more.
    code, out, err = await install.init("--yes")
    assert code == 0, err
    assert SETUP_LINK.search(out) is None
    async with relais.session() as session:
        roles = (await session.scalars(select(StaffRole.role))).all()
        unused = await session.scalar(
            select(func.count(SetupCode.code)).where(SetupCode.used_at.is_(None))
        )
    assert roles == ["coordinator"]
    assert unused == 0


async def test_init_with_answers_piped_in(install: Install) -> None:
    # As `./relais init` does: the wrapper copies .env.example to .env first.
    shutil.copyfile(EXAMPLE, install.env_file)
    install.env_file.chmod(0o644)
    answers = f"{TOKEN}\nCommune de Mouscron\nsmart@mouscron.be\nMouscron 2027\nMouscron\n4242\n"
    code, out, err = await install.init(stdin=answers)
    assert code == 0, err
    assert stat.S_IMODE(install.env_file.stat().st_mode) == 0o600
    assert "Coordination : 4242 (ADMIN_IDS)" in out
    assert SETUP_LINK.search(out) is None  # a coordinator is named: no setup code
    assert TOKEN not in out  # the token is never echoed
    values = dotenv_values(install.env_file)
    assert (values["BOT_TOKEN"], values["ADMIN_IDS"]) == (TOKEN, "4242")
    assert values["ORGANISATION_NAME"] == "Commune de Mouscron"
    assert [c[:2] for c in await install.cohorts()] == [("Mouscron 2027", "Mouscron")]

    # A second coordinator and a second cohort: added, nothing replaced.
    code, out, err = await install.init(stdin="\n\n\nMouscron 2028\nMouscron\n5151\n")
    assert code == 0, err
    assert dotenv_values(install.env_file)["ADMIN_IDS"] == "4242,5151"
    assert [c[0] for c in await install.cohorts()] == ["Mouscron 2027", "Mouscron 2028"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--token", "not-a-token"), "--token : ce n'est pas un jeton de bot"),
        (("--token", "123456:UNKNOWN-TOKEN"), "Telegram refuse ce jeton"),
        (("--admin-id", "claire"), "--admin-id : un identifiant Telegram est un nombre"),
        (("--cohort-name", "Estaimpuis 2026"), "il manque la commune du nouveau groupe"),
    ],
)
async def test_wrong_flags_are_explained_and_write_nothing(
    install: Install, flags: tuple[str, ...], message: str
) -> None:
    code, _, err = await install.init(*flags, "--yes")
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not install.env_file.exists()
