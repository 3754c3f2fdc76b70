"""A crowd at once: updates of different people run together, those of one person in order.

The gate (handlers/access.py) is slowed on purpose for some updates, so that an update that
could overtake another one would: what these tests prove is the order, not a lucky timing.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import select

from bot.models import Member, Rsvp
from bot.sandbox.server import PendingUpdate
from bot.sandbox.simulator import SimUser, text_entities
from bot.services import access as access_service
from handlers import access
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import plan, room


class SlowGate:
    """Wraps the gate's `load_actor`: chosen calls wait, and the peak of calls in flight."""

    def __init__(self, delay: Any) -> None:
        self.delay = delay  # call number (from 0) -> seconds
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> access_service.Actor:
        number = self.calls
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay(number))
            return await access_service.load_actor(*args, **kwargs)
        finally:
            self.in_flight -= 1


def plain_since(user: SimUser, mark: int) -> list[str]:
    return [event.plain for event in user.sim.sandbox.inbox(user.id)[mark:]]


def positions(replies: list[str], text: str) -> list[int]:
    """Where `text` appears among the replies (an AssertionError if nowhere)."""
    found = [i for i, reply in enumerate(replies) if text in reply]
    assert found, f"no reply contains {text!r}: {replies}"
    return found


def click_now(relais: Harness, user: SimUser, label: str) -> PendingUpdate:
    """Queue a tap on the newest button labelled `label` (or containing it), not waiting."""
    for message in reversed(user.messages):
        for row in message.inline_keyboard:
            for button in row:
                if label in button.text and button.callback_data:
                    return relais.sandbox.user_clicks(user.id, message, button.callback_data)[0]
    raise AssertionError(f"{user.name} sees no button {label!r}")


def say_now(relais: Harness, user: SimUser, text: str) -> PendingUpdate:
    """Queue a text (a command with its entity, as clients send it), not waiting."""
    content: dict[str, Any] = {"text": text}
    if text_entities(text):
        content["entities"] = text_entities(text)
    return relais.sandbox.user_says(user.id, user.id, content)[0]


async def test_a_tap_and_a_text_sent_in_the_same_millisecond_are_handled_in_order(
    relais: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.expect("Bienvenue dans le groupe")
    # The tap is held up at the gate; the text that follows it must wait its turn (taken
    # first, it would be read as her first name: "Merci Salon Alice !").
    gate = SlowGate(lambda n: 0.3 if n == 0 else 0.0)
    monkeypatch.setattr(access, "load_actor", gate)
    mark = alice.mark()
    tap = click_now(relais, alice, "Oui, « Alice »")
    text = say_now(relais, alice, "Salon Alice")
    await relais.sim.settle([tap, text])

    replies = plain_since(alice, mark)
    assert not any("Merci Salon Alice" in t for t in replies), replies
    assert positions(replies, "nom de votre commerce")[0] < positions(replies, "secteur")[0]
    assert gate.peak == 1  # the two never ran at the same time

    await alice.click("💇 Coiffure, beauté")
    await alice.click("📍 Estaimpuis")
    await alice.click("🇫🇷 Français")
    await alice.click("✅ J'accepte")
    await alice.expect("C'est fait, Alice !")
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
    assert member is not None
    assert (member.first_name, member.business_name) == ("Alice", "Salon Alice")


async def test_two_taps_of_one_person_in_the_same_millisecond_keep_the_last_answer(
    relais: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live")
    await r.alice.send("/seances")
    await r.alice.expect("Séance 1")
    gate = SlowGate(lambda n: 0.3 if n == 0 else 0.0)
    monkeypatch.setattr(access, "load_actor", gate)
    mark = r.alice.mark()
    yes = click_now(relais, r.alice, "✅ Je serai là")
    no = click_now(relais, r.alice, "❌ Je ne peux pas venir")
    await relais.sim.settle([yes, no])

    async with relais.session() as session:
        answer = await session.scalar(
            select(Rsvp.answer)
            .join(Member, Member.id == Rsvp.member_id)
            .where(Rsvp.session_id == ts.id, Member.telegram_user_id == r.alice.id)
        )
    assert answer == "no"
    # Each tap redraws the card in place, in the order they were made: the last says no.
    replies = plain_since(r.alice, mark)
    came = positions(replies, "Vous avez dit que vous venez")[0]
    assert came < positions(replies, "Vous avez dit que vous ne pouvez pas venir")[-1]
    assert replies[-1].endswith("Vous avez dit que vous ne pouvez pas venir.")


async def test_fifty_people_mid_onboarding_at_once_each_end_with_their_own_answers(
    relais: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohort = await relais.make_cohort()
    crowd = [relais.user(f"Marchand{n}") for n in range(50)]
    rng = random.Random(16)
    # Each gate waits 0-20 ms at random: the crowd's updates finish in a shuffled order.
    gate = SlowGate(lambda _n: rng.uniform(0, 0.02))
    monkeypatch.setattr(access, "load_actor", gate)
    relais.sim.timeout = 30.0

    async def everyone(step: Any) -> None:
        await relais.sim.settle([step(n, person) for n, person in enumerate(crowd)])

    await everyone(lambda n, p: say_now(relais, p, f"/start join_{cohort.join_code}"))
    await everyone(lambda n, p: click_now(relais, p, f"Oui, « Marchand{n} »"))
    # Every other person types a business name and a commune; the others tap the buttons.
    await everyone(lambda n, p: say_now(relais, p, f"Commerce {n}"))
    sectors = ["💇 Coiffure, beauté", "🔨 Artisanat, construction"]
    await everyone(lambda n, p: click_now(relais, p, sectors[n % 2]))
    await everyone(
        lambda n, p: (
            click_now(relais, p, "📍 Estaimpuis") if n % 2 else say_now(relais, p, "Néchin")
        )
    )
    languages = ["🇫🇷 Français", "🇳🇱 Nederlands", "🇬🇧 English"]
    await everyone(lambda n, p: click_now(relais, p, languages[n % 3]))
    await everyone(lambda n, p: click_now(relais, p, "✅"))
    assert gate.peak > 1, "the crowd was handled one update at a time"

    async with relais.session() as session:
        members = {
            m.telegram_user_id: m
            for m in await session.scalars(select(Member).where(Member.onboarded_at.is_not(None)))
        }
    assert len(members) == 50
    for n, person in enumerate(crowd):
        member = members[person.id]
        assert member.first_name == f"Marchand{n}"
        assert member.business_name == f"Commerce {n}"
        assert member.sector == ("beauty" if n % 2 == 0 else "crafts")
        assert member.commune == ("Estaimpuis" if n % 2 else "Néchin")
        assert member.language == ("fr", "nl", "en")[n % 3]
        assert member.active_cohort_id == cohort.id
        # Their conversation ended: nothing left in PTB's memory for them.
        assert relais.app is not None
        assert not relais.app.user_data.get(person.id)
