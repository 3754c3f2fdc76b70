"""Authorisation everywhere: the table of bot/services/access.py against the real Application.

* Every handler registered in the Application (ConversationHandler entry points, states and
  fallbacks included) answers a command or callback area that the table lists: nothing is
  reachable that the table does not govern (deny by default).
* Every command, menu button and callback area, sent by a merchant, a trainer and a
  coordinator of ANOTHER cohort, and a stranger: refused exactly where the table says so,
  and a refusal changes nothing.
* Forged callback data — other people's ids, another cohort's objects, garbage, 64 bytes of
  noise — never changes any row of any table, never messages anyone else, and never reaches
  the error handler.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ConversationHandler

from bot.callbacks import AREAS
from bot.models import (
    Attendance,
    Broadcast,
    ObjectiveCheckin,
    Question,
    Role,
    Rsvp,
    TipReceipt,
)
from bot.sandbox.simulator import SimUser
from bot.services.access import COMMAND_ACCESS, Access
from handlers.access import refusal
from handlers.menu import MERCHANT_MENU, STAFF_MENU
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click
from tests.factories import build_objective, build_session
from tests.privacy_scan import snapshot_all

# --- the registered handlers against the table ---------------------------------------------

# The callback areas and their access, from the codec (bot/callbacks.py).
AREA_ACCESS = {name: area.access for name, area in AREAS.items()}


def walk(handlers: list[BaseHandler[Any, Any, Any]]) -> Iterator[BaseHandler[Any, Any, Any]]:
    """Every handler, conversations opened up (entry points, states, fallbacks)."""
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            yield from walk(list(handler.entry_points))
            for state_handlers in handler.states.values():
                yield from walk(list(state_handlers))
            yield from walk(list(handler.fallbacks))
        else:
            yield handler


def areas_of(pattern: str) -> set[str]:
    """The areas of the table that a callback pattern accepts (e.g. `^qa?:` -> q and qa).

    Whatever else a pattern might accept, the access gate refuses an area the table does not
    list before any handler sees it (test_unknown_commands_and_areas_are_refused_by_default).
    """
    assert pattern.startswith("^"), f"callback pattern {pattern!r} is not anchored"
    head = re.compile(pattern[1:].split(":", 1)[0].removesuffix("$"))
    return {area for area in AREA_ACCESS if head.fullmatch(area)}


def registered(relais: Harness) -> tuple[set[str], set[str], int]:
    """(commands, callback areas, catch-all callback handlers) of the running Application."""
    assert relais.app is not None
    commands: set[str] = set()
    areas: set[str] = set()
    catch_all = 0
    for group in relais.app.handlers.values():
        for handler in walk(list(group)):
            if isinstance(handler, CommandHandler):
                commands |= set(handler.commands)
            elif isinstance(handler, CallbackQueryHandler):
                pattern = handler.pattern
                if pattern is None:
                    catch_all += 1
                    continue
                text = str(pattern if isinstance(pattern, str) else pattern.pattern)
                found = areas_of(text)
                assert found, f"callback pattern {text!r} matches no area of the table"
                areas |= found
    return commands, areas, catch_all


async def test_every_registered_handler_is_governed_by_the_table(relais: Harness) -> None:
    commands, areas, catch_all = registered(relais)
    assert commands - set(COMMAND_ACCESS) == set(), "commands missing from COMMAND_ACCESS"
    assert areas - set(AREA_ACCESS) == set(), "callback areas missing from the codec"
    # The one catch-all is the fallback that answers stale buttons ("no longer valid").
    assert catch_all == 1
    menu_commands = {command for _, command in (*MERCHANT_MENU, *STAFF_MENU)}
    assert menu_commands - set(COMMAND_ACCESS) == set()
    # And the table lists nothing that nobody handles (except `/annuler`, a fallback).
    assert set(COMMAND_ACCESS) - commands == set()


# --- the people -------------------------------------------------------------------------------

ANYONE = frozenset({Access.ANYONE})
MERCHANT = ANYONE | {Access.MEMBER, Access.MERCHANT}
TRAINER = ANYONE | {Access.MEMBER, Access.STAFF, Access.TRAINER}
# A coordinator may do everything a trainer may (DESIGN.md): a small commune often has one
# person in both roles.
COORDINATOR = ANYONE | {Access.MEMBER, Access.STAFF, Access.TRAINER, Access.COORDINATOR}


@dataclass
class Persona:
    label: str
    user: SimUser
    allowed: frozenset[Access]
    onboarded: bool


@dataclass
class World:
    """Cohort A's objects (which the personas of cohort B must not touch), and the personas."""

    cohort_a: int
    session_a: int
    objective_a: int
    question_a: int
    broadcast_a: int
    alice_member: int
    tip_a: str
    people_a: list[SimUser]
    personas: list[Persona] = field(default_factory=list)


