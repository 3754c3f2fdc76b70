"""Delivery throughput: the outbox engine against the sandbox Bot API with Telegram's limits.

    .venv/bin/python bench/delivery.py                  # 3,000 messages, SQLite in a temp dir
    .venv/bin/python bench/delivery.py -n 600 --database-url postgresql+asyncpg://...  # EMPTIED
    .venv/bin/python bench/delivery.py --skip-ptb       # the outbox only
    .venv/bin/python bench/delivery.py --strict --latency 20-150   # the safe reading, latency

What it does:
1. starts the sandbox Bot API with Telegram's flood limits (30 messages/s per bot, 1/s per
   chat with bursts of 3, 20/min per group) on this process's event loop; `--strict`: at most
   30 sent or edited messages in any trailing second, measured at arrival (no burst at all);
   `--latency LOW-HIGH`: every request takes a round trip drawn in LOW-HIGH ms (seeded by
   `--seed`; `--uplink` of it before the request arrives, the rest before the answer);
2. creates N members (distinct private chats) and queues one delivery each, due now;
3. runs the real engine in a child process, like `relais run` would (Runtime, Bot, engine,
   `dispatch_once()` until nothing is due), so that its memory is measured alone;
4. sends the same N messages directly with python-telegram-bot's AIORateLimiter (overall 30/s,
   groups 20/min, 3 retries on 429), also in a child process, for comparison.

It prints, for each: messages/s (first to last message as the sandbox received them), the
ratio to Telegram's 30/s, 429s answered, the most messages that arrived in any trailing
second, duplicates and losses (from the sandbox's record),
p50/p99 lateness (outbox: sent_at - due_at, counted from the engine's start since the child
needs a moment to boot; AIORateLimiter: send time - start) and the child's peak RSS. A
benchmark, not a test: it prints figures and fails only if something is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from bot.content import load_for_bot  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.migrate import upgrade  # noqa: E402
from bot.models import Base, Delivery  # noqa: E402
from bot.sandbox.server import SandboxBotAPI  # noqa: E402

TOKEN = "123456:BENCH-TOKEN-0123456789abcdefghijklmnopqrstu"
TELEGRAM_LIMIT = 30.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children ----------------------------------------------------------------------------------


async def child_outbox(database_url: str, base_url: str) -> dict[str, Any]:
    """The engine as in `relais run`: drain everything due, then report."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.clock import SystemClock
    from bot.config import Settings
    from bot.delivery.engine import DeliveryEngine
    from bot.delivery.registry import DeliveryRegistry
    from bot.i18n import I18n
    from bot.runtime import Runtime
    from tests.e2e.delivery_support import install_test_kind

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=database_url,
        telegram_api_base_url=base_url,
        quiet_hours="",
    )
    db = Database(database_url)
    # The same HTTP settings as the Application (bot/app.py).
    bot = Bot(
        TOKEN,
        base_url=base_url,
        request=HTTPXRequest(connection_pool_size=64, read_timeout=15, write_timeout=15),
    )
    await bot.initialize()
    runtime = Runtime(
        settings=settings,
        db=db,
        clock=SystemClock(),
        i18n=I18n(),
        content=load_for_bot(),
        instance="bench:1",
    )
    registry = DeliveryRegistry()
    install_test_kind(registry)
    engine = DeliveryEngine(runtime, bot, registry)
    started = time.monotonic()
    started_at = datetime.now(UTC)
    report = await engine.dispatch_once()
    elapsed = time.monotonic() - started
    await engine.dispatcher.close()
    await bot.shutdown()
    await db.dispose()
    budget = engine.dispatcher.limiter.budget
    return {
        "elapsed": elapsed,
        "started_at": started_at.isoformat(),
        "report": report.as_dict(),
        "peak_rss_mb": peak_rss_mb(),
        "round_trip": budget.round_trips / max(budget.answered, 1),
        "allowance": budget.allowance(),
    }


