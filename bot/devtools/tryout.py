"""`relais try`: chat with the real Relais in the terminal, before creating a Telegram bot.

The unchanged Application runs against the sandbox Bot API with a throw-away SQLite
database; you are one simulated Telegram user. The inline buttons of the last message are
numbered: type the number to tap one (a number that is not a button on screen is sent as
text, as when the bot asks for a name or a count). The menu's buttons (the reply keyboard)
are numbered m1, m2...: plain numbers would hide the numbers people answer. A demo cohort
is there from the start (unless `--empty`), so that the staff commands show something real.
`:time +2d` moves time forward to see scheduled messages.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from bot.app import build_application
from bot.clock import OffsetClock
from bot.config import Settings
from bot.db import Database
from bot.devtools.demo import Demo, seed_demo
from bot.migrate import upgrade
from bot.models import Member, Role, StaffRole
from bot.runtime import RelaisApp
from bot.sandbox import SandboxBotAPI, SentMessage, Simulator, SimUser

TOKEN = "424242:TRY-RELAIS-IN-THE-TERMINAL"
YOU = 777_001
HELP = """\
Relais dans le terminal — vous êtes un utilisateur de Telegram.
  texte ou /commande   envoyer un message
  un numéro (ex. 2)    appuyer sur le bouton [2] du dernier message (sinon, le nombre est envoyé)
  m1, m2…              appuyer sur un bouton du menu [m1], [m2]…
  :photo [légende]     envoyer une photo
  :time +2h | +3d      avancer l'horloge (voir les rappels et astuces programmés)
  :help                cette aide        :quit   quitter
