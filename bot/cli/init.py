"""`relais init`: the first run, for a commune's staff or a volunteer trainer (in French).

It asks six questions, writes the answers into `.env`, migrates the database, creates the
first cohort and, when no coordinator is named, prints a one-time setup code:

    1. the bot's token (from @BotFather; checked with getMe when Telegram answers)
    2. the organisation's name  3. its contact       (the privacy notice, /privacy)
    4. the first cohort's name  5. its commune
    6. the coordinator's Telegram id (empty: a setup code, `/start setup_<code>`)

Answers come from the flags (`--token --org --contact --cohort-name --commune --admin-id`),
then from stdin: typed at a terminal, or piped one per line in that order (a flag's question
is not asked; an empty line or the end of the input keeps the value shown in brackets).
`--yes` asks nothing: flags, then what `.env` and the database already hold.

Re-running is safe: `.env` keeps every line it does not ask about (comments included), the
database is migrated, never dropped, and a cohort of the same name is reused, not doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from dotenv import dotenv_values

from bot.cli.cohort import create_with_settings
from bot.cli.common import (
    EXIT_CONFIG,
    CliError,
    load_settings,
    open_database,
    safe_url,
    short_lived_bot,
)
from bot.cli.run import migrate_or_explain
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.services.validation import InvalidValue, clean_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{5,}$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.,:/@+=-]*$")
TEXT_MAX = 120  # organisation name and contact (one line of the privacy notice)

BOTFATHER = """\
     Dans Telegram, écrivez à @BotFather : /newbot, puis un nom (« Relais Estaimpuis ») et
     un identifiant qui finit par « bot ». Il répond avec un jeton (123456789:AAE…) : collez-le."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = commands.add_parser(
        "init",
        help="first run: token, privacy notice, first cohort, first coordinator",
        description="Ask six questions (the bot's token, the organisation's name and contact, "
        "the first cohort's name and commune, the coordinator's Telegram id), write .env, "
        "migrate the database and create the cohort. Without a coordinator id it prints a "
        "one-time setup code. Answers may be piped, one per line in that order. Re-running "
        "keeps .env's other lines and never drops the database nor doubles the cohort.",
    )
    init.add_argument("--token", help="the bot's token from @BotFather")
    init.add_argument("--org", help="the organisation's name (privacy notice)")
    init.add_argument("--contact", help="how to reach it about personal data")
    init.add_argument("--cohort-name", help='the first cohort, e.g. "Estaimpuis 2026"')
    init.add_argument("--commune", help='where its sessions take place, e.g. "Estaimpuis"')
    init.add_argument("--admin-id", help="the coordinator's Telegram user id (else a setup code)")
    init.add_argument("--yes", action="store_true", help="ask nothing: flags, then current values")
    init.set_defaults(handler=cmd_init)


def wrong(message: str) -> CliError:
    """A wrong answer or flag, said in plain words (exit code 2)."""
    return CliError(message, EXIT_CONFIG)


# --- .env ----------------------------------------------------------------------------------


def _quoted(value: str) -> str:
    """A value as python-dotenv (and Docker Compose) read it back unchanged."""
    if _PLAIN_VALUE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class EnvFile:
    """`.env` as lines: setting a key replaces its line (or uncomments the example's), else
    appends it. Every other line, comments included, is kept as it is."""

    path: Path
    lines: list[str] = field(default_factory=list)
    existed: bool = False

    @classmethod
    def load(cls, path: Path, example: Path = EXAMPLE) -> EnvFile:
        if path.exists():
            return cls(path, path.read_text(encoding="utf-8").splitlines(), existed=True)
        lines = example.read_text(encoding="utf-8").splitlines() if example.exists() else []
        if not lines:
            lines = ["# Relais settings (see .env.example in the Relais repository)."]
        return cls(path, lines)

    def values(self) -> dict[str, str]:
        """The active values, parsed as Relais will read them."""
        from io import StringIO

        parsed = dotenv_values(stream=StringIO("\n".join(self.lines) + "\n"))
        return {key: value for key, value in parsed.items() if value is not None}

    def get(self, key: str) -> str | None:
        value = self.values().get(key)
        return value if value else None

    def set(self, key: str, value: str) -> None:
        line = f"{key}={_quoted(value)}"
        active = re.compile(rf"^\s*(export\s+)?{re.escape(key)}\s*=")
        commented = re.compile(rf"^\s*#\s*{re.escape(key)}\s*=")
        for pattern in (active, commented):
            for index, existing in enumerate(self.lines):
                if pattern.match(existing):
                    self.lines[index] = line
                    return
        self.lines.append(line)

    def save(self) -> None:
        self.path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        self.existed = True
        if self.get("BOT_TOKEN"):
            # It holds the token: readable by its owner only (a copy of .env.example is not).
            mode = self.path.stat().st_mode & 0o777
            if mode & 0o077:
                self.path.chmod(mode & 0o700)