async def child_ptb(base_url: str, chats: list[int]) -> dict[str, Any]:
    """PTB's AIORateLimiter sending the same messages directly (no outbox, no database)."""
    from telegram import Bot
    from telegram.error import RetryAfter, TelegramError
    from telegram.ext import AIORateLimiter, ExtBot
    from telegram.request import HTTPXRequest

    bot: ExtBot[None] = ExtBot(
        TOKEN,
        base_url=base_url,
        request=HTTPXRequest(connection_pool_size=64, read_timeout=15, write_timeout=15),
        # Telegram's limits, and retries on 429 (the default, 0, would drop those messages).
        rate_limiter=AIORateLimiter(
            overall_max_rate=30,
            overall_time_period=1,
            group_max_rate=20,
            group_time_period=60,
            max_retries=3,
        ),
    )
    assert isinstance(bot, Bot)
    await bot.initialize()
    started = time.monotonic()
    errors: Counter[str] = Counter()
    lateness: list[float] = []

    async def send(chat_id: int, n: int) -> None:
        try:
            await bot.send_message(chat_id, f"Bonjour ! Message n° {n}.")
            lateness.append(time.monotonic() - started)
        except RetryAfter:
            errors["429"] += 1
        except TelegramError as exc:
            errors[type(exc).__name__] += 1

    await asyncio.gather(*(send(chat, n) for n, chat in enumerate(chats)))
    elapsed = time.monotonic() - started
    await bot.shutdown()
    return {
        "elapsed": elapsed,
        "errors": dict(errors),
        "p50": percentile(lateness, 0.5),
        "p99": percentile(lateness, 0.99),
        "peak_rss_mb": peak_rss_mb(),
    }


# --- the parent: sandbox, data, children, figures ----------------------------------------------


