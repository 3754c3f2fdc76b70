"""Transcripts: real conversations with Relais, played on the sandbox, shown in the guides.

    relais transcripts            (re)write docs/transcripts/*.md and the guides' blocks
    relais transcripts --check    write nothing; exit 1 and name the stale files

Each story below runs the unchanged Application against the sandbox Bot API, with the demo
cohort (bot/devtools/demo.py), a clock that only moves when the story moves it, and random
codes drawn from a fixed seed: the same code gives the same text, byte for byte. A story
writes one or more chapters; each chapter becomes docs/transcripts/<name>.md (who said what,
the bot's replies as plain text with their [buttons]), and every block

    <!-- transcript:<name> -->
    ...
    <!-- /transcript -->

of docs/*.md is rewritten with that chapter, so the guides show what the bot says today.
tests/e2e/test_transcripts.py fails when a text changed and the transcripts were not
regenerated.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import random
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from sqlalchemy import select

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.delivery.limits import Limits
from bot.devtools.demo import Demo, seed_demo
from bot.i18n import I18n, Translator
from bot.models import Cohort, TrainingSession
from bot.runtime import RelaisApp
from bot.sandbox import SandboxBotAPI, SentMessage, Simulator, SimUser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TRANSCRIPTS = DOCS / "transcripts"
TOKEN = "555555:RELAIS-TRANSCRIPTS"
BOT = "relais_estaimpuis_bot"
ZONE = ZoneInfo("Europe/Brussels")
# A Wednesday morning in late November; the demo's next session is six days later.
START = datetime(2026, 11, 25, 10, 0, tzinfo=ZONE)
SEED = 2026
HEADER = (
    "<!-- Généré par `relais transcripts` (bac à sable, cohorte de démonstration) : "
    "ne pas modifier à la main. -->"
)
BLOCK = re.compile(
    r"(?P<open><!-- transcript:(?P<name>[\w.-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /transcript -->)",
    re.S,
)

# The few words of the transcripts themselves, per language (the bot's words come from it).
WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "says": "**{name}** : {text}",
        "taps": "**{name}** appuie sur [{label}]",
        "opens": "**{name}** {how}",
        "image": "image",
        "file": "fichier : {name}",
        "menu": "menu en bas de l'écran :",
        "edited": "le message se met à jour",
        "meanwhile": "*Pendant ce temps, chez {name} :*",
    },
    "nl": {
        "says": "**{name}**: {text}",
        "taps": "**{name}** tikt op [{label}]",
        "opens": "**{name}** {how}",
        "image": "afbeelding",
        "file": "bestand: {name}",
        "menu": "menu onderaan het scherm:",
        "edited": "het bericht wordt bijgewerkt",
        "meanwhile": "*Intussen, bij {name}:*",
    },
    "en": {
        "says": "**{name}**: {text}",
        "taps": "**{name}** taps [{label}]",
        "opens": "**{name}** {how}",
        "image": "image",
        "file": "file: {name}",
        "menu": "menu at the bottom of the screen:",
        "edited": "the message updates",
        "meanwhile": "*Meanwhile, on {name}'s phone:*",
    },
}


# --- determinism ---------------------------------------------------------------------------


@contextlib.contextmanager
def fixed_randomness(seed: int = SEED) -> Iterator[None]:
    """Join codes, check-in tokens and invitation links drawn from a seeded generator.

    The services call `secrets.choice(...)`, `secrets.token_urlsafe(...)`, ... through the
    module, so replacing the module's functions for the duration of a story is enough.
    """
    rng = random.Random(seed)

    def token_bytes(n: int | None = None) -> bytes:
        return rng.randbytes(32 if n is None else n)

    def token_urlsafe(n: int | None = None) -> str:
        return base64.urlsafe_b64encode(token_bytes(n)).rstrip(b"=").decode("ascii")

    def token_hex(n: int | None = None) -> str:
        return token_bytes(n).hex()

    replacements: dict[str, Any] = {
        "choice": rng.choice,
        "randbelow": rng.randrange,
        "token_bytes": token_bytes,
        "token_urlsafe": token_urlsafe,
        "token_hex": token_hex,
    }
    saved = {name: getattr(secrets, name) for name in replacements}
    for name, function in replacements.items():
        setattr(secrets, name, function)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(secrets, name, function)


class StorySettings(Settings):
    """Settings from the story alone: neither the environment nor a .env changes the text."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


