"""`/inviter` offers the printable flyer: the button sends a PDF of the cohort's join link;
a forged button for another cohort is refused; `relais flyer` writes the same file."""

from __future__ import annotations

import asyncio
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader

from bot.cli.flyer import flyer_command
from bot.models import Role
from tests.e2e.harness import BOT_USERNAME, Harness
from tests.e2e.session_helpers import forge_click


def pdf_text(data: bytes) -> str:
    return " ".join(PdfReader(BytesIO(data)).pages[0].extract_text().split())


async def test_the_invite_offers_a_flyer_with_the_join_link(relais: Harness) -> None:
    cohort = await relais.make_cohort("Commerçants connectés", "Estaimpuis")
    other = await relais.make_cohort("Autre groupe", "Ath")
    claire = relais.user("Claire")
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)

    await claire.send("/inviter")
    invite = await claire.expect("Lien d'inscription", kind="photo")
    assert invite.buttons[0] == ["🖨️ Affiche à imprimer (PDF)"]
    await claire.click("🖨️ Affiche à imprimer (PDF)")
    sent = await claire.expect("L'affiche du groupe « Commerçants connectés »", kind="document")
    assert sent.document is not None
    assert sent.document.filename == "relais-commercants-connectes.pdf"
    text = pdf_text(sent.document.data)
    assert "Commerçants connectés" in text
    assert "Estaimpuis" in text
    assert "1. Ouvrez l'appareil photo de votre téléphone." in text
    assert f"https://t.me/{BOT_USERNAME}?start=join_{cohort.join_code}" in text

    # Callback data is untrusted: another cohort's flyer is refused.
    record = await forge_click(relais, claire, invite, f"inv:flyer:{other.id}")
    assert record.text is not None
    assert "réservée à la coordination" in record.text
    await claire.expect_nothing()
    for data in ("inv:flyer:99999999999", "inv:flyer:abc", "inv:flyer:"):
        record = await forge_click(relais, claire, invite, data)
        assert record.text == "Ce bouton n'est plus valable."
    await claire.expect_nothing()


async def test_relais_flyer_writes_the_pdf_of_a_cohort(relais: Harness, tmp_path: Path) -> None:
    cohort = await relais.make_cohort("Estaimpuis 2026", "Estaimpuis")
    out = tmp_path / "affiche.pdf"
    code = await asyncio.to_thread(
        flyer_command, relais.settings, cohort.join_code, out, bot_username="relais_bot"
    )
    assert code == 0
    text = pdf_text(out.read_bytes())
    assert f"https://t.me/relais_bot?start=join_{cohort.join_code}" in text
    # Without --bot, Telegram (here the sandbox) is asked for the bot's username.
    code = await asyncio.to_thread(
        flyer_command, relais.settings, str(cohort.id), out, bot_username=None
    )
    assert code == 0
    assert f"https://t.me/{BOT_USERNAME}?start=join_" in pdf_text(out.read_bytes())