async def run_child(args: list[str]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        *args,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tempfile.gettempdir(),
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed with {process.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def prepare_database(url: str | None, workdir: Path) -> str:
    if url is None:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade(url)
    db = Database(url)
    try:
        if not db.is_sqlite:
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            async with db.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()
    return url


def describe(name: str, count: int, times: list[float], extra: dict[str, Any]) -> dict[str, Any]:
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {"name": name, "messages": count, "rate": rate, **extra}


def parse_latency(text: str) -> tuple[float, float] | None:
    """`20-150` (ms) -> (0.02, 0.15); `50` -> (0.05, 0.05); `0` -> None."""
    low, _, high = text.partition("-")
    bounds = (float(low) / 1000, float(high or low) / 1000)
    return None if bounds == (0.0, 0.0) else bounds


async def main(args: argparse.Namespace) -> int:
    from tests.e2e.delivery_support import queue_test_notices, seed_recipients

    n: int = args.n
    latency = parse_latency(args.latency)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = await prepare_database(args.database_url, Path(tmp))
        sandbox_api = SandboxBotAPI(
            flood_limits=True,
            strict_flood=args.strict,
            latency=latency,
            latency_seed=args.seed,
            latency_uplink=args.uplink,
        )
        async with sandbox_api as sandbox:
            sandbox.add_bot(TOKEN, username="relais_bench_bot")
            db = Database(url)
            recipients = await seed_recipients(db, sandbox, n)
            chats = [r.chat_id for r in recipients]
            await queue_test_notices(db, recipients, datetime.now(UTC), key="bench:1")

            # 1. the outbox
            outbox = await run_child(["--child", "outbox", url, sandbox.base_url])
            sent = [m for m in sandbox.all_sent() if m.method == "sendMessage"]
            per_chat = Counter(m.chat_id for m in sent)
            async with db.unit_of_work() as session:
                rows = (await session.execute(select(Delivery.due_at, Delivery.sent_at))).all()
            # Lateness counts from when the engine could send (the child process needs a
            # couple of seconds to start): sent_at - max(due_at, engine start).
            began = datetime.fromisoformat(outbox["started_at"])
            lateness = [(s - max(d, began)).total_seconds() for d, s in rows if s is not None]
            results.append(
                describe(
                    "outbox (bot/delivery)",
                    len(sent),
                    sorted(m.sent_at for m in sent),
                    {
                        "429": sandbox.stats.flood_429,
                        "most": sandbox.stats.most_in_any_window(1.0),
                        "duplicates": sum(1 for c in chats if per_chat[c] > 1),
                        "losses": sum(1 for c in chats if per_chat[c] == 0),
                        "p50": percentile(lateness, 0.5),
                        "p99": percentile(lateness, 0.99),
                        "peak_rss_mb": outbox["peak_rss_mb"],
                        "elapsed": outbox["elapsed"],
                        "round_trip": outbox["round_trip"],
                        "allowance": outbox["allowance"],
                    },
                )
            )
            await db.dispose()

            # 2. PTB's AIORateLimiter, same chats, no outbox
            if not args.skip_ptb:
                await asyncio.sleep(1.5)  # let every chat's and the bot's bucket refill
                sandbox.stats.reset()
                before = len(sandbox.all_sent())
                chats_file = Path(tmp) / "chats.json"
                chats_file.write_text(json.dumps(chats))
                ptb = await run_child(["--child", "ptb", str(chats_file), sandbox.base_url])
                sent = sandbox.all_sent()[before:]
                per_chat = Counter(m.chat_id for m in sent)
                results.append(
                    describe(
                        "PTB AIORateLimiter (direct)",
                        len(sent),
                        sorted(m.sent_at for m in sent),
                        {
                            "429": sandbox.stats.flood_429,
                            "most": sandbox.stats.most_in_any_window(1.0),
                            "duplicates": sum(1 for c in chats if per_chat[c] > 1),
                            "losses": sum(1 for c in chats if per_chat[c] == 0),
                            "p50": ptb["p50"],
                            "p99": ptb["p99"],
                            "peak_rss_mb": ptb["peak_rss_mb"],
                            "elapsed": ptb["elapsed"],
                        },
                    )
                )

    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    if latency is None:
        network = "no latency"
    else:
        network = (
            f"latency {latency[0] * 1000:.0f}-{latency[1] * 1000:.0f} ms "
            f"(seed {args.seed}, {args.uplink:.0%} before arrival)"
        )
    print(f"delivery benchmark: N={n} distinct chats, {backend}, {network}")
    if args.strict:
        print(
            "flood limits: strict, at most 30 sent+edited in any trailing second at arrival; "
            "1/s per chat (burst 3), 20/min per group"
        )
    else:
        print("flood limits: 30/s per bot (burst 30), 1/s per chat (burst 3), 20/min per group")
    header = (
        f"{'':30} {'msg/s':>7} {'ratio':>6} {'429s':>5} {'max/s':>5} {'dup':>4} {'lost':>5} "
        f"{'p50 late':>9} {'p99 late':>9} {'peak RSS':>9} {'elapsed':>8}"
    )
    print(header)
    for r in results:
        print(
            f"{r['name']:30} {r['rate']:7.2f} {r['rate'] / TELEGRAM_LIMIT:6.3f} {r['429']:5d} "
            f"{r['most']:5d} {r['duplicates']:4d} {r['losses']:5d} {r['p50']:8.1f}s "
            f"{r['p99']:8.1f}s {r['peak_rss_mb']:7.0f}MB {r['elapsed']:7.1f}s"
        )
    outbox = results[0]
    # Each message holds its budget slot one second plus its round trip, less the allowance.
    held = 1.0 + outbox["round_trip"] - outbox["allowance"]
    print(
        f"outbox: mean round trip {outbox['round_trip'] * 1000:.0f} ms seen by the dispatcher, "
        f"allowance {outbox['allowance'] * 1000:.0f} ms: a slot is held {held:.3f} s, "
        f"so at most {30 / held:.2f} msg/s ({30 / held / TELEGRAM_LIMIT:.3f})"
    )
    return 1 if any(r["losses"] for r in results[:1]) else 0


def cli() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        # Children report in JSON on stdout; their libraries' logs would only be noise here.
        logging.basicConfig(level=logging.CRITICAL)
        kind = sys.argv[2]
        if kind == "outbox":
            result = asyncio.run(child_outbox(sys.argv[3], sys.argv[4]))
        else:
            chats = json.loads(Path(sys.argv[3]).read_text())
            result = asyncio.run(child_ptb(sys.argv[4], chats))
        print(json.dumps(result))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=3000, help="messages (distinct chats)")
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (its tables are EMPTIED); default: SQLite temp"
    )
    parser.add_argument("--skip-ptb", action="store_true", help="skip the AIORateLimiter run")
    parser.add_argument(
        "--strict", action="store_true", help="30 sent+edited messages in any trailing second"
    )
    parser.add_argument(
        "--latency", default="0", help="round trip of each request, LOW-HIGH ms (e.g. 20-150)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the latency draws")
    parser.add_argument(
        "--uplink", type=float, default=0.5, help="share of the round trip before arrival"
    )
    args = parser.parse_args()
    return asyncio.run(main(args))


if __name__ == "__main__":
    raise SystemExit(cli())