TIP = "avis-01-au-bon-moment"


async def world(relais: Harness) -> World:
    now = relais.clock.now()
    a = await relais.make_cohort("Estaimpuis 2026", "Estaimpuis")
    b = await relais.make_cohort("Pecq 2026", "Pecq")
    tom, claire, alice = relais.user("Tom"), relais.user("Claire"), relais.user("Alice")
    await relais.make_member(tom, a, role=Role.TRAINER, business_name=None)
    await relais.make_member(claire, a, role=Role.COORDINATOR, business_name=None)
    alice_member = await relais.make_member(alice, a, business_name="Salon Alice")
    bruno, vera, victor = relais.user("Bruno"), relais.user("Vera"), relais.user("Victor")
    await relais.make_member(bruno, b, business_name="Boulangerie Bruno")
    await relais.make_member(vera, b, role=Role.TRAINER, business_name=None)
    await relais.make_member(victor, b, role=Role.COORDINATOR, business_name=None)
    sam = relais.user("Sam")
    relais.sandbox.mark_started(sam.id)
    async with relais.session() as session:
        sessions = []
        for cohort in (a, b):
            ts = build_session(
                cohort,
                now + timedelta(days=7),
                number=1,
                checkin_token=f"tok{cohort.id}",
                capacity=10,
            )
            session.add(ts)
            sessions.append(ts)
        await session.flush()
        objective = build_objective(
            alice_member, a, "Publier deux Reels par semaine", target_per_week=2
        )
        question = Question(
            member_id=alice_member.id, cohort_id=a.id, text="Faut-il être sur TikTok ?"
        )
        draft = Broadcast(
            cohort_id=a.id, author_id=None, text="Bonjour à tous", audience="all", status="draft"
        )
        session.add_all([objective, question, draft])
        await session.flush()
        session.add_all(
            [
                ObjectiveCheckin(objective_id=objective.id, asked_at=now),
                Rsvp(session_id=sessions[0].id, member_id=alice_member.id, answer="yes"),
                TipReceipt(member_id=alice_member.id, tip_id=TIP, via="drip"),
            ]
        )
        ids = (sessions[0].id, objective.id, question.id, draft.id)
    found = World(a.id, *ids, alice_member.id, TIP, [tom, claire, alice])
    found.personas = [
        Persona("merchant of another cohort", bruno, MERCHANT, True),
        Persona("trainer of another cohort", vera, TRAINER, True),
        Persona("coordinator of another cohort", victor, COORDINATOR, True),
        Persona("stranger", sam, ANYONE, False),
    ]
    # A first message each: the access gate records activity once (15 min granularity), so
    # that afterwards only what a handler does could change the database.
    for persona in found.personas:
        await persona.user.send("/aide")
    return found


def _fr(relais: Harness) -> Any:
    assert relais.app is not None
    assert relais.app.bot_data.runtime is not None
    return relais.app.bot_data.runtime.i18n("fr")


async def _errors(relais: Harness) -> list[BaseException]:
    """Every exception that reaches the Application's error handlers from now on."""
    seen: list[BaseException] = []

    async def record(update: object, context: Any) -> None:
        if context.error is not None:
            seen.append(context.error)

    assert relais.app is not None
    relais.app.add_error_handler(record)
    return seen


async def flush(relais: Harness) -> None:
    """Write PTB's conversation states and user_data now (instead of at its next interval)."""
    assert relais.app is not None
    await relais.app.update_persistence()


def _others_inbox(relais: Harness, people: list[SimUser]) -> int:
    return sum(len(relais.sandbox.messages_to(p.id)) for p in people)


