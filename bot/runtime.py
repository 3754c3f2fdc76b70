"""What every handler and job needs, bundled once per Application (no module globals).

`RelaisContext` is our typed CallbackContext: `context.rt` is the Runtime, and
`context.actor` is who sent the current update (set by the access gate in handlers/access.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, Message, Update, User
from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.health import BotApiWatch
from bot.i18n import I18n, Translator

if TYPE_CHECKING:
    from bot.content import ContentLibrary
    from bot.delivery.engine import DeliveryEngine
    from bot.services.access import Actor


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    i18n: I18n
    # The tips library and the curriculum (content/), read once by build_application.
    content: ContentLibrary
    # Name of the process, for the outbox's claims and the logs.
    instance: str = "relais"
    # Set by the delivery engine: call to send what became due now without waiting a tick.
    wake_dispatcher: Callable[[], None] = field(default=lambda: None)
    # False: the engine is built but its ticks are left to the caller (tests drive them).
    start_engine: bool = True
    # When the admins were last alerted of an error (handlers/errors.py spaces the alerts).
    last_admin_alert: datetime | None = None
    # How the Bot API has been answering (getUpdates, getWebhookInfo): read by /healthz.
    bot_api: BotApiWatch = field(default_factory=BotApiWatch)
    # The outbox engine (bot/delivery/engine.py), attached in the Application's post-init.
    _engine: DeliveryEngine | None = field(default=None, repr=False)

    @property
    def engine(self) -> DeliveryEngine:
        """The delivery engine; it exists once the Application is initialised."""
        if self._engine is None:
            raise RuntimeError("no delivery engine: the Application has not been initialised")
        return self._engine

    @engine.setter
    def engine(self, value: DeliveryEngine) -> None:
        self._engine = value

    @property
    def has_engine(self) -> bool:
        return self._engine is not None


class BotData:
    """The Application's bot_data: holds the Runtime (never persisted)."""

    __slots__ = ("runtime",)

    def __init__(self) -> None:
        self.runtime: Runtime | None = None


@dataclass(frozen=True)
class Acting:
    """The sender of an update that the access gate let through as a merchant or a staff
    member: both ids are known (never None)."""

    member_id: int
    cohort_id: int


class RelaisContext(
    CallbackContext[ExtBot[dict[str, Any]], dict[Any, Any], dict[Any, Any], BotData]
):
    """CallbackContext with typed access to the Runtime, the current actor and update.

    The narrowing properties (`message`, `text`, `query`, `sender`, `chat_id`, `store`,
    `merchant`, `staff`) raise a RuntimeError naming what is missing: a handler uses them where its
    filters or the access gate guarantee the thing is there.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._actor: Actor | None = None
        self._update: Update | None = None

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> RelaisContext:
        context = super().from_update(update, application)
        context._update = update if isinstance(update, Update) else None
        return context

    @property
    def rt(self) -> Runtime:
        runtime = self.bot_data.runtime
        if runtime is None:  # pragma: no cover - build_application always sets it
            raise RuntimeError("the Runtime is not attached to this Application")
        return runtime

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise RuntimeError("no actor: the access gate did not run for this update")
        return self._actor

    @actor.setter
    def actor(self, value: Actor) -> None:
        self._actor = value

    @property
    def has_actor(self) -> bool:
        return self._actor is not None

    @property
    def message(self) -> Message:
        """The message of the update (the one a pressed button sits under, for a callback)."""
        message = self._update.effective_message if self._update is not None else None
        if message is None:
            raise RuntimeError("this update carries no message")
        return message

    @property
    def text(self) -> str:
        """The text of the message (for handlers filtered on text)."""
        text = self.message.text
        if text is None:
            raise RuntimeError("this message has no text")
        return text

    @property
    def query(self) -> CallbackQuery:
        """The pressed button (for callback handlers)."""
        query = self._update.callback_query if self._update is not None else None
        if query is None:
            raise RuntimeError("this update is no button press")
        return query

    @property
    def sender(self) -> User:
        """The Telegram user who sent the update."""
        user = self._update.effective_user if self._update is not None else None
        if user is None:
            raise RuntimeError("this update has no sender")
        return user

    @property
    def chat_id(self) -> int:
        if self._chat_id is None:
            raise RuntimeError("this update has no chat")
        return self._chat_id

    @property
    def store(self) -> dict[Any, Any]:
        """PTB's user_data (persisted): drafts and flow state of this person."""
        data = self.user_data
        if data is None:
            raise RuntimeError("this update has no user")
        return data

    @property
    def merchant(self) -> Acting:
        """The actor of a merchant-only handler: member and active cohort ids."""
        return self._acting("a merchant")

    @property
    def staff(self) -> Acting:
        """The actor of a staff-only handler (trainer, coordinator): member and cohort ids."""
        return self._acting("staff")

    def _acting(self, who: str) -> Acting:
        actor = self.actor
        if actor.member_id is None or actor.active_cohort_id is None:
            raise RuntimeError(f"the access gate let through {who} without a member or a cohort")
        return Acting(actor.member_id, actor.active_cohort_id)

    @property
    def t(self) -> Translator:
        """Texts in the actor's language and their cohort's zone."""
        if self._actor is None:
            return self.rt.i18n(self.rt.settings.default_language)
        return self.rt.i18n(self._actor.language, self._actor.zone)


RelaisApp = Application[
    ExtBot[dict[str, Any]], RelaisContext, dict[Any, Any], dict[Any, Any], BotData, Any
]
