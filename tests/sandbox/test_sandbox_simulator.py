"""The user simulator against a real PTB Application: conversations read like what users do."""

from __future__ import annotations

import re
import time

import pytest

from bot.sandbox import SandboxBotAPI, Simulator
from tests.sandbox.conftest import USERNAME, EchoApp


async def test_conversation_with_buttons(sandbox: SandboxBotAPI, sim: Simulator) -> None:
    alice = sandbox.user(1001, "Alice", language_code="fr")
    await alice.send("/start")
    welcome = await alice.expect("Bienvenue")
    assert welcome.html == "<b>Bienvenue</b> chez Relais !"
    assert welcome.buttons == [["🇫🇷 Français", "🇳🇱 Nederlands"], ["Silence"], ["Rejoindre"]]
    await alice.expect("Menu")
    assert alice.reply_keyboard is not None

    answer = await alice.click("Français")  # unique substring
    assert answer is not None
    assert answer.answered
    assert answer.text == "C'est noté"
    edited = await alice.expect(re.compile(r"^Langue : fr$"))
    assert edited is welcome
    assert welcome.history == ["Bienvenue chez Relais !", "Langue : fr"]
    assert welcome.buttons == []  # the edit removed the keyboard
    await alice.expect_nothing()

    await alice.tap("Mes objectifs")
    await alice.expect("Écho : Mes objectifs")
    await alice.tap("numéro")  # a request_contact button shares her contact
    await alice.expect("Numéro : +32470123456")

    await alice.follow(f"https://t.me/{USERNAME}?start=checkin_xyz")
    await alice.expect("Payload : checkin_xyz")


async def test_click_link_button_and_unanswered_callback(
    sandbox: SandboxBotAPI, sim: Simulator
) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    await alice.click("Rejoindre")  # a t.me deep link to the bot
    await alice.expect("Payload : join_X1")

    answer = await alice.click("Silence")
    assert answer is not None
    assert not answer.answered
    sim.strict_callbacks = True
    with pytest.raises(AssertionError, match="did not answer the callback query"):
        await alice.click("Silence")


async def test_failures_explain_what_happened(sandbox: SandboxBotAPI, sim: Simulator) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("bonjour")
    with pytest.raises(
        AssertionError, match=r"(?s)expected a message containing 'Au revoir'.*Écho : bonjour"
    ):
        await alice.expect("Au revoir", timeout=0.1)
    with pytest.raises(AssertionError, match="sees no inline button 'OK'"):
        await alice.click("OK")
    with pytest.raises(AssertionError, match="no reply keyboard"):
        await alice.tap("Menu")
    await alice.send("encore")
    with pytest.raises(AssertionError, match="expected nothing more"):
        await alice.expect_nothing()
    with pytest.raises(AssertionError, match="leads to @other_bot"):
        await alice.follow("https://t.me/other_bot?start=x")
    with pytest.raises(AssertionError, match="invalid start payload"):
        await alice.follow(f"https://t.me/{USERNAME}?start=a+b")


async def test_actions_wait_for_slow_handlers(sandbox: SandboxBotAPI, sim: Simulator) -> None:
    """The handler sleeps longer than the quiet period between its two messages: watching the
    Application, the simulator still waits for the end."""
    alice = sandbox.user(1001, "Alice")
    began = time.monotonic()
    await alice.send("/lent")
    assert [m.plain for m in alice.messages] == ["Je cherche…", "Trouvé !"]
    assert time.monotonic() - began < 1.5


async def test_media_edits_and_blocking(sandbox: SandboxBotAPI, sim: Simulator) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send_photo(caption="ma vitrine")
    reply = await alice.expect("Belle photo", kind="photo")
    assert reply.photo_bytes is not None
    assert reply.photo_bytes.startswith(b"\x89PNG")
    assert reply.html == "<i>Belle</i> photo"

    await alice.send("premier jet")
    await alice.expect("Écho : premier jet")
    await alice.edit_last("version finale")
    await alice.expect("Modifié : version finale")

    for action in (alice.send_sticker, alice.send_voice, alice.send_location, alice.send_document):
        await action()
    await alice.expect_nothing()  # the echo bot has no handler for these

    mark = alice.mark()
    alice.block()
    with pytest.raises(AssertionError, match="blocked the bot"):
        await alice.send("coucou")
    await alice.restart()
    assert [m.plain for m in alice.inbox_since(mark)] == ["Bienvenue chez Relais !", "Menu"]


async def test_groups_and_privacy_mode(sandbox: SandboxBotAPI, sim: Simulator) -> None:
    alice = sandbox.user(1001, "Alice")
    bob = sandbox.user(1002, "Bob")
    group = sandbox.group(-1001234567890, "Cohorte Estaimpuis", [alice, bob])
    await group.send(bob, "/start")
    await group.expect("Bienvenue")
    await group.click(alice, "Nederlands")
    await group.expect("Langue : nl")
    await group.send(alice, "bavardage entre membres")  # privacy mode: the bot never sees it
    await group.expect_nothing()
    await group.send(alice, f"@{USERNAME} tu es là ?")
    await group.expect("Écho")


async def test_idle_after_bulk_updates(
    sandbox: SandboxBotAPI, sim: Simulator, echo_app: EchoApp
) -> None:
    users = [sandbox.user(2000 + n, f"U{n}") for n in range(20)]
    for user in users:
        sandbox.user_says(user.id, user.id, {"text": "salut"})
    # updates queued behind the simulator's back still count once idle() is asked for them
    await sim.settle(sandbox.pending_updates())
    assert sum(sandbox.sent_count_by_chat().values()) == 20
    await sim.idle()
