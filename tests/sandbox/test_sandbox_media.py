"""The sandbox learns albums (sendMediaGroup), voice notes (sendVoice) and copies them
(copyMessage), with Telegram's limits: 2 to 10 items, captions of at most 1024 characters,
an item Telegram cannot send named in the error."""

from __future__ import annotations

import pytest
from telegram import Bot, InputMediaDocument, InputMediaPhoto
from telegram.error import BadRequest

from bot.sandbox import SandboxBotAPI
from bot.sandbox.simulator import tiny_png

ALICE = 1001


def started(sandbox: SandboxBotAPI) -> int:
    sandbox.add_user(ALICE, "Alice")
    sandbox.mark_started(ALICE)
    return ALICE


async def test_an_album_of_uploads_and_file_ids_is_one_media_group(
    sandbox: SandboxBotAPI, bot: Bot
) -> None:
    chat_id = started(sandbox)
    first = await bot.send_photo(chat_id, tiny_png(5, 5))
    album = await bot.send_media_group(
        chat_id,
        [
            InputMediaPhoto(
                first.photo[-1].file_id, caption="<b>7 sur 13</b> 👏", parse_mode="HTML"
            ),
            InputMediaPhoto(tiny_png(6, 6)),
            InputMediaPhoto(tiny_png(7, 7)),
        ],
    )
    assert len(album) == 3
    assert len({m.media_group_id for m in album}) == 1
    assert album[0].media_group_id is not None
    assert album[0].caption == "7 sur 13 👏"
    assert album[1].caption is None
    records = [m for m in sandbox.messages_to(chat_id) if m.method == "sendMediaGroup"]
    assert [r.photo.width for r in records if r.photo] == [5, 6, 7]


@pytest.mark.parametrize("count", [1, 11])
async def test_an_album_has_2_to_10_items(sandbox: SandboxBotAPI, bot: Bot, count: int) -> None:
    chat_id = started(sandbox)
    with pytest.raises(BadRequest, match="2 to 10"):
        await bot.send_media_group(chat_id, [InputMediaPhoto(tiny_png()) for _ in range(count)])
    assert sandbox.messages_to(chat_id) == []


async def test_album_captions_and_types_are_checked_and_a_lost_file_is_named(
    sandbox: SandboxBotAPI, bot: Bot
) -> None:
    chat_id = started(sandbox)
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_media_group(
            chat_id, [InputMediaPhoto(tiny_png(), caption="c" * 1025), InputMediaPhoto(tiny_png())]
        )
    with pytest.raises(BadRequest, match="can't be mixed"):
        await bot.send_media_group(
            chat_id,
            [InputMediaPhoto(tiny_png()), InputMediaDocument(b"x", filename="a.txt")],
        )
    kept = (await bot.send_photo(chat_id, tiny_png())).photo[-1].file_id
    lost = (await bot.send_photo(chat_id, tiny_png())).photo[-1].file_id
    sandbox.forget_file(lost)
    with pytest.raises(BadRequest, match=r"(?i)failed to send message #2"):
        await bot.send_media_group(chat_id, [InputMediaPhoto(kept), InputMediaPhoto(lost)])
    assert [m.method for m in sandbox.messages_to(chat_id)] == ["sendPhoto", "sendPhoto"]


async def test_a_voice_note_is_relayed_by_file_id_and_copied(
    sandbox: SandboxBotAPI, bot: Bot
) -> None:
    chat_id = started(sandbox)
    stored = sandbox.store_file(b"OggS\x00\x02voice", kind="voice", mime_type="audio/ogg")
    sent = await bot.send_voice(chat_id, stored.file_id, caption="🎤 De Tom")
    assert sent.voice is not None
    assert sent.voice.file_id == stored.file_id
    assert sent.caption == "🎤 De Tom"
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_voice(chat_id, "AwACunknown")
    photo = (await bot.send_photo(chat_id, tiny_png())).photo[-1].file_id
    with pytest.raises(BadRequest, match=r"(?i)type of file mismatch"):
        await bot.send_voice(chat_id, photo)
    copy = await bot.copy_message(chat_id, chat_id, sent.message_id)
    copied = sandbox.message(chat_id, copy.message_id)
    assert copied.kind == "voice"
    assert copied.content is not None
    assert copied.content["voice"]["file_id"] == stored.file_id
