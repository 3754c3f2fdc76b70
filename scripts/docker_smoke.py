"""The Docker smoke test's checks (scripts/docker-smoke prepares the engine and the images).

    .venv/bin/python scripts/docker_smoke.py --image relais:smoke --postgres-image postgres:16

Runs the image as a deployment would, against the sandbox Bot API served by this process on
the Docker host (containers reach it as `telegram.sandbox`, mapped to the host's gateway):

1. docker-compose.yml as shipped (a copy, with a small override: this image, the PostgreSQL
   image, the sandbox's address, /healthz published on the host), with a POSTGRES_PASSWORD
   full of characters that break URLs: migrations ran, /healthz 200, a user gets a reply;
   backup with pg_dump through the compose service, restore (bot stopped) with pg_restore,
   the bot runs on the restored database; the sandbox stops: /healthz 503 within 60 s and
   the outage is one WARNING line; `docker stop` takes at most 5 s and exits 0.
2. `docker run` with SQLite on a bind-mounted host folder that belongs to root: the bot
   answers, `docker stop` takes at most 5 s and exits 0, a second container on the same
   folder finds the data of the first.

Prints what it measured; exit status 1 at the first failed check (containers are removed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.migrate import head_revision  # noqa: E402
from bot.sandbox.server import SandboxBotAPI  # noqa: E402

PROJECT = "relaissmoke"
TOKEN = "123456789:AAEsmokeTokenOfTheDockerSmokeTest_0123"
# The characters that broke the URL the compose file used to build (@ : / # % and more).
PASSWORD = "p@ss:w/rd#1%2F?&=x"
SANDBOX_HOST = "telegram.sandbox"
STOP_LIMIT = 5.0
UNHEALTHY_LIMIT = 60.0

measured: list[tuple[str, str]] = []


class SmokeFailure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def note(what: str, value: str) -> None:
    measured.append((what, value))
    print(f"    {what}: {value}", flush=True)


async def run(
    *command: str, stdin: bytes | None = None, check_status: bool = True, quiet: bool = False
) -> tuple[int, bytes, bytes]:
    """Run a command without blocking the sandbox's event loop; returns (status, out, err)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    status = process.returncode or 0
    if check_status and status != 0:
        raise SmokeFailure(
            f"{' '.join(command)} exited {status}:\n{err.decode(errors='replace')[-3000:]}"
        )
    if not quiet and err.strip() and status != 0:
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
    return status, out, err


async def wait_until(
    what: str, predicate: Callable[[], Awaitable[bool]], seconds: float, every: float = 0.5
) -> float:
    """Seconds until `predicate()` held; SmokeFailure after `seconds`."""
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > seconds:
            raise SmokeFailure(f"{what}: not within {seconds:.0f} s")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def health(port: int) -> tuple[int, dict[str, object]]:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"http://127.0.0.1:{port}/healthz")
        return response.status_code, response.json()
    except (httpx.TransportError, ValueError):
        return 0, {}


async def health_is(port: int, status: int) -> bool:
    return (await health(port))[0] == status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def container_of(compose: list[str], service: str) -> str:
    _, out, _ = await run(*compose, "ps", "-q", service)
    container = out.decode().strip()
    check(bool(container), f"no container for the {service} service")
    return container


async def docker_stop(container: str) -> float:
    """`docker stop` (grace 15 s, as compose's stop_grace_period); checks time and status."""
    started = time.monotonic()
    await run("docker", "stop", "--time", "15", container)
    seconds = time.monotonic() - started
    _, out, _ = await run("docker", "inspect", "--format", "{{.State.ExitCode}}", container)
    status = int(out.decode().strip())
    check(status == 0, f"the bot exited with status {status} on docker stop (137 = killed)")
    check(seconds <= STOP_LIMIT, f"docker stop took {seconds:.1f} s (limit {STOP_LIMIT:.0f} s)")
    return seconds


async def logs(container: str) -> str:
    _, out, err = await run("docker", "logs", container)
    return (out + err).decode(errors="replace")


async def a_user_is_answered(
    sandbox: SandboxBotAPI, user_id: int, name: str, text: str = "/start", expected: str = ""
) -> float:
    """Seconds until the bot answered `text` from this user (with `expected` in the answer)."""
    user = sandbox.user(user_id, name)
    started = time.monotonic()
    await user.send(text)
    await user.expect(expected or None, timeout=30)
    return time.monotonic() - started


async def create_cohort(container: str, name: str) -> str:
    """`relais cohort create` in the running container, as the docs say; returns the join code."""
    _, out, _ = await run(
        "docker", "exec", "-u", "relais", container,
        "relais", "cohort", "create", "--name", name, "--commune", "Estaimpuis",
    )  # fmt: skip
    match = re.search(r"start=join_(\S+)", out.decode())
    check(match is not None, f"relais cohort create printed no join link:\n{out.decode()}")
    assert match is not None
    return match.group(1)


async def joins(sandbox: SandboxBotAPI, user_id: int, name: str, code: str, cohort: str) -> float:
    """A merchant follows the cohort's join link: the bot welcomes them into that cohort."""
    return await a_user_is_answered(sandbox, user_id, name, f"/start join_{code}", cohort)