# --- questions -----------------------------------------------------------------------------


class Asker:
    """Asks at a terminal, reads piped lines, or (with --yes) asks nothing."""

    def __init__(self, stdin: TextIO, out: TextIO, *, assume_yes: bool) -> None:
        self.stdin = stdin
        self.out = out
        self.assume_yes = assume_yes
        self.interactive = not assume_yes and stdin.isatty()
        self.exhausted = False

    def ask(
        self, prompt: str, default: str | None, *, secret: bool = False, shown: str = ""
    ) -> str:
        """The answer, or `default` for an empty answer ("" when there is none)."""
        if self.assume_yes:
            return default or ""
        hint = shown or default or ""
        question = f"{prompt}{f' [{hint}]' if hint else ''} : "
        if self.interactive:
            answer = getpass.getpass(question) if secret else input(question)
        else:
            self.out.write(question)
            line = "" if self.exhausted else self.stdin.readline()
            if not line:
                self.exhausted = True
            answer = line.strip()
            self.out.write(("•" * min(len(answer), 8) if secret else answer) + "\n")
        answer = answer.strip()
        return answer or default or ""

    def ask_valid(
        self,
        prompt: str,
        default: str | None,
        check: Callable[[str], str | None],
        *,
        secret: bool = False,
        shown: str = "",
    ) -> str:
        """Ask until `check` (which returns an error or None) accepts; at a terminal only."""
        problem = "réponse non valable"
        for _ in range(5):
            answer = self.ask(prompt, default, secret=secret, shown=shown)
            found = check(answer)
            if found is None:
                return answer
            problem = found
            if not self.interactive:
                raise wrong(problem)
            self.out.write(f"    {problem}\n")
        raise wrong(problem)


def check_token(value: str) -> str | None:
    if not value or _TOKEN.match(value):
        return None
    return (
        "ce n'est pas un jeton de bot : il ressemble à 123456789:AAE… (des chiffres, « : », "
        "puis des lettres). Recopiez-le depuis @BotFather (/mybots, votre bot, API Token)."
    )


