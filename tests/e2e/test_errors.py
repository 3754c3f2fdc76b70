"""The error handler: the person is told kindly, the admins are alerted at most once per
interval, and the bot token never appears in what they receive."""

from __future__ import annotations

import logging

import pytest

from bot.config import Settings
from handlers import access
from handlers.errors import ADMIN_ALERT_INTERVAL
from tests.e2e.harness import Harness

ADMIN_ID = 10_001  # the harness's first user


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"admin_ids": [ADMIN_ID]})


async def test_a_crash_is_apologised_for_and_alerts_the_admin_once_per_interval(
    relais: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    admin = relais.user("Claire")
    relais.sandbox.mark_started(admin.id)
    alice = relais.user("Alice")
    token = relais.settings.token
    assert token

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"database exploded while using {token}")

    monkeypatch.setattr(access, "load_actor", broken)
    caplog.set_level(logging.ERROR)

    await alice.send("/aide")
    await alice.expect("Oups, quelque chose s'est mal passé")
    alert = await admin.expect("Relais error")
    assert "database exploded" in alert.text
    assert token not in alert.text
    assert "<BOT_TOKEN>" in alert.text
    assert all(token not in record.getMessage() for record in caplog.records)

    # A burst of errors is not a burst of alerts...
    await alice.send("/aide")
    await alice.expect("Oups")
    await admin.expect_nothing()

    # ...but the next error after the interval alerts again.
    relais.clock.advance(ADMIN_ALERT_INTERVAL)
    await alice.send("/aide")
    await alice.expect("Oups")
    await admin.expect("Relais error")


async def test_the_apology_is_in_the_persons_language(
    relais: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    relais.user("Claire")
    piet = relais.user("Piet", language_code="nl")

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(access, "load_actor", broken)
    await piet.send("/help")
    # Before anyone knew who Piet is, his Telegram language chose the words; and only one
    # apology: nothing ran after the access gate failed.
    await piet.expect("Oei, er is aan mijn kant iets misgelopen")
    await piet.expect_nothing()