"""
_DURATION = re.compile(r"^\+?(\d+)\s*([mhd])$")
_MENU_NUMBER = re.compile(r"^[mM](\d+)$")


def parse_duration(text: str) -> timedelta | None:
    match = _DURATION.match(text.strip().lower())
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount)}.get(
        unit, timedelta(days=amount)
    )


class Terminal:
    """Prints what the bot sends to one user and turns typed lines into their actions."""

    def __init__(self, user: SimUser, out: TextIO, files: Path) -> None:
        self.user = user
        self.out = out
        self.files = files
        self.shown: dict[int, int] = {}  # message_id -> number of edits shown
        # The inline buttons numbered on screen, with the message that carries them; empty
        # once a message without buttons is shown after them (then a number is text).
        self.buttons: list[tuple[SentMessage, str]] = []

    def flush(self) -> None:
        for message in self.user.messages:
            edits = len(message.edits)
            if self.shown.get(message.message_id) == edits:
                continue
            self.shown[message.message_id] = edits
            self.show(message, edited=edits > 0)

    def show(self, message: SentMessage, *, edited: bool) -> None:
        write = self.out.write
        write("\n── Relais" + (" (modifié)" if edited else "") + " " + "─" * 30 + "\n")
        if message.text:
            write(message.text + "\n")
        for stored, label in ((message.photo, "image"), (message.document, "document")):
            if stored is not None:
                name = getattr(stored, "filename", None) or f"{label}-{message.message_id}"
                path = self.files / str(name)
                path.write_bytes(stored.data)
                write(f"[{label} : {path}]\n")
        self.buttons = []
        for row in message.inline_keyboard:
            cells = []
            for button in row:
                self.buttons.append((message, button.text))
                cells.append(f"[{len(self.buttons)}] {button.text}")
            write("   " + "   ".join(cells) + "\n")
        if message is self.user.last:
            labels = [f"[m{n}] {label}" for n, label in enumerate(self.menu(), start=1)]
            if labels:
                write(f"   menu : {' | '.join(labels)}\n")
        self.out.flush()

    def menu(self) -> list[str]:
        """The labels of the reply keyboard shown now, in reading order."""
        return [button.text for row in self.user.reply_keyboard or [] for button in row]

    def inline_button(self, line: str) -> tuple[SentMessage, str] | None:
        """The numbered inline button `line` stands for, if its message still shows it."""
        if not line.isdigit() or not 1 <= int(line) <= len(self.buttons):
            return None
        message, label = self.buttons[int(line) - 1]
        shown = [button.text for row in message.inline_keyboard for button in row]
        return (message, label) if not message.deleted and label in shown else None

    def menu_button(self, line: str) -> str | None:
        """The label of the menu button `line` (m1, m2...) stands for."""
        match = _MENU_NUMBER.match(line)
        labels = self.menu()
        if match is None or not 1 <= int(match.group(1)) <= len(labels):
            return None
        return labels[int(match.group(1)) - 1]

    async def act(self, line: str, advance: Callable[[timedelta], None]) -> bool:
        """Carry out one typed line; False when the user wants to leave."""
        line = line.strip()
        if not line:
            return True
        if line in (":q", ":quit", ":exit"):
            return False
        if line == ":help":
            self.out.write(HELP)
        elif line.startswith(":time"):
            delta = parse_duration(line[5:])
            if delta is None:
                self.out.write("Exemple : :time +2h ou :time +3d\n")
            else:
                advance(delta)
        elif line.startswith(":photo"):
            await self.user.send_photo(caption=line[6:].strip() or None)
        elif (inline := self.inline_button(line)) is not None:
            await self.user.click(inline[1], message=inline[0])
        elif (menu_label := self.menu_button(line)) is not None:
            await self.user.tap(menu_label)
        elif line in self.menu():
            await self.user.tap(line)
        else:
            await self.user.send(line)
        self.flush()
        return True


async def _prepare(settings: Settings, role: str, empty: bool) -> Demo | None:
    await upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as session:
            demo = None if empty else await seed_demo(session, settings, OffsetClock().now())
            if role == "merchant" or demo is None:
                return demo
            now = OffsetClock().now()
            you = Member(
                telegram_user_id=YOU,
                chat_id=YOU,
                first_name="Camille",
                language=settings.default_language,
                tip_days=",".join(settings.tip_days),
                tip_time=settings.tip_time_value,
                consent_at=now,
                onboarded_at=now,
                active_cohort_id=demo.cohort_id,
                created_at=now,
            )
            session.add(you)
            await session.flush()
            session.add(
                StaffRole(cohort_id=demo.cohort_id, member_id=you.id, role=Role(role).value)
            )
            return demo
    finally:
        await db.dispose()


async def run(
    role: str = "merchant",
    empty: bool = False,
    lines: asyncio.Queue[str | None] | None = None,
    out: TextIO = sys.stdout,
) -> int:
    with tempfile.TemporaryDirectory(prefix="relais-try-") as folder:
        workdir = Path(folder)
        async with SandboxBotAPI(flood_limits=True) as sandbox:
            sandbox.add_bot(TOKEN, username="relais_essai_bot", first_name="Relais")
            settings = Settings(
                _env_file=None,
                bot_token=TOKEN,
                database_url=f"sqlite+aiosqlite:///{workdir / 'try.db'}",
                telegram_api_base_url=sandbox.base_url,
                admin_ids=[YOU] if role == "coordinator" else [],
                scheduler_tick_seconds=2,
                log_level="WARNING",
            )
            demo = await _prepare(settings, role, empty)
            # Wait up to 15 s for the bot's answer before showing the prompt: on a busy
            # machine the first answers are slow, and the prompt must come after them.
            sim = Simulator(sandbox, timeout=15.0)
            if demo is not None:
                for telegram_id in (*demo.merchant_telegram_ids, demo.trainer_telegram_id):
                    sandbox.add_user(telegram_id, "Démo")
                    sandbox.mark_started(telegram_id)
            you = sim.user(YOU, "Camille", language_code=settings.default_language)
            clock = OffsetClock()
            app: RelaisApp = build_application(settings, clock=clock)
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=5)
            sim.watch(app)
            terminal = Terminal(you, out, workdir)
            out.write(HELP)

            def advance(delta: timedelta) -> None:
                clock.advance(delta)
                out.write(f"(horloge : {clock.now():%d/%m/%Y %H:%M} UTC)\n")
                runtime = app.bot_data.runtime
                if runtime is not None:
                    runtime.wake_dispatcher()

            try:
                if role == "merchant" and demo is not None:
                    await terminal.act(f"/start join_{demo.join_code}", advance)
                else:
                    await terminal.act("/start", advance)
                source = lines if lines is not None else _stdin_lines()
                printer = asyncio.create_task(_keep_printing(terminal))
                try:
                    while True:
                        out.write("> ")
                        out.flush()
                        line = await source.get()
                        if line is None or not await terminal.act(line, advance):
                            break
                finally:
                    printer.cancel()
            finally:
                await app.updater.stop()
                await app.stop()
                await app.shutdown()
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)
    return 0


async def _keep_printing(terminal: Terminal) -> None:
    """Scheduled messages (reminders, tips...) arrive on their own: show them as they come."""
    while True:
        await asyncio.sleep(0.5)
        terminal.flush()


def _stdin_lines() -> asyncio.Queue[str | None]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, reader)
    return queue
