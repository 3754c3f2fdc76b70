"""Reply latency: 200 merchants chatting with Relais at once, against a bare PTB echo bot.

    .venv/bin/python bench/latency.py                     # 200 users, 60 s per bot, SQLite
    .venv/bin/python bench/latency.py --seconds 15 --users 50
    .venv/bin/python bench/latency.py --database-url postgresql+asyncpg://...   # EMPTIED
    .venv/bin/python bench/latency.py --burst 120           # a crowd in the same second
    .venv/bin/python bench/latency.py --profile /tmp/relais.spy   # where Relais's CPU goes

What it does, in one run:
1. starts the sandbox Bot API in this process (flood limits off: the figure is the bot's own
   reply time, not Telegram's pacing) with two bots, and N simulated users who opened both;
2. the baseline: a bare python-telegram-bot echo bot (`Application`, one MessageHandler that
   replies with the text, polling) in a child process; every user sends a short text, waits
   for the echo, thinks 1-4 s, again, for `--seconds`;
3. Relais as deployed: `relais run` in a child process (migrations, polling, the outbox
   engine, a SQLite file or the PostgreSQL given; Telegram's message budget lifted for its
   replies, as the sandbox has no flood limits: `--paced` keeps it, see `run_relais_unpaced`)
   with one cohort and a session to come; every
   user joins with the link and onboards with buttons (first name, business, sector, commune,
   language, consent), then until the end picks among: set an objective with buttons,
   `/seances` and an RSVP button, `/objectifs`, `/aide`, the 💡 tip button; thinking 1-4 s
   between two actions, like a person tapping.

`--latency 20-150` gives every Bot API request a round trip like Telegram's from Europe (off
by default: the figure is then the bot's own cost).

`--burst N` measures a crowd instead, on the processing alone: N members (already onboarded,
in the database) each send `--command` (default `/seances`) at a random moment of the same
second, `--waves` times (default 5, every 5 s). The baseline is then a bare PTB bot with
concurrent updates and no database, answering every command with a short text.

Latency is measured from the moment the user's update is queued at the sandbox to the bot's
first visible answer in that chat (a new or edited message; for a button, the callback answer
when it comes first). A reply not seen within 15 s counts as lost. Errors: the child's log
lines "unhandled error", answers "Oups", and every 4xx/5xx the sandbox gave the bot (with its
reason). It prints p50/p90/p99/max per bot, the replies per second (those that arrived
before the phase's deadline, divided by its length: users still thinking at the deadline
finish before the phase returns, and a Relais action has more steps than an echo), the same
per kind of Relais action, the CPU time each bot's process used per reply (on a machine
shared with other work the latencies move with the load, printed too, the CPU per reply
much less) and the Bot API calls each bot made per reply (getUpdates aside).

`--profile PATH` samples Relais's process with py-spy while the users act (start-up left
out, the bot not slowed down), writes the raw stacks to PATH and prints the functions of its
main thread that were on the stack most often.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Base, Cohort, Enrolment, Member, TrainingSession  # noqa: E402
from bot.sandbox.records import SentMessage  # noqa: E402
from bot.sandbox.server import SandboxBotAPI  # noqa: E402
from bot.sandbox.simulator import text_entities  # noqa: E402

RELAIS_TOKEN = "123456:BENCH-RELAIS-0123456789abcdefghijklmnopq"
ECHO_TOKEN = "654321:BENCH-ECHO-0123456789abcdefghijklmnopqrs"
REPLY_TIMEOUT = 15.0
THINK = (1.0, 4.0)
WAVE_EVERY = 5.0  # seconds between two bursts


def parse_latency(text: str) -> tuple[float, float] | None:
    """`20-150` (ms) -> (0.02, 0.15); `50` -> (0.05, 0.05); `0` -> None."""
    low, _, high = text.partition("-")
    bounds = (float(low) / 1000, float(high or low) / 1000)
    return None if bounds == (0.0, 0.0) else bounds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- the echo bot (child process) ---------------------------------------------------------------


def run_echo_bot(base_url: str) -> None:
    """A bare python-telegram-bot application: reply with the text received."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "")

    app = ApplicationBuilder().token(ECHO_TOKEN).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


