"""The `relais` command: run the bot and look after its installation.

    relais init                     first run: asks the token, the first cohort, the coordinator
    relais run                      migrate the database if needed, then run the bot
    relais migrate [--revision R]   upgrade the database schema (to the latest by default)
    relais doctor [--quick]         check settings, database, token and webhook; say what is wrong
    relais backup --out FILE        copy the SQLite database while the bot runs
    relais cohort create --name N --commune C
    relais outbox                   what the delivery outbox holds
    relais purge [--dry-run]        erase members inactive for RETENTION_DAYS (after a warning)
    relais audit [--cohort C]       who did what: staff actions and erasures
    relais export --cohort C --out FILE   a cohort's spreadsheet (id or join code -> .xlsx)
    relais bilan --cohort C --out FILE    the programme's impact report (A4 PDF, aggregates)
    relais i18n update|check        keep the translation catalogs in step with the code
    relais content check [--dir D]  check the tips and the curriculum (content/)
    relais try                      chat with Relais in the terminal, on a simulated Telegram
    relais flyer --cohort C --out F   a printable A4 poster with the cohort's join QR code
    relais transcripts [--check]    regenerate the conversations shown in docs/ (from the sandbox)

One module per subcommand group, each with `register(commands)` (its flags) and its `cmd_*`
function(s); common.py holds the exit codes, `CliError` and the settings and database
helpers. Every module is imported to build the parser, so a module imports what only its
command needs (the models, the services, telegram) inside that command: `relais --help`
stays fast.

Exit codes: 0 success, 1 something failed (said in plain words on stderr), 2 the
configuration or the command line is wrong (missing BOT_TOKEN, bad setting, unknown option).
Nothing here prints a traceback for a mistake a person can fix; the token is never printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.cli import (
    backup,
    bilan,
    cohort,
    content,
    doctor,
    export,
    flyer,
    i18n,
    init,
    outbox,
    privacy,
    run,
    transcripts,
    tryout,
)
from bot.cli.common import EXIT_CONFIG, CliError

# In the order `relais --help` lists their commands.
GROUPS = (
    init,
    run,
    doctor,
    backup,
    cohort,
    export,
    bilan,
    outbox,
    privacy,
    i18n,
    content,
    tryout,
    flyer,
    transcripts,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais",
        description="Relais: the Telegram bot that keeps merchants going between sessions.",
        epilog="Settings come from the environment and from ./.env (see .env.example).",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    try:
        return handler(args)
    except CliError as exc:
        print(f"relais: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
