"""The flyer: an A4 PDF whose text, read back, holds the names, the three steps and the link,
in the cohort's language; emoji in a cohort's name never break it."""

from __future__ import annotations

from io import BytesIO

import pytest
from pypdf import PdfReader

from bot.i18n import I18n
from bot.services.flyer import filename, flyer_text, join_url, printable, render_flyer

URL = join_url("relais_estaimpuis_bot", "K7M2PQ")
A4_POINTS = (595.28, 841.89)


def read_back(pdf: bytes) -> tuple[str, tuple[float, float], int]:
    reader = PdfReader(BytesIO(pdf))
    page = reader.pages[0]
    box = page.mediabox
    text = " ".join(page.extract_text().split())  # lines wrap where the layout says
    return text, (float(box.width), float(box.height)), len(reader.pages)


def test_the_flyer_is_one_a4_page_with_names_steps_and_link() -> None:
    t = I18n()("fr")
    pdf = render_flyer(
        flyer_text(t, programme="Commerçants connectés 2026", commune="Estaimpuis", url=URL)
    )
    assert pdf.startswith(b"%PDF-")
    text, size, pages = read_back(pdf)
    assert pages == 1
    assert size == pytest.approx(A4_POINTS, abs=0.5)
    assert "Commerçants connectés 2026" in text
    assert "Estaimpuis" in text
    assert "1. Ouvrez l'appareil photo de votre téléphone." in text
    assert "2. Visez le code ci-dessus, puis touchez le lien qui apparaît." in text
    assert "3. Telegram s'ouvre : appuyez sur « Démarrer » et laissez-vous guider." in text
    assert "https://t.me/relais_estaimpuis_bot?start=join_K7M2PQ" in text


@pytest.mark.parametrize(
    ("language", "step"),
    [
        ("nl", "1. Open de camera van uw telefoon."),
        ("en", "1. Open your phone's camera."),
    ],
)
def test_the_flyer_speaks_the_cohort_language(language: str, step: str) -> None:
    t = I18n()(language)
    text, _, _ = read_back(
        render_flyer(flyer_text(t, programme="Ondernemers", commune="Moeskroen", url=URL))
    )
    assert step in text
    assert "Ouvrez" not in text


def test_emoji_are_left_out_and_long_names_still_fit_one_page() -> None:
    t = I18n()("fr")
    name = "🎉 Commerçants connectés ✨ — " + "un programme au nom vraiment très long " * 3
    text, _, pages = read_back(render_flyer(flyer_text(t, programme=name, commune="Ath", url=URL)))
    assert pages == 1
    assert "🎉" not in text
    assert "Commerçants connectés" in text
    assert printable("Café 👩‍🍳 & Co") == "Café & Co"


def test_the_file_name_is_plain_ascii() -> None:
    assert filename("Commerçants connectés (démo)") == "relais-commercants-connectes-demo.pdf"
    assert filename("🎉") == "relais-groupe.pdf"