def run_relais_unpaced() -> None:
    """`relais run` as deployed, but with Telegram's message budget lifted for replies.

    Relais keeps its replies within Telegram's ~30 sent or edited messages a second
    (bot/ratelimit.py). This sandbox has no flood limits and the echo bot no limiter: the
    figure here is the processing, so the budget is lifted (bench/crowd.py measures Relais
    under the budget and a strict sandbox). `--paced` keeps it.
    """
    import bot.app
    from bot.cli import main

    build = bot.app.build_application

    def unpaced(*args: Any, **kwargs: Any) -> Any:
        app = build(*args, **kwargs)
        limiter = app.bot.rate_limiter
        budget = getattr(limiter, "budget", None)
        if budget is not None:
            budget.cap = 1_000_000
        return app

    bot.app.build_application = unpaced
    if os.environ.get("RELAIS_CPROFILE"):
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
        try:
            main(["run"])
        finally:
            prof.disable()
            prof.dump_stats(os.environ["RELAIS_CPROFILE"])
        raise SystemExit(0)
    raise SystemExit(main(["run"]))


def run_bare_bot(base_url: str) -> None:
    """A bare python-telegram-bot application with concurrent updates: answer any command."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"Vous avez demandé {update.message.text}")

    app = (
        ApplicationBuilder()
        .token(ECHO_TOKEN)
        .base_url(base_url)
        .concurrent_updates(True)
        .connection_pool_size(64)
        .build()
    )
    app.add_handler(MessageHandler(filters.COMMAND, answer))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


def summarise_profile(raw: Path, pid: int, top: int = 25) -> list[tuple[float, str]]:
    """The functions of the bot's main thread that took the most samples, inclusive, in %.

    `raw` is py-spy's collapsed output (`--format raw --threads`): one stack a line, rooted
    at "thread (<id>)" (the main thread's id is the pid), then its sample count. A function
    counts once per stack. Import frames (a lazy import) are left out.
    """
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        frames = stack.split(";")
        if not frames[0].startswith(f"thread ({pid})") or "importlib" in stack:
            continue
        samples = int(number)
        total += samples
        names = {frame.rsplit(":", 1)[0] + ")" for frame in frames[1:]}
        for name in names:
            counts[name] += samples
    return [(100 * n / total, name) for name, n in counts.most_common(top)] if total else []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process (Linux), 0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lost: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    oops: int = 0
    cpu: float = 0.0  # CPU seconds the bot's process used during the phase
    calls: Counter[str] = field(default_factory=Counter)  # Bot API calls, getUpdates aside
    answered: list[float] = field(default_factory=list)  # time.monotonic() of each reply
    window: tuple[float, float] = (0.0, 1.0)  # the phase, from its start to its deadline

    def rate(self) -> float:
        """Replies per second within the phase's window. Users who are thinking at the
        deadline finish their think time before the phase returns, longer for Relais's
        multi-step actions: dividing by the whole phase would count that as slowness."""
        start, end = self.window
        return sum(1 for at in self.answered if at <= end) / (end - start)

    def all(self) -> list[float]:
        return [value for values in self.latencies.values() for value in values]

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())


class Chat:
    """One simulated user's private chat with one bot, driven update by update."""

    def __init__(self, sandbox: SandboxBotAPI, token: str, user_id: int, tally: Tally) -> None:
        self.sandbox = sandbox
        self.token = token
        self.user_id = user_id
        self.tally = tally

    def _events(self) -> int:
        return len(self.sandbox.inbox(self.user_id, token=self.token))

    async def _wait(self, kind: str, seen: int, started: float, record: Any = None) -> bool:
        deadline = started + REPLY_TIMEOUT
        while True:
            answered = record is not None and record.answered
            if self._events() > seen or answered:
                now = time.monotonic()
                if answered and record.answered_at is not None and self._events() <= seen:
                    now = record.answered_at
                self.tally.latencies[kind].append(now - started)
                self.tally.answered.append(now)
                for event in self.sandbox.inbox(self.user_id, token=self.token)[seen:]:
                    if event.plain.startswith("Oups"):
                        self.tally.oops += 1
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.tally.lost[kind] += 1
                return False
            await self.sandbox.wait_for_change(min(remaining, 0.5))

    async def say(self, kind: str, message: str) -> bool:
        seen = self._events()
        content: dict[str, Any] = {"text": message}
        entities = text_entities(message)
        if entities:
            content["entities"] = entities
        started = time.monotonic()
        self.sandbox.user_says(self.user_id, self.user_id, content, token=self.token)
        return await self._wait(kind, seen, started)

    def buttons(self) -> list[tuple[SentMessage, str, str]]:
        """(message, label, data) of the callback buttons of the newest message showing some."""
        for message in reversed(self.sandbox.messages_to(self.user_id, token=self.token)):
            if message.deleted or not message.inline_keyboard:
                continue
            found = [
                (message, button.text, button.callback_data)
                for row in message.inline_keyboard
                for button in row
                if button.callback_data
            ]
            if found:
                return found
        return []

    async def press(self, kind: str, prefer: str = "") -> bool:
        buttons = self.buttons()
        if not buttons:
            return await self.say(kind, "/aide")
        chosen = next((b for b in buttons if prefer and prefer in b[1]), buttons[0])
        seen = self._events()
        started = time.monotonic()
        _, record = self.sandbox.user_clicks(self.user_id, chosen[0], chosen[2], token=self.token)
        return await self._wait(kind, seen, started, record)


async def think(rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(*THINK))


async def echo_user(chat: Chat, deadline: float, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, THINK[1]))  # people do not all start at once
    while time.monotonic() < deadline:
        await chat.say("echo", f"bonjour {rng.randrange(10**6)}")
        await think(rng)