# --- rendering -----------------------------------------------------------------------------


def _escape(line: str) -> str:
    """A line of the bot's text, safe in Markdown: no HTML, no accidental list or heading."""
    line = line.replace("<", "&lt;")
    return re.sub(r"^(\s*)([#>+*-]|\d+\.)(\s)", r"\1\\\2\3", line)


def quote(paragraphs: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown blockquote: lines end with a hard break, paragraphs are separated; a
    paragraph opening with a code fence is kept line for line."""
    lines: list[str] = []
    for index, paragraph in enumerate(p for p in paragraphs if p):
        if index:
            lines.append(">")
        fenced = paragraph[0].startswith("```")
        for position, line in enumerate(paragraph):
            end = "\\" if position < len(paragraph) - 1 and not fenced else ""
            lines.append(f"> {line}{end}".rstrip())
    return lines


def _segments(message: SentMessage) -> list[tuple[bool, str]]:
    """The message's text cut into (preformatted?, text) parts, after its `pre` entities."""
    text = message.text
    # Telegram counts offsets in UTF-16 code units: map them to string indices.
    index_of: dict[int, int] = {}
    units = 0
    for index, char in enumerate(text):
        index_of[units] = index
        units += 2 if ord(char) > 0xFFFF else 1
    index_of[units] = len(text)
    parts: list[tuple[bool, str]] = []
    position = 0
    for entity in sorted(message.entities or [], key=lambda e: int(e["offset"])):
        if entity.get("type") != "pre":
            continue
        start = index_of.get(int(entity["offset"]))
        end = index_of.get(int(entity["offset"]) + int(entity["length"]))
        if start is None or end is None or start < position:
            continue
        parts.append((False, text[position:start]))
        parts.append((True, text[start:end]))
        position = end
    parts.append((False, text[position:]))
    return [(pre, part) for pre, part in parts if part.strip()]


def message_lines(message: SentMessage, words: dict[str, str], *, keyboard: bool) -> list[str]:
    """What a person sees of one message: media, text, buttons, and the menu it sets."""
    paragraphs: list[list[str]] = []
    if message.photo is not None:
        paragraphs.append([f"*[{words['image']}]*"])
    if message.document is not None:
        name = message.document.filename or "?"
        paragraphs.append(["*[" + words["file"].format(name=name) + "]*"])
    for preformatted, part in _segments(message):
        if preformatted:
            # A table or a code: kept as it is, in a code block (spaces matter there).
            paragraphs.append(["```text", *part.strip("\n").splitlines(), "```"])
            continue
        current: list[str] = []
        for line in part.splitlines():
            if line.strip():
                current.append(_escape(line.rstrip()))
            elif current:
                paragraphs.append(current)
                current = []
        if current:
            paragraphs.append(current)
    if message.buttons:
        paragraphs.append([" · ".join(f"[{label}]" for label in row) for row in message.buttons])
    menu = message.reply_keyboard
    if keyboard and menu:
        labels = " · ".join(f"[{b.text}]" for row in menu for b in row)
        paragraphs.append([f"*{words['menu']}* {labels}"])
    return quote(paragraphs)


# --- the stage -----------------------------------------------------------------------------


@dataclass
class Recorder:
    """The chapters of a story, as Markdown lines."""

    lang: str
    chapters: dict[str, list[str]] = field(default_factory=dict)
    current: str | None = None
    # What each message last showed: (chat, message id) -> (text, buttons).
    shown: dict[tuple[int, int], tuple[str, list[list[str]]]] = field(default_factory=dict)
    menus: set[tuple[int, str]] = field(default_factory=set)

    @property
    def words(self) -> dict[str, str]:
        return WORDS[self.lang]

    def chapter(self, name: str) -> None:
        if name in self.chapters:
            raise ValueError(f"chapter {name} written twice")
        self.chapters[name] = []
        self.current = name

    def block(self, lines: list[str]) -> None:
        if self.current is None:
            return
        self.chapters[self.current].append("\n".join(lines))

    def messages(self, user: SimUser, messages: list[SentMessage]) -> None:
        for message in messages:
            key = (message.chat_id, message.message_id)
            state = (message.text, message.buttons)
            before = self.shown.get(key)
            self.shown[key] = state
            if message.deleted or before == state:
                continue
            if before is not None and before[0] == state[0] and not state[1]:
                continue  # an answered question loses its buttons: nothing to read
            menu = message.reply_keyboard
            menu_key = (user.id, repr([[b.text for b in row] for row in menu or []]))
            show_menu = bool(menu) and menu_key not in self.menus
            if show_menu:
                self.menus.add(menu_key)
            if before is not None and before[0] == state[0]:
                # Only the buttons changed (a choice ticked): show the buttons alone.
                rows = [" · ".join(f"[{label}]" for label in row) for row in state[1]]
                lines = quote([[f"*({self.words['edited']})*"], rows])
            else:
                lines = message_lines(message, self.words, keyboard=show_menu)
                if before is not None:
                    lines.insert(0, f"> *({self.words['edited']})*\n>")
            self.block(lines)


class Person:
    """A simulated Telegram user whose actions and replies are written down."""

    def __init__(self, stage: Stage, user: SimUser, name: str) -> None:
        self.stage = stage
        self.user = user
        self.name = name
        self.mark = user.mark()

    @property
    def words(self) -> dict[str, str]:
        return self.stage.recorder.words

    def capture(self, *, elsewhere: bool = False) -> None:
        """Write down what arrived in this person's chat since the last look; `elsewhere`
        says first whose phone it is (another person than the one who just acted)."""
        arrived = self.user.inbox_since(self.mark)
        self.mark = self.user.mark()
        recorder = self.stage.recorder
        before = len(recorder.chapters.get(recorder.current or "", []))
        if elsewhere and arrived:
            recorder.block([self.words["meanwhile"].format(name=self.name)])
        recorder.messages(self.user, arrived)
        if (
            elsewhere
            and arrived
            and len(recorder.chapters.get(recorder.current or "", [])) == before + 1
        ):
            recorder.chapters[recorder.current or ""].pop()  # nothing to read after all

    async def _act(self, line: str, action: Awaitable[object]) -> None:
        self.stage.capture()
        self.stage.recorder.block([line])
        await action
        await self.stage.settle()
        self.stage.capture(actor=self)

    async def send(self, text: str) -> None:
        line = self.words["says"].format(name=self.name, text=_escape(text))
        await self._act(line, self.user.send(text))

    async def tap(self, command: str) -> None:
        """Tap the main-menu button that stands for `command` (in the person's language)."""
        from handlers.menu import MERCHANT_MENU, STAFF_MENU

        keyboard = self.user.reply_keyboard or []
        labels = [b.text for row in keyboard for b in row]
        t = self.stage.i18n(self.stage.recorder.lang)
        for label, name in (*MERCHANT_MENU, *STAFF_MENU):
            if name == command and t(label) in labels:
                await self.press(t(label), self.user.tap(t(label)))
                return
        raise AssertionError(f"{self.name} has no menu button for /{command}: {labels}")

    async def click(self, label: str | None = None, *, row: int = 0, column: int = 0) -> None:
        """Tap an inline button: the newest one whose label is (or, alone on its message,
        contains) `label`; without a label, the one at (`row`, `column`) of the newest
        message that shows buttons."""
        shown = [m for m in reversed(self.user.messages) if m.inline_keyboard and not m.deleted]
        if not shown:
            raise AssertionError(f"{self.name} sees no inline button")
        if label is None:
            target = shown[0]
            label = target.inline_keyboard[row][column].text
        else:
            target, label = self._find(shown, label)
        await self.press(label, self.user.click(label, message=target))

    def _find(self, shown: list[SentMessage], label: str) -> tuple[SentMessage, str]:
        for exact in (True, False):
            for message in shown:
                labels = [b.text for line in message.inline_keyboard for b in line]
                found = [text for text in labels if (text == label if exact else label in text)]
                if len(found) == 1:
                    return message, found[0]
        raise AssertionError(f"{self.name} sees no single button {label!r}")

    async def send_photo(self) -> None:
        line = self.words["says"].format(name=self.name, text=f"[{self.words['image']}]")
        await self._act(line, self.user.send_photo())

    async def press(self, label: str, action: Awaitable[object]) -> None:
        line = self.words["taps"].format(name=self.name, label=label)
        await self._act(line, action)

    async def follow(self, url: str, how: str) -> None:
        """Open a t.me link (`how` says it in words: "scanne le QR code de la salle")."""
        await self._act(self.words["opens"].format(name=self.name, how=how), self.user.follow(url))


class Stage:
    """The running bot, its sandbox, a clock that moves only when told, and the people."""

    def __init__(
        self,
        sandbox: SandboxBotAPI,
        app: RelaisApp,
        sim: Simulator,
        clock: ManualClock,
        demo: Demo,
        recorder: Recorder,
        i18n: I18n,
    ) -> None:
        self.sandbox = sandbox
        self.app = app
        self.sim = sim
        self.clock = clock
        self.demo = demo
        self.recorder = recorder
        self.i18n = i18n
        self.people: list[Person] = []

    @property
    def t(self) -> Translator:
        return self.i18n(self.recorder.lang, "Europe/Brussels")

    def person(self, user_id: int, first_name: str, *, language_code: str | None = None) -> Person:
        user = self.sim.user(user_id, first_name, language_code=language_code)
        person = Person(self, user, first_name)
        self.people.append(person)
        return person

    def leave(self, person: Person) -> None:
        """Stop writing down this person's chat (what arrives there is not the story's)."""
        person.capture()
        self.people.remove(person)

    def capture(self, actor: Person | None = None) -> None:
        """Write down what arrived for everyone: the actor's chat first."""
        if actor is not None:
            actor.capture()
        several = len(self.people) > 1
        for person in self.people:
            if person is not actor:
                person.capture(elsewhere=actor is not None or several)

    def chapter(self, name: str) -> None:
        self.capture()
        self.recorder.chapter(name)

    def note(self, text: str) -> None:
        """A line of narration, in italics."""
        self.recorder.block([f"*{text}*"])

    def note_time(self) -> None:
        """The day and time it is now, as narration ("Mardi 1 décembre à 9 h 30.")."""
        when = self.t.when(self.clock.now())
        self.note(when[0].upper() + when[1:] + ".")

    async def settle(self) -> None:
        await self.sim.idle()

    async def tick(self) -> None:
        runtime = self.app.bot_data.runtime
        assert runtime is not None
        await runtime.engine.plan_once()
        await runtime.engine.dispatch_once()
        await self.sim.idle()

    async def wait_until(self, instant: datetime, *, say: bool = True) -> None:
        """Move the clock to `instant` as the real ticks would, then show what arrived."""
        step = timedelta(hours=12)
        while self.clock.now() + step < instant:
            self.clock.advance(step)
            await self.tick()
        self.clock.set(instant)
        if say:
            self.note_time()
        await self.tick()
        self.capture()

    async def session(self, number: int) -> TrainingSession:
        runtime = self.app.bot_data.runtime
        assert runtime is not None
        async with runtime.db.unit_of_work() as session:
            found = await session.scalar(
                select(TrainingSession).where(
                    TrainingSession.cohort_id == self.demo.cohort_id,
                    TrainingSession.number == number,
                )
            )
        assert found is not None
        return found

    async def cohort(self) -> Cohort:
        runtime = self.app.bot_data.runtime
        assert runtime is not None
        async with runtime.db.unit_of_work() as session:
            found = await session.get(Cohort, self.demo.cohort_id)
        assert found is not None
        return found

    def link(self, payload: str) -> str:
        return f"https://t.me/{BOT}?start={payload}"


Story = Callable[[Stage], Awaitable[None]]


async def play(story: Story, lang: str, template: Path, folder: Path) -> dict[str, str]:
    """Run one story on a fresh copy of a migrated database; its chapters as Markdown."""
    from bot.app import build_application

    database = folder / f"{story.__name__}-{lang}.db"
    await asyncio.to_thread(shutil.copyfile, template, database)
    with fixed_randomness():
        async with SandboxBotAPI(flood_limits=False) as sandbox:
            sandbox.add_bot(TOKEN, username=BOT, first_name="Relais")
            settings = StorySettings(
                bot_token=TOKEN,
                database_url=f"sqlite+aiosqlite:///{database}",
                telegram_api_base_url=sandbox.base_url,
                organisation_name="Commune d'Estaimpuis",
                organisation_contact="relais@estaimpuis.be",
                log_level="WARNING",
            )
            clock = ManualClock(START)
            db = Database(settings.database_url)
            async with db.unit_of_work() as session:
                demo = await seed_demo(session, settings, clock.now())
            await db.dispose()
            for telegram_id in (*demo.merchant_telegram_ids, demo.trainer_telegram_id):
                sandbox.add_user(telegram_id, "Démo")
                sandbox.mark_started(telegram_id)
            i18n = I18n(default_language=settings.default_language)
            app = build_application(
                settings,
                clock=clock,
                db=Database(settings.database_url),
                i18n=i18n,
                start_engine=False,
                persistence_interval=0.2,
            )
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            runtime = app.bot_data.runtime
            assert runtime is not None
            # The sandbox has no flood limits: no need to pace the outbox like Telegram.
            runtime.engine.dispatcher.limits = Limits(per_second=10_000, chat_interval=0.0)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=5)
            sim = Simulator(sandbox, timeout=15.0)
            sim.watch(app)
            recorder = Recorder(lang)
            stage = Stage(sandbox, app, sim, clock, demo, recorder, i18n)
            try:
                await story(stage)
                stage.capture()
            except Exception:
                # What the story saw so far, to understand where it went off script.
                stage.capture()
                for name, blocks in recorder.chapters.items():
                    sys.stderr.write(f"--- {name} ({lang}) so far:\n" + "\n\n".join(blocks) + "\n")
                raise
            finally:
                await app.updater.stop()
                await app.stop()
                await app.shutdown()
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)
    return {name: "\n\n".join(blocks) + "\n" for name, blocks in recorder.chapters.items()}


