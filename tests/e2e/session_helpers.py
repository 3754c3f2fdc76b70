"""Helpers of the sessions' end-to-end tests: a planned session, forged callbacks, the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from bot.models import Cohort, Delivery, Role, TrainingSession
from bot.sandbox.records import CallbackQueryRecord, SentMessage
from bot.sandbox.simulator import SimUser
from tests.e2e.harness import Harness


@dataclass
class Room:
    """A cohort with its trainer, its coordinator and three merchants."""

    cohort: Cohort
    tom: SimUser  # trainer
    claire: SimUser  # coordinator
    alice: SimUser
    bob: SimUser
    carol: SimUser


async def room(relais: Harness) -> Room:
    cohort = await relais.make_cohort()
    tom, claire = relais.user("Tom"), relais.user("Claire")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)
    people = [relais.user(name) for name in ("Alice", "Bob", "Carol")]
    for person in people:
        await relais.make_member(person, cohort, business_name=f"Chez {person.first_name}")
    return Room(cohort, tom, claire, *people)


async def plan(relais: Harness, trainer: SimUser, line: str) -> TrainingSession:
    """The trainer plans a session in one line; returns it as stored."""
    await trainer.send(f"/nouvelle_seance {line}")
    await trainer.expect("Séance planifiée")
    await trainer.expect(re.compile(r"^Séance \d+\n"))  # the card
    async with relais.session() as session:
        ts = await session.scalar(select(TrainingSession).order_by(TrainingSession.id.desc()))
    assert ts is not None
    return ts


async def forge_click(
    relais: Harness, user: SimUser, message: SentMessage, data: str
) -> CallbackQueryRecord:
    """A callback with data of our choosing (a tampered or stale client)."""
    pending, record = relais.sandbox.user_clicks(user.id, message, data, token=relais.sim.token)
    relais.sim._track(pending)
    await relais.sim.settle([pending])
    return record


async def deliveries(relais: Harness, prefix: str = "") -> list[Delivery]:
    async with relais.session() as session:
        rows = await session.scalars(
            select(Delivery).where(Delivery.dedup_key.startswith(prefix)).order_by(Delivery.id)
        )
        return list(rows.all())


# The drip, and the monthly progress check and its reminder (they come on tip days too).
ON_TIP_DAYS = re.compile(r"Astuce|astuce|point du mois")


async def nothing_but_tips(user: SimUser) -> None:
    """Nothing arrived except the tips of the drip and the monthly progress check (moving the
    clock a week crosses tip days)."""
    while True:
        try:
            await user.expect(ON_TIP_DAYS, timeout=0.05)
        except AssertionError:
            break
    await user.expect_nothing()


@dataclass
class RsvpTap:
    """An RSVP button tapped: the callback answer's notice, and the tapped message as edited."""

    notice: str
    alert: bool
    message: SentMessage


async def tap_rsvp(
    user: SimUser, label: str, *, message: SentMessage | None = None, edits: bool = True
) -> RsvpTap:
    """Tap an RSVP button and check that it is answered in place: the callback answer says it,
    the tapped message is edited (`edits=False`: left as it is, the same answer again) and no
    new message is sent (replies in a crowd cost one call of the message budget, not two)."""
    record = await user.click(label, message=message)
    assert record is not None, label
    assert record.answered, record
    assert record.text, record
    tapped = next(m for m in user.messages if m.message_id == record.message_id)
    if edits:
        edited = await user.expect()
        assert edited.message_id == record.message_id, edited
    await user.expect_nothing(within=0.05)
    return RsvpTap(record.text, record.show_alert, tapped)