async def merchant(chat: Chat, code: str, deadline: float, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, THINK[1]))
    # Onboarding, with buttons.
    steps: list[tuple[str, str, str]] = [
        ("say", "onboarding", f"/start join_{code}"),
        ("press", "onboarding", ""),  # keep the Telegram first name
        ("say", "onboarding", f"Commerce {chat.user_id}"),
        ("press", "onboarding", ""),  # sector
        ("press", "onboarding", ""),  # commune
        ("press", "onboarding", "Français"),
        ("press", "onboarding", "J'accepte"),
    ]
    for how, kind, value in steps:
        if time.monotonic() >= deadline:
            return
        ok = await (chat.say(kind, value) if how == "say" else chat.press(kind, value))
        if not ok:
            return
        await think(rng)
    while time.monotonic() < deadline:
        choice = rng.random()
        if choice < 0.3:
            await chat.say("objective", "/objectif")
            for _ in range(6):  # template, measure, number, due date, confirm...
                await think(rng)
                if time.monotonic() >= deadline or not await chat.press("objective", "✅"):
                    break
        elif choice < 0.6:
            await chat.say("rsvp", "/seances")
            await think(rng)
            await chat.press("rsvp", rng.choice(["Je serai là", "Je ne peux pas"]))
        elif choice < 0.75:
            await chat.say("menu", "/objectifs")
        elif choice < 0.9:
            await chat.say("menu", "💡 Une astuce")
        else:
            await chat.say("menu", "/aide")
        await think(rng)


async def burst_user(
    chat: Chat, command: str, waves: int, every: float, start: float, rng: random.Random
) -> None:
    """Send `command` once per wave, at a random moment of the wave's first second."""
    for wave in range(waves):
        await asyncio.sleep(max(0.0, start + wave * every + rng.uniform(0, 1) - time.monotonic()))
        await chat.say("burst", command)


# --- the run --------------------------------------------------------------------------------------