# --- the stories ---------------------------------------------------------------------------

MERCHANT = {
    # language: (Telegram id, first name, business, how she opens the invitation, the QR)
    "fr": (
        700_001,
        "Amélie",
        "Chocolaterie Amélie",
        "ouvre le lien d'invitation reçu de la commune (ou scanne le QR code de l'affiche)",
        "scanne le QR code affiché dans la salle",
    ),
    "nl": (
        700_002,
        "Lotte",
        "Bakkerij Lotte",
        "opent de uitnodigingslink van de gemeente (of scant de QR-code op de affiche)",
        "scant de QR-code die in de zaal hangt",
    ),
    "en": (
        700_003,
        "Emily",
        "Emily's Tea Room",
        "opens the invitation link from the commune (or scans the QR code on the poster)",
        "scans the QR code shown in the room",
    ),
}


async def merchant_story(stage: Stage) -> None:
    """A merchant joins, sets an objective, says she comes, gets tips and reminders, answers
    the check-in on her objective, meets her trio, and checks in at the session with the QR
    code."""
    lang = stage.recorder.lang
    user_id, name, business, invited, scans = MERCHANT[lang]
    me = stage.person(user_id, name, language_code=lang)
    cohort = await stage.cohort()
    prefix = {"fr": "commercant", "nl": "handelaar", "en": "merchant"}[lang]

    stage.chapter(f"{prefix}-inscription")
    await me.follow(stage.link(f"join_{cohort.join_code}"), invited)
    await me.click(row=0)  # keep the first name
    await me.send(business)
    await me.click(row=0, column=1)  # food
    await me.click(row=0)  # the cohort's commune
    from handlers.onboarding.shared import LANGUAGE_NAMES

    await me.click(LANGUAGE_NAMES[lang])
    await me.click(row=0)  # consent

    stage.chapter(f"{prefix}-point")
    t = stage.t
    await me.click(row=0)  # "📈 C'est parti": the baseline of the progress check
    await me.send({"fr": "environ 180", "nl": "ongeveer 180", "en": "about 180"}[lang])
    await me.click("2–3")
    await me.click("1–5")
    for answer in ("✅ Oui", "✅ Oui", "Pas encore", "✅ Oui", "Pas encore"):
        await me.click(t(answer))
    await me.click(t("⏸ On arrête là"))
    await me.send("/point")  # later the same day: she finishes where she left off
    for answer in ("Pas encore", "Pas encore", "✅ Oui", "Pas encore", "Pas encore"):
        await me.click(t(answer))
    await me.send("/progres")

    stage.chapter(f"{prefix}-objectif")
    await me.tap("objectif")
    await me.click(row=0)  # the first starting point for her sector
    await me.click(row=0)  # a number per week
    await me.click("2")
    await me.click(row=2)  # in two weeks
    await me.click(row=0)  # confirm

    stage.chapter(f"{prefix}-seance")
    await me.tap("seances")
    await me.click(row=0)  # yes, I'll come

    stage.chapter(f"{prefix}-entre-seances")
    await stage.wait_until(datetime(2026, 11, 27, 9, 30, tzinfo=ZONE))
    await me.click(t("👍 Utile"))
    await stage.wait_until(datetime(2026, 11, 30, 19, 0, tzinfo=ZONE))

    stage.chapter(f"{prefix}-suivi")
    await stage.wait_until(datetime(2026, 12, 1, 9, 30, tzinfo=ZONE))
    await me.click(t("🚧 En cours"))
    await me.click(t("➕ Ajouter un nombre"))
    await me.click("2")

    stage.chapter(f"{prefix}-trio")
    await me.send("/trio")
    await me.click(row=0)  # 👏 to the first peer of her trio

    stage.chapter(f"{prefix}-presence")
    await stage.wait_until(datetime(2026, 12, 1, 17, 0, tzinfo=ZONE))
    session = await stage.session(4)
    stage.clock.set(datetime(2026, 12, 1, 18, 50, tzinfo=ZONE))
    stage.note_time()
    await me.follow(stage.link(f"checkin_{session.checkin_token}"), scans)

    stage.chapter(f"{prefix}-defi")
    from bot.services import challenges

    runtime = stage.app.bot_data.runtime
    assert runtime is not None
    stage.clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=ZONE))
    stage.note_time()
    async with runtime.db.unit_of_work() as session_:
        await challenges.start_library_challenge(
            session_,
            cohort.id,
            stage.clock.now(),
            library=runtime.content,
            settings=runtime.settings,
            timing="now",
            theme="photos",
        )
    await stage.tick()
    await me.click(row=0)  # 📷 send my proof
    await me.send_photo()
    await me.click(row=0, column=0)  # yes, show it to the group


