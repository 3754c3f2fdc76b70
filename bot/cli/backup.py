"""`relais backup --out FILE`: copy the SQLite database while the bot runs.

For PostgreSQL nothing is copied: the command prints the pg_dump and pg_restore lines to use
and exits 1, so that a script never believes a backup was made.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CliError,
    load_settings,
    sqlite_path,
    uses_sqlite,
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database to a file (PostgreSQL: prints the pg_dump command)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copy the SQLite database to FILE, safely while the bot runs.",
        epilog="Restore: stop the bot, delete the database file and its -wal and -shm\n"
        "companions, copy the backup in its place, start the bot (`relais run` migrates\n"
        "a backup made by an older version).",
    )
    backup.add_argument("--out", required=True, metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.set_defaults(handler=cmd_backup)


def pg_dump_hint(url: str, out: str) -> str:
    parsed = make_url(url)
    # libpq's URL form, without the driver name nor the password (never echo a secret).
    libpq = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
    ).render_as_string(hide_password=False)
    password_note = " (give the password in PGPASSWORD)" if parsed.password else ""
    return (
        "relais backup copies SQLite databases only. For PostgreSQL, use pg_dump"
        f"{password_note}:\n"
        f"  pg_dump --format=custom --file={out} '{libpq}'\n"
        "and to restore (bot stopped):\n"
        f"  pg_restore --clean --if-exists --no-owner --dbname='{libpq}' {out}"
    )


def backup_sqlite(source: Path, out: Path) -> None:
    """Copy a live SQLite database to `out` with SQLite's online backup API.

    The copy is consistent even while the bot writes (the backup restarts on concurrent
    changes), is written to a temporary file first and renamed, and is a self-contained
    file (journal mode DELETE: no -wal file to carry along).
    """
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    # mode=rw: never create an empty database where the real one was expected.
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise CliError(f"the copy failed its integrity check: {verdict}")
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, out)


def cmd_backup(args: argparse.Namespace) -> int:
    settings = load_settings()
    out = Path(args.out)
    if not uses_sqlite(settings.database_url):
        print(pg_dump_hint(settings.database_url, str(out)), file=sys.stderr)
        return EXIT_FAILURE  # nothing was written: a script must not believe it was
    source = sqlite_path(settings.database_url)
    if source is None:
        raise CliError("DATABASE_URL is an in-memory SQLite database: there is nothing to copy")
    if not source.exists():
        raise CliError(f"there is no database at {source.resolve()} (DATABASE_URL)")
    if out.exists() and not args.force:
        raise CliError(f"{out} already exists (choose another name, or add --force)")
    if not out.parent.exists():
        raise CliError(f"the folder {out.parent.resolve()} does not exist")
    try:
        backup_sqlite(source, out)
    except sqlite3.Error as exc:
        raise CliError(f"backup failed: {exc}") from None
    size = out.stat().st_size
    print(f"backup written: {out} ({size / 1_000_000:.1f} MB) from {source}")
    return EXIT_OK