async def prepare_database(url: str) -> str:
    """Migrate (and empty) the database; a cohort and a session in a week. Returns the code."""
    await upgrade(url, "head")
    db = Database(url)
    try:
        if not db.is_sqlite:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with db.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        now = datetime.now(UTC)
        async with db.unit_of_work() as session:
            cohort = Cohort(
                name="Bench 2026",
                commune="Estaimpuis",
                timezone="Europe/Brussels",
                language="fr",
                join_code="BENCH1",
            )
            session.add(cohort)
            await session.flush()
            starts = now + timedelta(days=7)
            session.add(
                TrainingSession(
                    cohort_id=cohort.id,
                    number=1,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    place="Salle du Conseil",
                    theme="Vidéo et live",
                    checkin_token="benchcheckin",
                )
            )
        return "BENCH1"
    finally:
        await db.dispose()


async def add_members(url: str, users: list[int]) -> None:
    """Onboarded merchants of the bench cohort, one per simulated user (for `--burst`)."""
    db = Database(url)
    try:
        now = datetime.now(UTC)
        async with db.unit_of_work() as session:
            cohort_id = await session.scalar(select(Cohort.id).where(Cohort.join_code == "BENCH1"))
            assert cohort_id is not None
            for n, user in enumerate(users):
                member = Member(
                    telegram_user_id=user,
                    chat_id=user,
                    first_name=f"Marchand{n}",
                    business_name=f"Commerce {n}",
                    sector="food",
                    commune="Estaimpuis",
                    language="fr",
                    tip_days="tue,fri",
                    tip_time=dt_time(9, 30),
                    consent_at=now,
                    onboarded_at=now,
                    active_cohort_id=cohort_id,
                    created_at=now,
                )
                session.add(member)
                await session.flush()
                session.add(Enrolment(cohort_id=cohort_id, member_id=member.id, joined_at=now))
    finally:
        await db.dispose()


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)


def note(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (as `docker stop`), then wait without blocking the loop: the sandbox must go on
    answering the bot's last calls while it shuts down."""
    note("stopping the child")
    child.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.to_thread(child.wait), 30)
    except TimeoutError:
        note("the child did not stop within 30 s: killed")
        child.kill()
        await asyncio.to_thread(child.wait)
    note(f"child stopped ({child.returncode})")


async def wait_polling(sandbox: SandboxBotAPI, token: str, seconds: float = 60.0) -> None:
    """Until the child's bot polls getUpdates (it is ready)."""
    note("waiting for the bot to poll")
    deadline = time.monotonic() + seconds
    while sandbox.bot(token).poller is None:
        if time.monotonic() > deadline:
            raise SystemExit("the bot did not start polling; see its log")
        await asyncio.sleep(0.1)


async def phase(
    sandbox: SandboxBotAPI,
    token: str,
    users: list[int],
    seconds: float,
    body: Any,
    pid: int,
) -> tuple[Tally, dict[int, int]]:
    note(f"{len(users)} users for {seconds:.0f} s")
    tally = Tally()
    sandbox.stats.reset()
    cpu_before = cpu_seconds(pid)
    rng = random.Random(42)
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    await asyncio.gather(
        *(
            body(Chat(sandbox, token, user, tally), deadline, random.Random(rng.random()))
            for user in users
        )
    )
    tally.cpu = cpu_seconds(pid) - cpu_before
    tally.window = (started, deadline)
    tally.calls = Counter(
        {m: n for m, n in sandbox.stats.requests.items() if m not in ("getUpdates", "getMe")}
    )
    bad = {status: n for status, n in sandbox.stats.statuses.items() if status >= 400}
    return tally, bad