async def trainer_story(stage: Stage) -> None:
    """The trainer plans the next session, reads the digest and the group's objectives,
    shows the check-in QR code, calls the roll, and sends a message to the cohort."""
    trainer = stage.person(stage.demo.trainer_telegram_id, "Martine")

    stage.chapter("formateur-aide")
    await trainer.send("/aide")

    stage.chapter("formateur-seance")
    await trainer.send("/nouvelle_seance")
    await trainer.send("08/12/2026")
    await trainer.click("19 h 00")
    await trainer.click(row=0)  # the place used last time
    await trainer.click("⭐")  # the programme's next theme
    await trainer.click("20")
    await trainer.click(row=0)  # plan it
    await trainer.send("/nouvelle_seance 15/12/2026 19:00 | Salle du Conseil | Bilan et suite")

    stage.chapter("formateur-digest")
    await stage.wait_until(datetime(2026, 11, 30, 9, 30, tzinfo=ZONE))

    stage.chapter("formateur-groupe")
    await trainer.tap("groupe")

    stage.chapter("formateur-question")
    sophie = stage.person(stage.demo.merchant_telegram_ids[0], "Sophie")
    stage.clock.set(datetime(2026, 11, 30, 12, 15, tzinfo=ZONE))
    await sophie.send("/question")
    await sophie.send("Comment je fais pour épingler une publication en haut de ma page ?")
    await sophie.click(row=0)  # send it
    await trainer.click(row=0)  # answer Sophie
    await trainer.send(
        "Sur la publication, touchez les trois petits points, puis « Épingler en haut ». "
        "On le fera ensemble demain soir !"
    )
    await trainer.click("✅ Envoyer")
    stage.leave(sophie)

    stage.chapter("formateur-qr")
    await stage.wait_until(datetime(2026, 12, 1, 18, 40, tzinfo=ZONE))
    await trainer.send("/qr")

    stage.chapter("formateur-appel")
    stage.clock.set(datetime(2026, 12, 1, 19, 20, tzinfo=ZONE))
    await trainer.send("/appel")
    await trainer.click(row=0)
    await trainer.click(row=1)
    await trainer.click("➕ Ajouter un nom")
    await trainer.send("Jeanne Dupont")

    stage.chapter("formateur-diffuser")
    stage.clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=ZONE))
    await trainer.send("/diffuser")
    await trainer.send(
        "Merci pour hier soir ! Pour jeudi : une photo de votre vitrine, postée avec "
        "une phrase qui donne envie d'entrer."
    )
    await trainer.click(row=0)  # everyone
    await trainer.click(row=0)  # send now
    # The outbox sends it (paced like Telegram wants), then the trainer gets the report.
    stage.clock.advance(timedelta(minutes=1))
    await stage.tick()
    stage.clock.advance(timedelta(minutes=1))
    await stage.tick()

    stage.chapter("formateur-defi")
    stage.clock.set(datetime(2026, 12, 2, 10, 30, tzinfo=ZONE))
    await trainer.send("/defi")
    await trainer.click(row=1)  # the current challenge
    await trainer.click(row=0)  # its answers
    await trainer.click(row=0)  # 👏 bravo to the latest
    await trainer.send("/defi")
    await trainer.click(row=0)  # ➕ new challenge
    await trainer.click(row=0)  # ⭐ the last session's theme
    await trainer.click(row=0)  # its first challenge
    await trainer.click(row=0)  # everyone
    await trainer.click(row=1)  # at each member's tip time
    stage.chapter("formateur-trios")
    await trainer.send("/trios")
    await trainer.click(row=0)  # form them again: a new draft
    await trainer.click(row=0)  # reshuffle that draft


