"""`relais content check [--dir D]`: check the tips and the curriculum (content/).

Each problem is printed with its file, line and field, then the tips per theme and language;
exit code 1 if anything is wrong. The rules themselves live in bot/content.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from bot.cli.common import EXIT_FAILURE, EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    content = commands.add_parser(
        "content",
        help="check the tips and the curriculum",
        description="Check every tip (content/tips/<lang>/*.md) and content/curriculum.yaml: "
        "print each problem with its file, line and field, then the tips per theme and "
        "language. Exit code 1 if anything is wrong.",
    )
    content.add_argument("action", choices=["check"])
    content.add_argument(
        "--dir", type=Path, default=None, help="the content folder (default: this installation's)"
    )
    content.set_defaults(handler=cmd_content)


def cmd_content(args: argparse.Namespace) -> int:
    return content_check_command(args.dir)


def content_check_command(directory: Path | None = None, out: TextIO | None = None) -> int:
    """Print each problem, then a summary. Exit code 1 on problems."""
    from bot.content import CONTENT_DIR, check, load, summary

    out = out or sys.stdout
    directory = directory or CONTENT_DIR
    problems = check(directory)
    for problem in problems:
        print(problem, file=out)
    if problems:
        print(file=out)
    print("\n".join(summary(directory)), file=out)
    print(f"challenges: {len(load(directory, strict=False).challenges)}", file=out)
    print(file=out)
    if problems:
        print(f"{len(problems)} problem(s) to fix.", file=out)
        return EXIT_FAILURE
    print("Content OK: every tip, challenge and the curriculum pass the check.", file=out)
    return EXIT_OK
