"""Fixtures of the end-to-end tests: `relais` is a running Harness (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from tests.e2e.harness import Harness, running_harness


@pytest.fixture
def sandbox_options() -> dict[str, object]:
    """Override in a test module to change the sandbox (flood limits, ...)."""
    return {"flood_limits": False}


@pytest.fixture
async def relais(
    settings: Settings, db: Database, clock: ManualClock, sandbox_options: dict[str, object]
) -> AsyncIterator[Harness]:
    async with running_harness(settings, db, clock, **sandbox_options) as harness:
        yield harness