async def coordinator_story(stage: Stage) -> None:
    """The first coordinator uses the setup code, invites people (link, QR code, flyer,
    trainer), then reads attendance, the statistics, the export and the impact report, and
    looks at what comes after the sessions (🌱, a change of mind included)."""
    from bot.services import setup as setup_codes

    runtime = stage.app.bot_data.runtime
    assert runtime is not None
    async with runtime.db.unit_of_work() as session:
        code = await setup_codes.issue_code(session, stage.clock.now())
    claire = stage.person(800_001, "Claire")

    stage.chapter("coordinateur-demarrage")
    await claire.follow(
        stage.link(setup_codes.setup_payload(code)),
        "ouvre le lien de démarrage affiché par `relais init`",
    )

    stage.chapter("coordinateur-inviter")
    await claire.tap("inviter")
    await claire.click("🖨️ Affiche à imprimer (PDF)")
    await claire.click("🎓 Inviter un formateur")

    stage.chapter("coordinateur-presences")
    await claire.send("/presences")

    stage.chapter("coordinateur-stats")
    await claire.send("/stats")

    stage.chapter("coordinateur-export")
    await claire.send("/export")

    stage.chapter("coordinateur-bilan")
    await claire.send("/bilan")

    stage.chapter("coordinateur-apres-seances")
    await claire.click("🌱 Après les séances")
    await claire.click("⏹ Terminer maintenant")
    await claire.click("↩️ Non")


