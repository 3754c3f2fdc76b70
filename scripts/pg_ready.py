"""Is the PostgreSQL of TEST_DATABASE_URL usable? Creates its database if it is missing.

Used by scripts/test: `python scripts/pg_ready.py URL` exits 0 when the tests can run on it,
1 otherwise (with the reason on stderr).
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from sqlalchemy.engine import make_url

TIMEOUT_SECONDS = 5


async def ready(url: str) -> str | None:
    """None when ready, else why not."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}"
    params = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "timeout": TIMEOUT_SECONDS,
    }
    name = parsed.database or "test"
    try:
        conn = await asyncpg.connect(database=name, **params)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(database="postgres", **params)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", file=sys.stderr)
        finally:
            await admin.close()
        return None
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def main() -> int:
    url = sys.argv[1]
    problem = asyncio.run(ready(url))
    if problem:
        print(f"PostgreSQL not usable: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
