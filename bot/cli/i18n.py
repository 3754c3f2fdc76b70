"""`relais i18n update|check`: keep the translation catalogs in step with the code.

The catalog tooling (extraction with Babel, one catalog per area) is bot/devtools/catalogs.py.
"""

from __future__ import annotations

import argparse

from bot.cli.common import EXIT_FAILURE, EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    i18n = commands.add_parser("i18n", help="update or check the translation catalogs")
    i18n.add_argument("action", choices=["update", "check"])
    i18n.set_defaults(handler=cmd_i18n)


def cmd_i18n(args: argparse.Namespace) -> int:
    from bot.devtools.catalogs import check, update

    if args.action == "update":
        missing = update()
        for lang, ids in missing.items():
            for key in ids:
                print(f"{lang}: to translate: {key!r}")
        return EXIT_OK
    problems = check()
    for problem in problems:
        print(problem)
    print("catalogs OK" if not problems else f"{len(problems)} problem(s)")
    return EXIT_FAILURE if problems else EXIT_OK