STORIES: tuple[tuple[Story, tuple[str, ...]], ...] = (
    (coordinator_story, ("fr",)),
    (trainer_story, ("fr",)),
    (merchant_story, ("fr", "nl", "en")),
)


# --- files ---------------------------------------------------------------------------------


async def generate() -> dict[str, str]:
    """Every chapter of every story, by name."""
    from bot.migrate import upgrade

    chapters: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="relais-transcripts-") as name:
        folder = Path(name)
        template = folder / "template.db"
        await upgrade(f"sqlite+aiosqlite:///{template}")
        for story, languages in STORIES:
            for lang in languages:
                chapters.update(await play(story, lang, template, folder))
    return chapters


def expected_files(chapters: dict[str, str], docs: Path = DOCS) -> dict[Path, str]:
    """What docs/ should hold: the transcripts, and the guides with their blocks filled."""
    files = {
        docs / "transcripts" / f"{name}.md": f"{HEADER}\n\n{text}"
        for name, text in chapters.items()
    }
    for guide in sorted(docs.glob("*.md")):
        files[guide] = fill_blocks(guide.name, guide.read_text(encoding="utf-8"), chapters)
    return files


def fill_blocks(where: str, source: str, chapters: dict[str, str]) -> str:
    """`source` with every transcript block holding its chapter's current text."""

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in chapters:
            raise KeyError(f"{where} shows the transcript {name!r}, which no story writes")
        return match.group("open") + chapters[name] + match.group("close")

    return BLOCK.sub(fill, source)