# --- commands and menu buttons ---------------------------------------------------------------


async def test_commands_and_menu_buttons_are_refused_where_the_table_says(
    relais: Harness,
) -> None:
    w = await world(relais)
    errors = await _errors(relais)
    t = _fr(relais)
    labels = {command: t(label) for label, command in (*MERCHANT_MENU, *STAFF_MENU)}
    checked = refused = 0
    for persona in w.personas:
        for command, access in sorted(COMMAND_ACCESS.items()):
            texts = [f"/{command}"] + ([labels[command]] if command in labels else [])
            for text in texts:
                expect_refusal = access not in persona.allowed
                if expect_refusal:
                    await flush(relais)
                    before = await snapshot_all(relais.db)
                mark = persona.user.mark()
                await persona.user.send(text)
                replies = [m.text for m in persona.user.inbox_since(mark)]
                expected = refusal(t, access, persona.onboarded)
                if not expect_refusal:
                    assert expected not in replies, f"{persona.label} refused {text}"
                    await persona.user.send("/annuler")  # leave any guided flow it opened
                else:
                    refused += 1
                    assert replies == [expected], f"{persona.label} sent {text}: {replies}"
                    assert await snapshot_all(relais.db) == before, f"{text} changed data"
                checked += 1
    assert errors == []
    # The figures: 4 personas x every command (and its menu button); most are refused.
    assert checked >= 4 * len(COMMAND_ACCESS)
    assert refused >= 40, refused


async def test_unknown_commands_and_areas_are_refused_by_default(relais: Harness) -> None:
    w = await world(relais)
    errors = await _errors(relais)
    before = await snapshot_all(relais.db)
    for persona in w.personas:
        await persona.user.send("/nimportequoi")
        await persona.user.expect("Je ne connais pas cette commande")
        message = persona.user.last
        assert message is not None
        record = await forge_click(relais, persona.user, message, "zzz:1")
        assert record.text == "Ce bouton n'est plus valable."
    assert await snapshot_all(relais.db) == before
    assert errors == []


async def test_a_coordinator_who_is_not_a_trainer_broadcasts_and_calls_the_roll(
    relais: Harness,
) -> None:
    cohort = await relais.make_cohort("Estaimpuis 2026", "Estaimpuis")
    claire, alice = relais.user("Claire"), relais.user("Alice")
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)
    alice_member = await relais.make_member(alice, cohort, business_name="Salon Alice")
    now = relais.clock.now()
    async with relais.session() as session:
        session.add(build_session(cohort, now - timedelta(minutes=10), number=1))
    errors = await _errors(relais)

    await claire.send("/diffuser")
    await claire.expect("Un message pour le groupe")
    await claire.send("Rendez-vous jeudi à la salle du Conseil !")
    await claire.click("👥 Tout le groupe (1)")
    await claire.click("✅ Envoyer maintenant")
    await claire.expect("C'est parti, vers 1 personne")
    await relais.tick()
    await alice.expect("Rendez-vous jeudi à la salle du Conseil !")

    await claire.send("/appel")
    await claire.expect("Appel — séance 1")
    await claire.click("⬜ Alice (Salon Alice)")
    await claire.expect("1 présents sur 1")
    async with relais.session() as session:
        present = (await session.scalars(select(Attendance.member_id))).all()
    assert present == [alice_member.id]
    assert errors == []


# --- callbacks ---------------------------------------------------------------------------------


