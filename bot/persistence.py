"""PTB persistence on the application's own database.

Only what conversations need survives a restart: ConversationHandler states and the
drafts kept in user_data while a guided flow is in progress (JSON only). bot_data holds
the Runtime and chat_data is unused, so neither is stored; callback data is plain strings.

PTB hands its changes over every `update_interval` seconds, one call per conversation key
and per user who sent anything (`Application.update_persistence`, which gathers them all at
once). Each call used to be its own transaction: a few hundred write transactions at every
interval under a crowd, each taking SQLite's write lock while people's updates waited. Now
the calls of one round join one batch written in one short transaction, and what the
database already holds (known since start-up: this process is the only writer of these
tables, and erasures go through PTB's drop and delete, see handlers/privacy.py) is skipped,
so an unchanged empty user_data costs nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from telegram.ext import BasePersistence, PersistenceInput

from bot.clock import Clock
from bot.db import Database
from bot.models import ConversationState, UserData
from bot.runtime import BotData

ConversationKey = tuple[int | str, ...]
# Rows per statement of a batch (SQLite's bound parameters are limited).
CHUNK = 500


def _encode_key(key: ConversationKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def _decode_key(text: str) -> ConversationKey:
    return tuple(json.loads(text))


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class _Batch:
    """The changes of one round of `update_persistence` (None deletes the row), and its write."""

    conversations: dict[tuple[str, str], Any] = field(default_factory=dict)
    users: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    written: asyncio.Task[None] | None = None


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
        # What the database holds, as JSON text: a change equal to it is not written again.
        self._stored_conversations: dict[tuple[str, str], str] = {}
        self._stored_users: dict[int, str] = {}
        self._batch: _Batch | None = None
        self._write_lock = asyncio.Lock()

    async def get_conversations(self, name: str) -> MutableMapping[ConversationKey, object]:
        async with self.db.read() as session:
            rows = await session.scalars(
                select(ConversationState).where(ConversationState.name == name)
            )
            states: dict[ConversationKey, object] = {}
            for row in rows:
                state = row.state.get("state")
                states[_decode_key(row.key)] = state
                self._stored_conversations[(name, row.key)] = _json(state)
            return states

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        encoded = (name, _encode_key(key))
        if new_state is not None:
            # A state that is not JSON fails here, for this conversation only.
            new_state = json.loads(json.dumps(new_state))
        stored = self._stored_conversations.get(encoded)
        pending = self._batch is not None and encoded in self._batch.conversations
        if not pending and stored == (None if new_state is None else _json(new_state)):
            return
        batch = self._join()
        batch.conversations[encoded] = new_state
        await self._written(batch)

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        async with self.db.read() as session:
            rows = await session.scalars(select(UserData))
            users = {row.user_id: dict(row.data) for row in rows}
        self._stored_users = {user_id: _json(data) for user_id, data in users.items()}
        return users

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        # Round-trip through JSON so that a non-JSON draft fails loudly here, not later.
        payload: dict[str, Any] | None = json.loads(json.dumps(data)) if data else None
        stored = self._stored_users.get(user_id)
        pending = self._batch is not None and user_id in self._batch.users
        if not pending and stored == (None if payload is None else _json(payload)):
            return
        batch = self._join()
        batch.users[user_id] = payload
        await self._written(batch)

    async def drop_user_data(self, user_id: int) -> None:
        # Always written: the row may exist even if this process never loaded it.
        self._stored_users.pop(user_id, None)
        batch = self._join()
        batch.users[user_id] = None
        await self._written(batch)

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Nothing to do: this process is the only writer of its users' drafts."""

    # --- one transaction per round ----------------------------------------------------

    def _join(self) -> _Batch:
        """The batch still open for changes, with the task that will write it."""
        if self._batch is None:
            batch = _Batch()
            # The task runs after every call of this round has joined: PTB gathers the
            # calls, so they are all scheduled before it.
            batch.written = asyncio.create_task(self._write(batch))
            self._batch = batch
        return self._batch

    @staticmethod
    async def _written(batch: _Batch) -> None:
        """Until `batch` is committed (its error is every caller's, as one transaction)."""
        assert batch.written is not None
        await asyncio.shield(batch.written)

    async def _write(self, batch: _Batch) -> None:
        # Batches are written one at a time, in the order they were opened.
        async with self._write_lock:
            if self._batch is batch:
                self._batch = None  # from here on, changes go to the next batch
            await self._write_rows(batch)
        for encoded, state in batch.conversations.items():
            if state is None:
                self._stored_conversations.pop(encoded, None)
            else:
                self._stored_conversations[encoded] = _json(state)
        for user_id, data in batch.users.items():
            if data is None:
                self._stored_users.pop(user_id, None)
            else:
                self._stored_users[user_id] = _json(data)

    async def _write_rows(self, batch: _Batch) -> None:
        now = self.clock.now()
        async with self.db.unit_of_work() as session:
            by_name: dict[str, list[str]] = {}
            for name, key in batch.conversations:
                by_name.setdefault(name, []).append(key)
            for name, keys in by_name.items():
                for part in _chunks(keys):
                    await session.execute(
                        delete(ConversationState).where(
                            ConversationState.name == name, ConversationState.key.in_(part)
                        )
                    )
            for part in _chunks(list(batch.users)):
                await session.execute(delete(UserData).where(UserData.user_id.in_(part)))
            session.add_all(
                ConversationState(name=name, key=key, state={"state": state}, updated_at=now)
                for (name, key), state in batch.conversations.items()
                if state is not None
            )
            session.add_all(
                UserData(user_id=user_id, data=data, updated_at=now)
                for user_id, data in batch.users.items()
                if data is not None
            )

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
        """Called by PTB at shutdown, after its last `update_persistence`: wait for the write."""
        if self._batch is not None:
            await self._written(self._batch)
        async with self._write_lock:
            pass  # an earlier batch still being written


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]