def _text_check(what: str, limit: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not value:
            return None
        try:
            clean_text(value, max_length=limit)
        except InvalidValue:
            return f"{what} : {limit} caractères au maximum, s'il vous plaît."
        return None

    return check


def check_admin_id(value: str) -> str | None:
    if not value or (value.isdigit() and 0 < int(value) < 10**15):
        return None
    return (
        "un identifiant Telegram est un nombre (par exemple 123456789) ; "
        "demandez le vôtre à @userinfobot, ou laissez vide pour un code de démarrage."
    )


# --- Telegram and the database --------------------------------------------------------------


async def bot_username(token: str, base_url: str) -> str:
    """The bot's @username from getMe; InitError if Telegram refuses the token.

    Raises OSError-like `ConnectionError` when the Bot API cannot be reached.
    """
    from telegram.error import InvalidToken, NetworkError, TelegramError

    bot = short_lived_bot(token, base_url)
    try:
        me = await bot.get_me()
    except InvalidToken:
        raise wrong(
            "Telegram refuse ce jeton. Recopiez-le depuis @BotFather (/mybots, votre bot, "
            "API Token) ; s'il a été révoqué, prenez le nouveau."
        ) from None
    except (NetworkError, TelegramError) as exc:
        raise ConnectionError(str(exc).replace(token, "<token>")) from None
    if not me.username:  # pragma: no cover - every bot has a username
        raise ConnectionError("getMe gave no username")
    return me.username


@dataclass(frozen=True)
class DatabaseState:
    first_name: str | None
    first_commune: str | None
    cohort_count: int
    names: frozenset[str]  # of the open cohorts, lower case


async def read_database(url: str) -> DatabaseState:
    from sqlalchemy import select

    from bot.models import Cohort
    from bot.services import setup as setup_codes

    async with open_database(url) as db, db.unit_of_work() as session:
        first = await setup_codes.first_cohort(session)
        names = (
            await session.scalars(select(Cohort.name).where(Cohort.archived_at.is_(None)))
        ).all()
    return DatabaseState(
        first.name if first else None,
        first.commune if first else None,
        len(names),
        frozenset(name.lower() for name in names),
    )


@dataclass(frozen=True)
class Outcome:
    cohort_name: str | None
    cohort_commune: str | None
    join_code: str | None
    created: bool
    setup_code: str | None


async def apply(settings: Settings, name: str, commune: str, *, clock: Clock) -> Outcome:
    """Create the cohort unless an open one of that name exists; a setup code if needed."""
    from sqlalchemy import func, select

    from bot.models import Cohort
    from bot.services import setup as setup_codes
    from bot.services.cohorts import NAME_MAX

    now = clock.now()
    async with open_database(settings.database_url) as db, db.unit_of_work() as session:
        cohort = None
        created = False
        if name:
            cohort = await session.scalar(
                select(Cohort)
                .where(
                    func.lower(Cohort.name) == clean_text(name, max_length=NAME_MAX).lower(),
                    Cohort.archived_at.is_(None),
                )
                .order_by(Cohort.id)
                .limit(1)
            )
            if cohort is None and not commune:
                raise wrong("il manque la commune du nouveau groupe (--commune)")
            if cohort is None:
                cohort = await create_with_settings(session, settings, name, commune, now)
                created = True
        first = await setup_codes.first_cohort(session)
        code = None
        if settings.admin_ids or await setup_codes.has_coordinator(session):
            # Someone coordinates: a code left from an earlier run must not work any more.
            await setup_codes.retire_codes(session, now)
        elif first is not None:
            code = await setup_codes.issue_code(session, now)
        shown = cohort or first
        return Outcome(
            shown.name if shown else None,
            shown.commune if shown else None,
            shown.join_code if shown else None,
            created,
            code,
        )


# --- the command ----------------------------------------------------------------------------


@dataclass
class Flags:
    token: str | None = None
    org: str | None = None
    contact: str | None = None
    cohort_name: str | None = None
    commune: str | None = None
    admin_id: str | None = None
    yes: bool = False


def _given(flag: str | None, ask: Callable[[], str]) -> str:
    return flag.strip() if flag is not None else ask()


def validate_flags(flags: Flags) -> None:
    """Refuse a wrong flag before anything is touched."""
    from bot.services.cohorts import COMMUNE_MAX, NAME_MAX

    checks: tuple[tuple[str, str | None, Callable[[str], str | None]], ...] = (
        ("--token", flags.token, check_token),
        ("--org", flags.org, _text_check("nom", TEXT_MAX)),
        ("--contact", flags.contact, _text_check("contact", TEXT_MAX)),
        ("--cohort-name", flags.cohort_name, _text_check("nom du groupe", NAME_MAX)),
        ("--commune", flags.commune, _text_check("commune", COMMUNE_MAX)),
        ("--admin-id", flags.admin_id, check_admin_id),
    )
    for label, value, check in checks:
        problem = check(value.strip()) if value is not None else None
        if problem:
            raise wrong(f"{label} : {problem}")


def _settle_token(
    flags: Flags,
    asker: Asker,
    settings: Settings,
    current: dict[str, str],
    write: Callable[[str], object],
) -> tuple[str, str | None]:
    """(the token to write, "" to keep .env's; the bot's username if Telegram said it)."""
    has_token = bool(current.get("BOT_TOKEN") or settings.token)
    for _ in range(5):
        token = _given(
            flags.token,
            lambda: asker.ask_valid(
                "     Jeton",
                None,
                check_token,
                secret=True,
                shown="Entrée : garder celui de .env" if has_token else "",
            ),
        )
        check_with = token or settings.token or ""
        if not check_with:
            write("     Pas de jeton pour l'instant : ajoutez BOT_TOKEN=… dans .env plus tard.\n")
            return token, None
        try:
            username = asyncio.run(bot_username(check_with, settings.telegram_api_base_url))
        except ConnectionError as exc:
            write(f"     (Telegram ne répond pas : jeton non vérifié. {exc})\n")
            return token, None
        except CliError as exc:
            if flags.token is not None or not asker.interactive:
                raise
            write(f"     {exc}\n")
            continue
        write(f"     Jeton accepté par Telegram : le bot est @{username}.\n")
        return token, username
    raise wrong("Telegram refuse ce jeton.")


def run_init(
    flags: Flags,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    clock: Clock | None = None,
) -> int:
    """`relais init`; returns the exit code (CliError for a wrong answer or flag)."""
    from bot.services import setup as setup_codes
    from bot.services.cohorts import COMMUNE_MAX, NAME_MAX

    validate_flags(flags)
    out = out or sys.stdout
    asker = Asker(stdin or sys.stdin, out, assume_yes=flags.yes)
    env = EnvFile.load(Path(".env"))
    current = env.values()
    write = out.write

    write("Relais — première installation. Entrée garde la valeur entre crochets.\n\n")
    # The database first: where it is does not depend on the answers, and what it holds
    # (an existing cohort) gives the defaults.
    settings = load_settings()
    before, after = migrate_or_explain(settings)
    done = "créée" if before is None else ("à jour" if before == after else "mise à jour")
    write(f"Base de données : {safe_url(settings.database_url)} ({done}).\n\n")
    state = asyncio.run(read_database(settings.database_url))

    # 1. The token.
    write("1/6  Le jeton du bot (token).\n" + BOTFATHER + "\n")
    token, username = _settle_token(flags, asker, settings, current, write)

    # 2-3. The privacy notice.
    write("\n2/6  Le nom de l'organisation qui gère le bot (affiché dans /privacy).\n")
    org = _given(
        flags.org,
        lambda: asker.ask_valid(
            "     Organisation", current.get("ORGANISATION_NAME"), _text_check("Nom", TEXT_MAX)
        ),
    )
    write("3/6  Son contact pour les questions sur les données (e-mail ou téléphone).\n")
    contact = _given(
        flags.contact,
        lambda: asker.ask_valid(
            "     Contact", current.get("ORGANISATION_CONTACT"), _text_check("Contact", TEXT_MAX)
        ),
    )

    # 4-5. The first cohort.
    write("\n4/6  Le nom du premier groupe de formation (par ex. « Estaimpuis 2026 »).\n")
    name = _given(
        flags.cohort_name,
        lambda: asker.ask_valid(
            "     Groupe", state.first_name, _text_check("Nom du groupe", NAME_MAX)
        ),
    )
    write("5/6  La commune où ont lieu les séances.\n")
    commune = _given(
        flags.commune,
        lambda: asker.ask_valid(
            "     Commune", state.first_commune, _text_check("Commune", COMMUNE_MAX)
        ),
    )

    while name and not commune and name.lower() not in state.names:
        if flags.commune is not None or not asker.interactive:
            raise wrong("il manque la commune du nouveau groupe (--commune)")
        commune = asker.ask_valid("     Commune", None, _text_check("Commune", COMMUNE_MAX))

    # 6. The first coordinator.
    admins = [part.strip() for part in (current.get("ADMIN_IDS") or "").split(",") if part.strip()]
    write(
        "\n6/6  Votre identifiant Telegram, pour être coordinateur (demandez-le à @userinfobot).\n"
        "     Laissez vide : un code de démarrage s'affichera, à envoyer au bot.\n"
    )
    admin = _given(
        flags.admin_id,
        lambda: asker.ask_valid(
            "     Identifiant", None, check_admin_id, shown=", ".join(admins) or ""
        ),
    )
    if admin and admin not in admins:
        admins.append(admin)

    # Write .env: only what was answered; everything else stays as it was.
    changed = []
    for key, value in (
        ("BOT_TOKEN", token),
        ("ORGANISATION_NAME", org),
        ("ORGANISATION_CONTACT", contact),
        ("ADMIN_IDS", ",".join(admins)),
    ):
        if value and env.get(key) != value:
            env.set(key, value)
            changed.append(key)
    if changed or not env.existed:
        env.save()
    settings = load_settings()

    outcome = asyncio.run(apply(settings, name, commune, clock=clock or SystemClock()))

    # What happened, and what to do next.
    write("\nC'est prêt ✅\n")
    saved = ", ".join(changed) if changed else "rien de changé"
    write(f"  .env : {env.path.resolve()} ({saved})\n")
    if outcome.cohort_name:
        verb = "créé" if outcome.created else "déjà là"
        write(
            f"  Groupe : « {outcome.cohort_name} » ({outcome.cohort_commune}), {verb}, "
            f"code d'inscription {outcome.join_code}\n"
        )
        if state.cohort_count and outcome.created:
            write("  (les groupes existants sont gardés)\n")
    else:
        write("  Pas encore de groupe : relancez `relais init` avec un nom et une commune.\n")
    link_base = f"https://t.me/{username}" if username else "https://t.me/<votre_bot>"
    if outcome.setup_code:
        link = f"{link_base}?start={setup_codes.setup_payload(outcome.setup_code)}"
        write(
            "\nPour devenir coordinateur, une fois le bot démarré : ouvrez ce lien sur votre "
            f"téléphone\n  {link}\nou envoyez au bot : /setup {outcome.setup_code}\n"
            "La première personne qui l'utilise coordonne le groupe ; le code ne sert "
            "qu'une fois.\n"
        )
        if username and hasattr(out, "isatty") and out.isatty():
            _print_qr(link, out)
    elif settings.admin_ids:
        ids = ", ".join(str(i) for i in settings.admin_ids)
        write(f"\nCoordination : {ids} (ADMIN_IDS). Dans Telegram, écrivez /inviter au bot.\n")
    wrapper = "./relais" if Path("relais").is_file() else "relais"
    if settings.token:
        write(f"\nDémarrez le bot : {wrapper} run\n")
    else:
        write(f"\nAjoutez BOT_TOKEN dans .env, puis démarrez le bot : {wrapper} run\n")
    return 0


def _print_qr(link: str, out: TextIO) -> None:
    """The link as a QR code in the terminal, to open it with a phone's camera."""
    import segno

    out.write("\n")
    segno.make(link, error="m").terminal(out=out, compact=True)


def setup_code_notice(settings: Settings, *, clock: Clock | None = None) -> str | None:
    """For `relais run`: the setup code to print while nobody coordinates, else None."""
    from bot.services import setup as setup_codes

    async def find() -> str | None:
        async with open_database(settings.database_url) as db, db.unit_of_work() as session:
            if settings.admin_ids or await setup_codes.has_coordinator(session):
                return None
            if await setup_codes.first_cohort(session) is None:
                return ""
            return await setup_codes.issue_code(session, (clock or SystemClock()).now())

    code = asyncio.run(find())
    if code is None:
        return None
    if code == "":
        return (
            "no coordinator and no cohort yet: run `relais init` (it asks six questions and "
            "prints a setup code), or put your Telegram id in ADMIN_IDS"
        )
    return (
        f"no coordinator yet: send /setup {code} to the bot in Telegram (or open "
        f"https://t.me/<your_bot>?start=setup_{code}); the first person to do it becomes "
        "coordinator of the first cohort. Or put your Telegram id in ADMIN_IDS."
    )


def cmd_init(args: argparse.Namespace) -> int:
    """Entry point of `relais init` (the flags are in `register` above)."""
    flags = Flags(
        token=args.token,
        org=args.org,
        contact=args.contact,
        cohort_name=args.cohort_name,
        commune=args.commune,
        admin_id=args.admin_id,
        yes=args.yes,
    )
    try:
        return run_init(flags)
    except EOFError:
        raise CliError("interrompu : rien n'a été écrit dans .env") from None
