"""`relais flyer --cohort <id or join code> --out flyer.pdf`: the cohort's poster for the room.

The join link needs the bot's username: `--bot` gives it, otherwise Telegram is asked
(getMe with BOT_TOKEN). The PDF is the one `/inviter` sends (bot/services/flyer.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli.common import EXIT_CONFIG, CliError, load_settings, open_database
from bot.config import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    flyer = commands.add_parser(
        "flyer",
        help="write a cohort's printable A4 poster (PDF) with its join QR code",
        description="A printable A4 PDF for the room: the cohort's and commune's names, the "
        "join QR code, three illustrated steps and the link written out.",
    )
    flyer.add_argument("--cohort", required=True, help="the cohort's id or join code")
    flyer.add_argument("--out", required=True, metavar="FILE", help="the .pdf file to write")
    flyer.add_argument(
        "--bot", metavar="USERNAME", help="the bot's username (default: asked to Telegram, getMe)"
    )
    flyer.set_defaults(handler=cmd_flyer)


def cmd_flyer(args: argparse.Namespace) -> int:
    return flyer_command(load_settings(), args.cohort, args.out, bot_username=args.bot)


async def _username(settings: Settings) -> str:
    from bot.cli.init import bot_username

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
    from bot.i18n import I18n
    from bot.services.cohorts import find_by_ref
    from bot.services.flyer import flyer_text, join_url, render_flyer

    async with open_database(settings.database_url) as db, db.unit_of_work() as session:
        cohort = await find_by_ref(session, ref, include_archived=True)
        if cohort is None:
            return None
        name, commune, code, language = (
            cohort.name,
            cohort.commune,
            cohort.join_code,
            cohort.language,
        )
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
