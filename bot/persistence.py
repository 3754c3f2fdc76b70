"""PTB persistence on the application's own database.

Only what conversations need survives a restart: ConversationHandler states and the
drafts kept in user_data while a guided flow is in progress (JSON only). bot_data holds
the Runtime and chat_data is unused, so neither is stored; callback data is plain strings.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from sqlalchemy import delete, select
from telegram.ext import BasePersistence, PersistenceInput

from bot.clock import Clock
from bot.db import Database
from bot.models import ConversationState, UserData
from bot.runtime import BotData

ConversationKey = tuple[int | str, ...]


def _encode_key(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def _decode_key(text: str) -> ConversationKey:
    return tuple(json.loads(text))


class DatabasePersistence(BasePersistence[dict[Any, Any], dict[Any, Any], BotData]):
    def __init__(self, db: Database, clock: Clock, update_interval: float = 5.0) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.db = db
        self.clock = clock

    async def get_conversations(self, name: str) -> MutableMapping[ConversationKey, object]:
        async with self.db.unit_of_work() as session:
            rows = await session.scalars(
                select(ConversationState).where(ConversationState.name == name)
            )
            return {_decode_key(row.key): row.state.get("state") for row in rows}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        encoded = _encode_key(key)
        async with self.db.unit_of_work() as session:
            row = await session.get(ConversationState, (name, encoded))
            if new_state is None:
                if row is not None:
                    await session.delete(row)
                return
            if row is None:
                session.add(
                    ConversationState(
                        name=name,
                        key=encoded,
                        state={"state": new_state},
                        updated_at=self.clock.now(),
                    )
                )
            else:
                row.state = {"state": new_state}
                row.updated_at = self.clock.now()

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        async with self.db.unit_of_work() as session:
            rows = await session.scalars(select(UserData))
            return {row.user_id: dict(row.data) for row in rows}

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        async with self.db.unit_of_work() as session:
            row = await session.get(UserData, user_id)
            if not data:
                if row is not None:
                    await session.delete(row)
                return
            # Round-trip through JSON so that a non-JSON draft fails loudly here, not later.
            payload = json.loads(json.dumps(data))
            if row is None:
                session.add(UserData(user_id=user_id, data=payload, updated_at=self.clock.now()))
            else:
                row.data = payload
                row.updated_at = self.clock.now()

    async def drop_user_data(self, user_id: int) -> None:
        async with self.db.unit_of_work() as session:
            await session.execute(delete(UserData).where(UserData.user_id == user_id))

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Nothing to do: this process is the only writer of its users' drafts."""

    # Not stored (see the module docstring).
    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> BotData:
        return BotData()

    async def get_callback_data(self) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_bot_data(self, data: BotData) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: BotData) -> None:
        return None

    async def flush(self) -> None:
        """Every update is written when PTB hands it over; nothing is buffered here."""
