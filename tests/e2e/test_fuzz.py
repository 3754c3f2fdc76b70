"""Property: whatever well-formed updates arrive, the bot never crashes and never breaks
Telegram's rules.

Hypothesis draws sequences of updates of every kind — text (any Unicode, HTML-looking, up to
4 096 characters), commands of the table with random arguments and deep-link payloads, menu
buttons in three languages, stickers, photos, voice notes, documents, locations, contacts,
edited messages, replies, group messages, presses of real buttons and callbacks with random
data (≤ 64 bytes) — from registered merchants and staff of two cohorts and from strangers.
They go to the real Application through the sandbox. After each sequence:

* no exception reached the Application's error handlers;
* the sandbox answered no 4xx nor 5xx to the bot: every message it sent fits Telegram's
  limits (text ≤ 4 096, caption ≤ 1 024, callback data ≤ 64 bytes, valid HTML, known chats).

The Application, the sandbox and the database live for the whole run (state builds up, as in
production). Runtime is bounded by the number of sequences; a longer run:

    RELAIS_FUZZ_EXAMPLES=1000 .venv/bin/pytest tests/e2e/test_fuzz.py -q

(`RELAIS_FUZZ_ACTIONS` sets the longest sequence, 40 by default.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.callbacks import AREAS as CODEC_AREAS
from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.i18n import LANGUAGES, I18n
from bot.models import Role, StaffInvitation
from bot.sandbox.records import SentMessage
from bot.sandbox.server import PendingUpdate
from bot.sandbox.simulator import SimUser, text_entities, tiny_png
from bot.services.access import COMMAND_ACCESS
from handlers.menu import MERCHANT_MENU, STAFF_MENU
from tests.conftest import TEST_DATABASE_URL, truncate_all
from tests.e2e.harness import Harness, running_harness
from tests.factories import build_session

EXAMPLES = int(os.environ.get("RELAIS_FUZZ_EXAMPLES", "120"))
MAX_ACTIONS = int(os.environ.get("RELAIS_FUZZ_ACTIONS", "40"))
GROUP_ID = -100_777


@dataclass
class Stage:
    """The running bot and the people in the fuzzed world."""

    relais: Harness
    users: list[SimUser]
    payloads: list[str]
    errors: list[BaseException] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # the sandbox's 4xx/5xx answers
    last_text: dict[int, int] = field(default_factory=dict)  # user -> their last text's id
    updates: int = 0

    def bot_messages(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.relais.sandbox.messages_to(chat_id) if not m.deleted]


@asynccontextmanager
async def stage(settings_: Settings, clock: ManualClock) -> AsyncIterator[Stage]:
    db = Database(settings_.database_url)
    if TEST_DATABASE_URL:
        await truncate_all(db)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(db.dispose)
        # Flood limits off, as in every end-to-end test: a burst of 40 updates from one person
        # in a few milliseconds is not human (tests/e2e/test_faults.py covers 429s).
        relais = await stack.enter_async_context(
            running_harness(settings_, db, clock, flood_limits=False)
        )
        a = await relais.make_cohort("Estaimpuis 2026", "Estaimpuis")
        b = await relais.make_cohort("Pecq 2026", "Pecq")
        people = [
            ("Alice", a, Role.MERCHANT, "fr"),
            ("Tom", a, Role.TRAINER, "fr"),
            ("Claire", a, Role.COORDINATOR, "fr"),
            ("Jan", a, Role.MERCHANT, "nl"),
            ("Bruno", b, Role.MERCHANT, "en"),
            ("Vera", b, Role.TRAINER, "fr"),
        ]
        users = []
        for name, cohort, role, language in people:
            user = relais.user(name, language_code=language)
            await relais.make_member(
                user,
                cohort,
                role=role,
                business_name=f"Chez {name}" if role is Role.MERCHANT else None,
            )
            users.append(user)
        for name, language in (("Sam", "fr"), ("Zoé", "nl"), ("Yann", "en"), ("Ünal", None)):
            user = relais.user(name, language_code=language or "")
            relais.sandbox.mark_started(user.id)
            users.append(user)
        relais.sim.group(GROUP_ID, "Commerçants", users[:5])
        now = relais.clock.now()
        async with relais.session() as session:
            ts = build_session(
                a,
                now + timedelta(minutes=30),  # the check-in window is open
                ends_at=now + timedelta(hours=2),
                number=1,
                checkin_token="fuzzcheckin",
                capacity=2,
            )
            invitation = StaffInvitation(
                token="fuzzstaff",
                cohort_id=b.id,
                role="trainer",
                expires_at=now + timedelta(days=3),
            )
            session.add_all([ts, invitation])
        payloads = [
            f"join_{a.join_code}",
            f"join_{b.join_code}",
            "checkin_fuzzcheckin",
            "staff_fuzzstaff",
            "join_NOPE",
            "staff_",
            "checkin_",
        ]
        found = Stage(relais, users, payloads)
        assert relais.app is not None

        async def record(update: object, context: Any) -> None:
            if context.error is not None:
                found.errors.append(context.error)

        relais.app.add_error_handler(record)
        sandbox = relais.sandbox
        answer = sandbox._answer

        async def answer_and_note(*args: Any) -> tuple[int, bytes, float]:
            # What Telegram would have refused, with its reason (for the failure message).
            status, body, delay = await answer(*args)
            if status >= 400:
                found.refused.append(f"{args[2]}: {status} {body.decode()[:200]}")
            return status, body, delay

        sandbox._answer = answer_and_note  # type: ignore[method-assign]
        yield found


# --- what people do ----------------------------------------------------------------------------

I18N = I18n()
MENU_LABELS = sorted(
    {I18N(lang)(label) for lang in LANGUAGES for label, _ in (*MERCHANT_MENU, *STAFF_MENU)}
)
COMMANDS = sorted({*COMMAND_ACCESS, "help", "start"})
AREAS = sorted(CODEC_AREAS)

# Any Unicode but lone surrogates (not valid in JSON); Telegram trims messages, never sends
# an empty or blank one, and caps a message at 4 096 characters.
unicode = st.characters(exclude_categories=("Cs",))
nasty = st.sampled_from(
    ["<b>", "</i>", "&", "&amp;", "<script>alert(1)</script>", "<a href='x'>", "\u202e", "\n"]
)
free_text = st.one_of(
    st.text(unicode, min_size=1, max_size=200),
    st.lists(st.one_of(nasty, st.text(unicode, max_size=20)), min_size=1, max_size=12).map("".join),
    st.integers(1000, 4096).map(lambda n: ("Boutique " * 512)[:n]),
    st.sampled_from(["oui", "non", "1", "0", "12/12/2026 19:00", "demain", "2", "99999"]),
).filter(lambda text: text.strip() != "")


def utf8_at_most(limit: int) -> Any:
    return lambda text: 0 < len(text.encode()) <= limit


callback_data = st.one_of(
    st.tuples(
        st.sampled_from(AREAS),
        st.lists(
            st.one_of(
                st.integers(-5, 10**12).map(str),
                st.sampled_from(["yes", "no", "up", "down", "ok", "x", "new", "confirm", ""]),
                st.text(unicode, max_size=6),
            ),
            max_size=4,
        ),
    ).map(lambda parts: ":".join([parts[0], *parts[1]])),
    st.text(unicode, min_size=1, max_size=64),
    st.binary(min_size=1, max_size=64).map(lambda raw: raw.decode("latin-1")),
).filter(utf8_at_most(64))


@dataclass(frozen=True)
class Action:
    who: int  # index into Stage.users (modulo)
    kind: str
    text: str = ""
    number: int = 0


def action(kind: str, **values: Any) -> Any:
    return st.builds(Action, who=st.integers(0, 99), kind=st.just(kind), **values)


ACTION = st.one_of(
    action("text", text=free_text),
    action(
        "command",
        text=st.tuples(st.sampled_from(COMMANDS), st.one_of(st.just(""), free_text)).map(
            lambda c: f"/{c[0]} {c[1]}".strip()
        ),
    ),
    action("deep_link", number=st.integers(0, 99)),
    action("menu", text=st.sampled_from(MENU_LABELS)),
    action("press", number=st.integers(0, 99)),
    action("callback", text=callback_data),
    action("media", text=st.sampled_from(["sticker", "photo", "voice", "document", "place"])),
    action("caption", text=free_text),
    action("contact"),
    action("edit", text=free_text),
    action("reply", text=free_text),
    action("group", text=st.one_of(free_text, st.sampled_from(COMMANDS).map(lambda c: "/" + c))),
    action("tick", number=st.integers(1, 180)),
)


def _file_content(stage_: Stage, kind: str, caption: str | None = None) -> dict[str, Any]:
    sandbox = stage_.relais.sandbox
    if kind == "photo":
        stored = sandbox.store_file(
            tiny_png(), kind="photo", filename="p.png", mime_type="image/png", width=4, height=4
        )
        content: dict[str, Any] = {"photo": sandbox.photo_sizes(stored)}
    elif kind == "document":
        stored = sandbox.store_file(b"%PDF-1.4\n", kind="document", filename="d.pdf")
        content = {"document": sandbox.document_json(stored)}
    elif kind == "sticker":
        stored = sandbox.store_file(b"RIFF\x00\x00\x00\x00WEBPVP8 ", kind="sticker")
        content = {
            "sticker": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        }
    elif kind == "voice":
        stored = sandbox.store_file(b"OggS\x00", kind="voice", mime_type="audio/ogg")
        content = {
            "voice": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": 2,
            }
        }
    else:
        content = {"location": {"latitude": 50.7, "longitude": 3.3}}
    if caption:
        content["caption"] = caption[:1024]
    return content


def _text(text: str) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    entities = text_entities(text)
    if entities:
        content["entities"] = entities
    return content


async def play(stage_: Stage, actions: list[Action]) -> None:
    """Push every update of the sequence, then wait until the bot has handled them all."""
    relais = stage_.relais
    sandbox = relais.sandbox
    pending: list[PendingUpdate] = []

    def say(user: SimUser, content: dict[str, Any], chat_id: int | None = None) -> None:
        update, message = sandbox.user_says(user.id, chat_id or user.id, content)
        if "text" in content and chat_id is None:
            stage_.last_text[user.id] = message["message_id"]
        pending.append(update)

    for item in actions:
        user = stage_.users[item.who % len(stage_.users)]
        mine = stage_.bot_messages(user.id)
        if item.kind in ("text", "command", "menu"):
            say(user, _text(item.text))
        elif item.kind == "deep_link":
            say(user, _text(f"/start {stage_.payloads[item.number % len(stage_.payloads)]}"))
        elif item.kind == "media":
            say(user, _file_content(stage_, item.text))
        elif item.kind == "caption":
            say(user, _file_content(stage_, "photo", item.text))
        elif item.kind == "contact":
            say(user, {"contact": {"phone_number": "+32470000000", "first_name": user.name}})
        elif item.kind == "reply" and mine:
            content = _text(item.text)
            content["reply_to_message"] = sandbox.message_json(mine[-1])
            say(user, content)
        elif item.kind == "edit" and user.id in stage_.last_text:
            update, _ = sandbox.user_edits(
                user.id, user.id, stage_.last_text[user.id], _text(item.text)
            )
            pending.append(update)
        elif item.kind == "group" and user.id in sandbox.get_group(GROUP_ID).members:
            say(user, _text(item.text), GROUP_ID)
        elif item.kind == "press":
            buttons = [
                (message, button.callback_data)
                for message in mine[-3:]
                for row in message.inline_keyboard
                for button in row
                if button.callback_data
            ]
            if buttons:
                message, data = buttons[item.number % len(buttons)]
                assert data is not None
                pending.append(sandbox.user_clicks(user.id, message, data)[0])
        elif item.kind == "callback" and mine:
            pending.append(sandbox.user_clicks(user.id, mine[-1], item.text)[0])
        elif item.kind == "tick":
            # Time passes: the outbox sends what fell due (reminders, check-ins, tips...).
            stage_.updates += len(pending)
            await relais.sim.settle(pending)
            pending.clear()
            relais.clock.advance(minutes=item.number)
            await relais.tick()
    stage_.updates += len(pending)
    await relais.sim.settle(pending)


FUZZ = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The Application is shared by every example on purpose (state builds up as in production).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def test_random_updates_never_crash_and_every_reply_obeys_telegram(
    settings: Settings, clock: ManualClock
) -> None:
    loop = asyncio.new_event_loop()
    context = stage(settings, clock)
    stage_ = loop.run_until_complete(context.__aenter__())
    checked = {"sequences": 0}
    try:

        @given(actions=st.lists(ACTION, min_size=MAX_ACTIONS // 4, max_size=MAX_ACTIONS))
        @FUZZ
        def sequence(actions: list[Action]) -> None:
            stats = stage_.relais.sandbox.stats
            stats.reset()
            stage_.refused.clear()
            loop.run_until_complete(play(stage_, actions))
            assert stage_.errors == [], f"the error handler was reached: {stage_.errors!r}"
            # A button pressed twice: both presses carry the message as it was when pressed,
            # so the second redraw may change nothing, which Telegram answers "not modified"
            # (the handlers take it as done). Any other refusal is a bug.
            refused = [r for r in stage_.refused if "message is not modified" not in r]
            assert refused == [], f"Telegram would refuse: {refused}"
            assert stats.server_errors == 0
            checked["sequences"] += 1

        sequence()
    finally:
        loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()
    # The figures: how many sequences and updates went through, all clean.
    peak = stage_.relais.peak_in_flight
    print(
        f"fuzz: {checked['sequences']} sequences, {stage_.updates} updates, 0 errors, "
        f"up to {peak} updates processed at once"
    )
    assert stage_.updates >= EXAMPLES * MAX_ACTIONS // 8
    # Updates of different people ran concurrently (bot/updates.py), as in production.
    assert peak > 1
