"""RelaisContext narrows once what handlers would otherwise assert: the message, its text, the
pressed button, the sender, the chat, user_data, and the acting merchant or staff member."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.ext import ApplicationBuilder, ContextTypes

from bot.runtime import Acting, BotData, RelaisContext
from bot.services.access import Actor

ALICE = User(7, "Alice", is_bot=False)
CHAT = Chat(7, Chat.PRIVATE)


def application() -> Any:
    types = ContextTypes(context=RelaisContext, bot_data=BotData)
    return ApplicationBuilder().token("1:offline").context_types(types).build()


def text_update(text: str | None = "bonjour") -> Update:
    message = Message(1, datetime(2026, 12, 2, tzinfo=UTC), CHAT, from_user=ALICE, text=text)
    return Update(1, message=message)


def actor(member_id: int | None, cohort_id: int | None) -> Actor:
    return Actor(7, "fr", "Europe/Brussels", member_id=member_id, active_cohort_id=cohort_id)


def test_a_message_update_gives_its_message_text_sender_and_chat() -> None:
    update = text_update()
    context = RelaisContext.from_update(update, application())
    assert context.message is update.message
    assert context.text == "bonjour"
    assert context.sender is ALICE
    assert context.chat_id == 7
    context.store["draft"] = 1
    assert context.user_data == {"draft": 1}
    with pytest.raises(RuntimeError, match="no button press"):
        _ = context.query


def test_a_button_press_gives_the_query_and_the_message_under_it() -> None:
    under = Message(3, datetime(2026, 12, 2, tzinfo=UTC), CHAT, text="Vous venez ?")
    query = CallbackQuery("q1", ALICE, chat_instance="c", message=under, data="rsvp:4:yes")
    context = RelaisContext.from_update(Update(2, callback_query=query), application())
    assert context.query is query
    assert context.message is under
    assert context.chat_id == 7


def test_what_is_missing_is_named_instead_of_an_assertion() -> None:
    context = RelaisContext.from_update(text_update(text=None), application())
    with pytest.raises(RuntimeError, match="no text"):
        _ = context.text
    bare = RelaisContext.from_update(object(), application())
    with pytest.raises(RuntimeError, match="no message"):
        _ = bare.message
    with pytest.raises(RuntimeError, match="no chat"):
        _ = bare.chat_id
    with pytest.raises(RuntimeError, match="no user"):
        _ = bare.store


def test_the_acting_merchant_has_both_ids_or_the_gate_was_bypassed() -> None:
    context = RelaisContext.from_update(text_update(), application())
    context.actor = actor(member_id=3, cohort_id=5)
    assert context.merchant == Acting(member_id=3, cohort_id=5)
    assert context.staff == Acting(member_id=3, cohort_id=5)
    context.actor = actor(member_id=3, cohort_id=None)
    with pytest.raises(RuntimeError, match="without a member or a cohort"):
        _ = context.merchant
    context.actor = actor(member_id=None, cohort_id=5)
    with pytest.raises(RuntimeError, match="without a member or a cohort"):
        _ = context.staff