# --- 1. docker-compose.yml with PostgreSQL --------------------------------------------------


async def compose_with_postgres(
    compose_command: list[str], image: str, postgres_image: str, sandbox: SandboxBotAPI, work: Path
) -> None:
    folder = work / "compose"
    folder.mkdir()
    shutil.copy(ROOT / "docker-compose.yml", folder / "docker-compose.yml")
    health_port = free_port()
    # Single quotes: the value is taken literally by every .env reader (compose, dotenv).
    settings = (
        f"BOT_TOKEN={TOKEN}\n"
        f"TELEGRAM_API_BASE_URL=http://{SANDBOX_HOST}:{sandbox.port}/bot\n"
        f"POSTGRES_PASSWORD='{PASSWORD}'\n"
        "QUIET_HOURS=\n"
    )
    (folder / "docker-compose.smoke.yml").write_text(
        json.dumps(
            {
                "services": {
                    "bot": {
                        "image": image,
                        "ports": [f"127.0.0.1:{health_port}:8080"],
                        "extra_hosts": [f"{SANDBOX_HOST}:host-gateway"],
                    },
                    "db": {"image": postgres_image},
                }
            }
        )
    )
    compose = [
        *compose_command,
        "--project-name",
        PROJECT,
        "--project-directory",
        str(folder),
        "--file",
        str(folder / "docker-compose.yml"),
        "--file",
        str(folder / "docker-compose.smoke.yml"),
    ]
    psql = [*compose, "exec", "-T", "db", "psql", "-U", "relais", "-d", "relais", "-tA", "-c"]

    async def sql(query: str) -> str:
        return (await run(*psql, query))[1].decode().strip()

    # No default password: without POSTGRES_PASSWORD compose refuses, and says why.
    (folder / ".env").write_text(f"BOT_TOKEN={TOKEN}\n")
    status, _, err = await run(*compose, "config", check_status=False, quiet=True)
    check(
        status != 0 and "set POSTGRES_PASSWORD in .env" in err.decode(),
        f"compose accepted a missing POSTGRES_PASSWORD (status {status})",
    )
    note("without POSTGRES_PASSWORD", "compose refuses: set POSTGRES_PASSWORD in .env")
    (folder / ".env").write_text(settings)
    # Whatever a previous run left (its volumes included): this run starts from nothing.
    await run(*compose, "down", "--volumes", check_status=False, quiet=True)
    try:
        print("=== compose: PostgreSQL, named volume, password with @ : / # % ? & =", flush=True)
        started = time.monotonic()
        await run(*compose, "up", "-d", "--no-build")
        await wait_until("/healthz 200", lambda: health_is(health_port, 200), 180)
        note("compose up -> /healthz 200", f"{time.monotonic() - started:.1f} s")
        bot = await container_of(compose, "bot")

        revision = await sql("SELECT version_num FROM alembic_version")
        check(revision == head_revision(), f"schema at {revision!r}, expected {head_revision()}")
        note("migrations", f"ran at start-up, schema at revision {revision}")

        note("reply to a user (/start)", f"{await a_user_is_answered(sandbox, 501, 'Alice'):.2f} s")
        first = await create_cohort(bot, "Smoke A")
        seconds = await joins(sandbox, 502, "Bob", first, "Smoke A")
        note("relais cohort create (docker exec), its join link", f"answered in {seconds:.2f} s")

        # Backup as docs/operations.md says, then restore it over a changed database.
        _, dump, _ = await run(
            *compose, "exec", "-T", "db", "pg_dump", "-U", "relais", "--format=custom", "relais"
        )
        check(len(dump) > 1000, "pg_dump wrote almost nothing")
        (work / "relais.dump").write_bytes(dump)
        await create_cohort(bot, "Smoke B")  # after the backup: the restore must drop it
        check(await sql("SELECT count(*) FROM cohorts") == "2", "the second cohort is missing")
        started = time.monotonic()
        await run(*compose, "stop", "bot")
        await run(
            *compose,
            "exec",
            "-T",
            "db",
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "-U",
            "relais",
            "-d",
            "relais",
            stdin=dump,
        )
        await run(*compose, "start", "bot")
        await wait_until("/healthz 200 after the restore", lambda: health_is(health_port, 200), 120)
        cohorts = await sql("SELECT string_agg(name, ',') FROM cohorts")
        check(cohorts == "Smoke A", f"after the restore the cohorts are {cohorts!r}")
        note("pg_dump backup", f"{len(dump) / 1024:.0f} KiB")
        note(
            "restore (stop, pg_restore --clean, start, healthy)",
            f"{time.monotonic() - started:.1f} s",
        )
        await joins(sandbox, 503, "Carol", first, "Smoke A")  # the bot runs on the restore

        # Telegram goes away: /healthz must say so, the log once.
        await sandbox.stop()
        seconds = await wait_until(
            "/healthz 503 after the sandbox stopped",
            lambda: health_is(health_port, 503),
            UNHEALTHY_LIMIT,
        )
        _, report = await health(health_port)
        note("sandbox stopped -> /healthz 503", f"{seconds:.1f} s: {json.dumps(report)}")
        seconds = await docker_stop(bot)
        note("docker stop while Telegram is unreachable", f"{seconds:.2f} s, exit status 0")
        output = await logs(bot)
        check(
            output.count("Telegram Bot API unreachable") == 1,
            f"the outage was not logged exactly once:\n{output[-3000:]}",
        )
        check("unhandled error" not in output, f"errors in the log:\n{output[-3000:]}")
        check(PASSWORD not in output, "the database password appears in the log")
        check(TOKEN.split(":")[1] not in output, "the token appears in the log")
    except SmokeFailure:
        _, out, err = await run(*compose, "logs", "--tail", "60", check_status=False, quiet=True)
        print((out + err).decode(errors="replace"), file=sys.stderr)
        raise
    finally:
        if os.environ.get("SMOKE_KEEP"):
            print(f"kept: {' '.join(compose)}")
        else:
            await run(*compose, "down", "--volumes", check_status=False, quiet=True)
        await sandbox.start()  # again, if it was stopped (a no-op otherwise)