def stale_files(files: dict[Path, str], docs: Path = DOCS) -> list[Path]:
    """The files whose content differs from `files`, and transcripts no story writes."""
    stale = [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    folder = docs / "transcripts"
    if folder.exists():
        stale += [path for path in sorted(folder.glob("*.md")) if path not in files]
    return stale


def write_files(files: dict[Path, str], docs: Path = DOCS) -> list[Path]:
    """Write what changed, remove transcripts no story writes; return what was touched."""
    touched = stale_files(files, docs)
    for path in touched:
        if path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path], encoding="utf-8")
        else:
            path.unlink()
    return touched


def transcripts_command(*, check: bool = False, docs: Path = DOCS) -> int:
    """`relais transcripts [--check]`."""
    files = expected_files(asyncio.run(generate()), docs)
    if check:
        stale = stale_files(files, docs)
        for path in stale:
            print(f"stale: {path.relative_to(docs.parent)}", file=sys.stderr)
        if stale:
            print("regenerate them with: relais transcripts", file=sys.stderr)
        return 1 if stale else 0
    touched = write_files(files, docs)
    for path in touched:
        print(f"wrote {path.relative_to(docs.parent)}")
    print(f"{len(files)} files checked, {len(touched)} written.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.devtools.transcripts", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    return transcripts_command(check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["STORIES", "expected_files", "generate", "stale_files", "transcripts_command"]
