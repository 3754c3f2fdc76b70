"""A dispatcher-only process for the multi-process tests of the delivery engine.

    python -m tests.e2e.delivery_worker NAME

Reads its settings from the environment (BOT_TOKEN, DATABASE_URL, TELEGRAM_API_BASE_URL),
runs the real engine's dispatcher loop as process NAME with the test kind installed, and
exits when the outbox has had nothing pending or sending for a moment (or after
`WORKER_TIMEOUT` seconds). It does not poll updates: two processes polling one bot would
fight over getUpdates, and what is under test here is sharing the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.clock import SystemClock
from bot.config import Settings
from bot.content import load_for_bot
from bot.db import Database
from bot.delivery.engine import DeliveryEngine
from bot.delivery.registry import DeliveryRegistry
from bot.i18n import I18n
from bot.runtime import Runtime
from tests.e2e.delivery_support import install_test_kind, outbox_counts


async def work(name: str) -> dict[str, object]:
    settings = Settings()
    token = settings.token
    assert token
    db = Database(settings.database_url)
    bot = Bot(
        token,
        base_url=settings.telegram_api_base_url,
        request=HTTPXRequest(connection_pool_size=32, read_timeout=15, write_timeout=15),
    )
    await bot.initialize()
    runtime = Runtime(
        settings=settings,
        db=db,
        clock=SystemClock(),
        i18n=I18n(default_language=settings.default_language, default_zone=settings.timezone),
        content=load_for_bot(),
        instance=name,
    )
    registry = DeliveryRegistry()
    install_test_kind(registry)
    engine = DeliveryEngine(runtime, bot, registry)
    deadline = time.monotonic() + float(os.environ.get("WORKER_TIMEOUT", "120"))
    done = False

    async def watch() -> None:
        nonlocal done
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            counts = await outbox_counts(db)
            if counts["pending"] + counts["sending"] == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 1.0:
                    break
            else:
                quiet_since = None
            await asyncio.sleep(0.2)
        done = True
        engine.wake()

    await asyncio.gather(engine.run(lambda: not done), watch())
    await engine.dispatcher.close()
    await bot.shutdown()
    await db.dispose()
    return {"name": name, "share": engine.dispatcher.limiter.share}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = asyncio.run(work(sys.argv[1]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
