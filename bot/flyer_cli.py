"""`relais flyer --cohort <id or join code> --out flyer.pdf`: the cohort's poster for the room.

The join link needs the bot's username: `--bot` gives it, otherwise Telegram is asked
(getMe with BOT_TOKEN). The PDF is the one `/inviter` sends (bot/services/flyer.py).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.cli import EXIT_CONFIG, CliError
from bot.config import Settings
from bot.db import Database
from bot.i18n import I18n
from bot.services.cohorts import find_by_ref
from bot.services.flyer import flyer_text, join_url, render_flyer


async def _username(settings: Settings) -> str:
    from bot.init_cli import bot_username

    token = settings.token
    if not token:
        raise CliError(
            "the join link needs the bot's username: give it with --bot (e.g. "
            "--bot relais_estaimpuis_bot), or set BOT_TOKEN so that Telegram can be asked",
            EXIT_CONFIG,
        )
    try:
        return await bot_username(token, settings.telegram_api_base_url)
    except ConnectionError as exc:
        raise CliError(f"cannot ask Telegram for the bot's username ({exc}): use --bot") from None


async def _flyer(settings: Settings, ref: str, bot: str | None) -> tuple[str, bytes] | None:
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as session:
            cohort = await find_by_ref(session, ref, include_archived=True)
            if cohort is None:
                return None
            name, commune, code, language = (
                cohort.name,
                cohort.commune,
                cohort.join_code,
                cohort.language,
            )
    finally:
        await db.dispose()
    username = (bot or "").lstrip("@") or await _username(settings)
    i18n = I18n(default_language=settings.default_language, default_zone=settings.timezone)
    text = flyer_text(i18n(language), programme=name, commune=commune, url=join_url(username, code))
    return name, render_flyer(text)


def flyer_command(
    settings: Settings, ref: str, out: str | Path, *, bot_username: str | None
) -> int:
    """Write the PDF; exit code 0 when written, 1 when the cohort is unknown."""
    path = Path(out)
    if not path.parent.exists():
        raise CliError(f"the folder {path.parent.resolve()} does not exist")
    found = asyncio.run(_flyer(settings, ref, bot_username))
    if found is None:
        raise CliError(f"no cohort with id or join code {ref!r}")
    name, pdf = found
    path.write_bytes(pdf)
    print(f"Wrote {path} ({len(pdf)} bytes): the flyer of cohort {name!r}.", file=sys.stdout)
    return 0
