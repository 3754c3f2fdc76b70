"""`relais transcripts [--check]`: the guides' conversations (bot/devtools/transcripts.py)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    transcripts = commands.add_parser(
        "transcripts",
        help="regenerate the conversations shown in the guides (docs/transcripts/)",
        description="Play the guides' conversations against the sandbox with the demo cohort "
        "and write them to docs/transcripts/*.md and into the guides' marked blocks.",
    )
    transcripts.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a transcript is stale"
    )
    transcripts.set_defaults(handler=cmd_transcripts)


def cmd_transcripts(args: argparse.Namespace) -> int:
    from bot.devtools.transcripts import transcripts_command

    return transcripts_command(check=args.check)