def report(name: str, tally: Tally, bad: dict[int, int], errors: int) -> str:
    values = tally.all()
    ms = [v * 1000 for v in values]
    cpu_ms = 1000 * tally.cpu / max(len(values), 1)
    return (
        f"| {name} | {len(values)} | {tally.rate():.1f} | {percentile(ms, 0.5):.0f} | "
        f"{percentile(ms, 0.9):.0f} | {percentile(ms, 0.99):.0f} | {max(ms, default=0):.0f} | "
        f"{tally.lost_total} | {errors + tally.oops + sum(bad.values())} | {cpu_ms:.1f} | "
        f"{sum(tally.calls.values()) / max(len(values), 1):.2f} |"
    )


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="relais-latency-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'relais.db'}"
    code = await prepare_database(url)
    python = sys.executable
    burst = args.burst > 0
    users = [900_000 + n for n in range(args.burst if burst else args.users)]
    seconds = args.waves * WAVE_EVERY if burst else args.seconds
    if burst:
        await add_members(url, users)

    def body(relais: bool) -> Any:
        if burst:
            return lambda chat, deadline, rng: burst_user(
                chat, args.command, args.waves, WAVE_EVERY, deadline - seconds, rng
            )
        if relais:
            return lambda chat, deadline, rng: merchant(chat, code, deadline, rng)
        return lambda chat, deadline, rng: echo_user(chat, deadline, rng)

    refused: Counter[str] = Counter()
    load_before = os.getloadavg()[0]
    latency = parse_latency(args.latency)
    async with SandboxBotAPI(flood_limits=False, latency=latency) as sandbox:
        sandbox.add_bot(RELAIS_TOKEN, username="relais_bench_bot")
        sandbox.add_bot(ECHO_TOKEN, username="echo_bench_bot")
        answer = sandbox._answer

        async def answer_and_note(*call: Any) -> tuple[int, bytes, float]:
            # What the sandbox refused, and why (printed at the end).
            status, body, delay = await answer(*call)
            if status >= 400:
                refused[f"{call[2]}: {status} {body.decode(errors='replace')[:120]}"] += 1
            return status, body, delay

        sandbox._answer = answer_and_note  # type: ignore[method-assign,assignment]
        for n, user in enumerate(users):
            sandbox.add_user(user, f"Marchand{n}", language_code="fr")
            sandbox.mark_started(user, token=RELAIS_TOKEN)
            sandbox.mark_started(user, token=ECHO_TOKEN)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        # 1. the baseline: the bare echo bot, or the bare concurrent bot for a burst
        child = "--child-bare" if burst else "--child-echo"
        echo = spawn([python, __file__, child, sandbox.base_url], env, workdir / "echo.log")
        try:
            await wait_polling(sandbox, ECHO_TOKEN)
            echo_tally, echo_bad = await phase(
                sandbox, ECHO_TOKEN, users, seconds, body(relais=False), echo.pid
            )
        finally:
            await stop(echo)

        # 2. Relais, as `relais run` runs it
        relais_env = {
            **env,
            "BOT_TOKEN": RELAIS_TOKEN,
            "DATABASE_URL": url,
            "TELEGRAM_API_BASE_URL": sandbox.base_url,
            "HEALTH_PORT": "0",
            "LOG_LEVEL": "WARNING",
            "QUIET_HOURS": "",
            "ADMIN_IDS": "",
        }
        log = workdir / "relais.log"
        command = [str(ROOT / ".venv" / "bin" / "relais"), "run"]
        if not args.paced:
            command = [python, __file__, "--child-relais"]
        relais = spawn(command, relais_env, log)
        profiler: subprocess.Popen[bytes] | None = None
        try:
            await wait_polling(sandbox, RELAIS_TOKEN)
            if args.profile:
                # Sampled from outside (py-spy): start-up is left out and the bot is not slowed.
                profiler = spawn(
                    [
                        str(ROOT / ".venv" / "bin" / "py-spy"),
                        "record",
                        "--pid",
                        str(relais.pid),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--threads",
                        "--nonblocking",
                        "--duration",
                        str(int(seconds)),
                        "--output",
                        args.profile,
                    ],
                    env,
                    workdir / "py-spy.log",
                )
            relais_tally, relais_bad = await phase(
                sandbox, RELAIS_TOKEN, users, seconds, body(relais=True), relais.pid
            )
        finally:
            if profiler is not None:
                await asyncio.to_thread(profiler.wait)
            await stop(relais)
        errors = log.read_text(errors="replace").count("unhandled error")
        note("stopping the sandbox")
    note("done")

    database = "PostgreSQL" if args.database_url else "SQLite"
    if latency is not None:
        database += f", Bot API round trip {args.latency} ms"
    if burst:
        print(
            f"burst: {len(users)} members each send {args.command} in the same second, "
            f"{args.waves} waves {WAVE_EVERY:.0f} s apart, database {database}"
        )
    else:
        print(
            f"{args.users} users, {args.seconds:.0f} s per bot, "
            f"think time {THINK[0]:.0f}-{THINK[1]:.0f} s, database {database}"
        )
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(
        "| bot | replies | replies/s | p50 ms | p90 ms | p99 ms | max ms | lost | errors "
        "| CPU ms/reply | Bot API calls/reply |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(report("bare PTB bot" if burst else "PTB echo bot", echo_tally, echo_bad, 0))
    print(report("Relais", relais_tally, relais_bad, errors))
    print(
        "Relais's Bot API calls: "
        + ", ".join(f"{method} {count}" for method, count in relais_tally.calls.most_common())
    )
    echo_ms = [v * 1000 for v in echo_tally.all()]
    relais_ms = [v * 1000 for v in relais_tally.all()]
    if burst:
        ratio = percentile(relais_ms, 0.99) / percentile(echo_ms, 0.99)
        print(f"Relais p99 / bare p99 = {ratio:.2f}")
    else:
        ratio = relais_tally.rate() / echo_tally.rate()
        print(f"Relais replies/s / echo replies/s = {ratio:.3f}")
    print()
    print("| Relais action | replies | p50 ms | p99 ms | lost |")
    print("|---|---|---|---|---|")
    for kind in sorted(relais_tally.latencies):
        ms = [v * 1000 for v in relais_tally.latencies[kind]]
        print(
            f"| {kind} | {len(ms)} | {percentile(ms, 0.5):.0f} | {percentile(ms, 0.99):.0f} | "
            f"{relais_tally.lost[kind]} |"
        )
    if relais_bad or echo_bad:
        print(f"4xx/5xx answered by the sandbox: echo {echo_bad}, relais {relais_bad}")
        for reason, n in refused.most_common():
            print(f"  {n} x {reason}")
    if args.profile:
        print()
        print("Profile of Relais's main thread (py-spy, inclusive share of samples):")
        for share, name in summarise_profile(Path(args.profile), relais.pid):
            print(f"  {share:5.1f} %  {name}")
    print(f"logs: {workdir}")
    failed = relais_tally.lost_total + errors + relais_tally.oops + sum(relais_bad.values())
    return 1 if failed else 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="per bot (default 60)")
    parser.add_argument("--database-url", help="PostgreSQL to use (EMPTIED); default SQLite")
    parser.add_argument(
        "--burst", type=int, default=0, metavar="N", help="N members at once (see above)"
    )
    parser.add_argument("--command", default="/seances", help="what the burst sends")
    parser.add_argument("--waves", type=int, default=5, help="bursts, 5 s apart (default 5)")
    parser.add_argument(
        "--profile", metavar="PATH", help="sample Relais with py-spy; raw stacks to PATH"
    )
    parser.add_argument("--child-echo", metavar="BASE_URL", help=argparse.SUPPRESS)
    parser.add_argument(
        "--latency",
        default="0",
        metavar="LOW-HIGH",
        help="every Bot API request takes a round trip drawn in LOW-HIGH ms, like Telegram's "
        "from Europe (e.g. 20-150; default 0: none)",
    )
    parser.add_argument(
        "--paced",
        action="store_true",
        help="keep Telegram's message budget for Relais's replies (lifted by default: see "
        "run_relais_unpaced)",
    )
    parser.add_argument("--child-bare", metavar="BASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--child-relais", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.child_echo:
        run_echo_bot(arguments.child_echo)
        raise SystemExit(0)
    if arguments.child_bare:
        run_bare_bot(arguments.child_bare)
        raise SystemExit(0)
    if arguments.child_relais:
        run_relais_unpaced()
    raise SystemExit(asyncio.run(main(arguments)))