def forged_data(w: World) -> list[list[str]]:
    """Batches of forged data: the real-looking data aimed at cohort A's objects, area by area,
    then the garbage of each area, then noise (a change is reported with its batch)."""
    s, o, q, bc, c, m, tip = (
        w.session_a,
        w.objective_a,
        w.question_a,
        w.broadcast_a,
        w.cohort_a,
        w.alice_member,
        w.tip_a,
    )
    aimed = [
        *(f"rsvp:{s}:{a}" for a in ("yes", "no", "waitlist")),
        f"ics:{s}",
        *(f"obj:{o}:{a}" for a in ("done", "doing", "stuck", "num", "n:3", "skip", "close")),
        *(f"obj:{o}:{a}" for a in ("closeok", "carry", "drop", "card")),
        f"objset:close:{o}",
        "objset:resume",
        "objset:ok",
        f"tip:{tip}:up",
        f"tip:{tip}:down",
        "q:send",
        "q:edit",
        "q:cancel",
        f"qa:{q}",
        *(f"sess:{s}:{a}" for a in ("cancel", "cancelok", "move", "place", "summary", "card")),
        "newsess:ok",
        "newsess:d:20261202",
        "newsess:c:0",
        f"roll:{s}:{m}",
        f"roll:{s}:add",
        f"roll:{s}:p:1",
        f"pres:{s}",
        "grp:open",
        "grp:page:1",
        *(f"bc:{bc}:{a}" for a in ("now", "sched", "x", "cancel", "progress", "a:all")),
        f"bc:{bc}:at:1796000000",
        "bc:pushok:no-such-tip",
        "bc:push:no-such-tip",
        f"inv:staff:{c}:trainer",
        f"inv:staff:{c}:coordinator",
        f"inv:flyer:{c}",
        *(f"inv:boost:{c}:{a}" for a in ("show", "back", "m1", "m3", "end", "endok", "alumni")),
        f"cohort:{c}",
        f"cohort:{c}:inv",
        "priv:forget:confirm",
        "lang:xx",
        "onb:consent:yes",
        "onb:sector:beauty",
        "onb:keep",
        "menu:objectif",
        "set:days:mon",
    ]
    by_area: dict[str, list[str]] = {}
    for item in aimed:
        by_area.setdefault(item.split(":", 1)[0], []).append(item)
    batches = list(by_area.values())
    for area in sorted(AREA_ACCESS):
        batches.append(
            [
                f"{area}:",
                f"{area}:abc",
                f"{area}:-1",
                f"{area}:99999999999:yes",
                f"{area}:" + "9" * (63 - len(area)),
            ]
        )
    rng = random.Random(7)
    batches.append(
        ["".join(rng.choice(string.printable.strip()) for _ in range(64)) for _ in range(4)]
        + ["é" * 32, "🙂" * 16, ":", "::::", " "]
    )
    for batch in batches:
        for item in batch:
            assert len(item.encode()) <= 64, item
    return batches


async def test_callback_areas_are_refused_where_the_table_says(relais: Harness) -> None:
    w = await world(relais)
    errors = await _errors(relais)
    t = _fr(relais)
    refused = 0
    for persona in w.personas:
        message = persona.user.last
        assert message is not None
        for area, access in sorted(AREA_ACCESS.items()):
            expect_refusal = access not in persona.allowed
            if expect_refusal:
                await flush(relais)
                before = await snapshot_all(relais.db)
            record = await forge_click(relais, persona.user, message, f"{area}:1")
            assert record.answered, f"{area} left a spinner for the {persona.label}"
            if expect_refusal:
                refused += 1
                assert record.text == refusal(t, access, persona.onboarded)
                assert record.show_alert
                assert await snapshot_all(relais.db) == before
    assert errors == []
    assert refused >= 30, refused


async def test_forged_callback_data_never_changes_anything(relais: Harness) -> None:
    w = await world(relais)
    errors = await _errors(relais)
    batches = forged_data(w)
    before = await snapshot_all(relais.db)
    others = _others_inbox(relais, w.people_a)
    spinners: list[str] = []
    sent = 0
    for persona in w.personas:
        message = persona.user.last
        assert message is not None
        for batch in batches:
            # A batch goes out at once (the bot takes them in order): one wait, not five.
            clicks = [relais.sandbox.user_clicks(persona.user.id, message, item) for item in batch]
            await relais.sim.settle([pending for pending, _ in clicks])
            sent += len(batch)
            spinners += [
                f"{persona.label}: {record.data!r}" for _, record in clicks if not record.answered
            ]
            await flush(relais)
            after = await snapshot_all(relais.db)
            if after != before:
                changed = [name for name in after if after[name] != before[name]]
                pytest.fail(f"{persona.label} changed {changed} with {batch!r}")
    assert spinners == []
    assert _others_inbox(relais, w.people_a) == others, "someone of cohort A was messaged"
    assert errors == [], errors
    # The figures: every forged datum (about 170), by each of the four personas.
    assert sent >= 600, sent