# --- 2. docker run, SQLite, bind mount ----------------------------------------------------------


async def sqlite_bind_mount(image: str, sandbox: SandboxBotAPI, work: Path) -> None:
    print("=== docker run: SQLite on a bind-mounted host folder owned by root", flush=True)
    data = work / "data"
    data.mkdir()
    os.chmod(data, 0o755)  # root's, as `mkdir data` by an admin would leave it
    env_file = work / "sqlite.env"
    env_file.write_text(
        f"BOT_TOKEN={TOKEN}\nTELEGRAM_API_BASE_URL=http://{SANDBOX_HOST}:{sandbox.port}/bot\n"
        "QUIET_HOURS=\n"
    )

    async def one_run(name: str, check_data: Callable[[str], Awaitable[None]]) -> None:
        health_port = free_port()
        container = f"{PROJECT}-{name}"
        await run("docker", "rm", "-f", container, check_status=False, quiet=True)
        try:
            started = time.monotonic()
            await run(
                "docker", "run", "-d", "--name", container, "--env-file", str(env_file),
                "--volume", f"{data}:/data", "--publish", f"127.0.0.1:{health_port}:8080",
                "--add-host", f"{SANDBOX_HOST}:host-gateway", image,
            )  # fmt: skip
            await wait_until(f"{name}: /healthz 200", lambda: health_is(health_port, 200), 120)
            seconds = time.monotonic() - started
            note(f"{name} container: docker run -> /healthz 200", f"{seconds:.1f} s")
            await check_data(container)
            seconds = await docker_stop(container)
            note(f"{name} container: docker stop", f"{seconds:.2f} s, exit status 0")
        except SmokeFailure:
            print((await logs(container))[-3000:], file=sys.stderr)
            raise
        finally:
            await run("docker", "rm", "-f", container, check_status=False, quiet=True)

    codes: list[str] = []

    async def make_data(container: str) -> None:
        codes.append(await create_cohort(container, "Smoke SQLite"))
        seconds = await joins(sandbox, 601, "Dave", codes[0], "Smoke SQLite")
        note("first container: join link answered", f"{seconds:.2f} s")

    async def find_data(container: str) -> None:
        seconds = await joins(sandbox, 602, "Erin", codes[0], "Smoke SQLite")
        note("second container: the first one's cohort is there", f"joined in {seconds:.2f} s")

    await one_run("first", make_data)
    database = data / "relais.db"
    check(database.exists(), "no relais.db in the bind-mounted folder")
    owner = database.stat().st_uid
    check(owner == 10001, f"relais.db belongs to uid {owner}, expected the image's relais (10001)")
    await one_run("second", find_data)
    with sqlite3.connect(database) as db:
        cohorts = [row[0] for row in db.execute("SELECT name FROM cohorts")]
    check(cohorts == ["Smoke SQLite"], f"cohorts on the host: {cohorts}")
    note("bind mount", "relais.db on the host (uid 10001), kept across containers")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default="relais:smoke")
    parser.add_argument("--postgres-image", default="postgres:16")
    parser.add_argument("--compose", default="docker-compose", help='or "docker compose"')
    parser.add_argument("--sandbox-host", required=True, help="the host's address on docker0")
    args = parser.parse_args()

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="relais-smoke-"))
    sandbox = SandboxBotAPI(args.sandbox_host, flood_limits=False)
    sandbox.add_bot(TOKEN, username="relais_smoke_bot")
    await sandbox.start()
    try:
        await compose_with_postgres(
            args.compose.split(), args.image, args.postgres_image, sandbox, work
        )
        await sqlite_bind_mount(args.image, sandbox, work)
    except SmokeFailure as failure:
        print(f"\nSMOKE FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        await sandbox.stop()
        if not os.environ.get("SMOKE_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    note("checks", f"{time.monotonic() - started:.0f} s")
    print("\n=== docker smoke passed")
    for what, value in measured:
        print(f"  {what}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
