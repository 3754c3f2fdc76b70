"""The flyer for the room: a printable A4 PDF that gets merchants into their cohort.

The programme's (cohort's) and commune's names, the join QR code in large, three
illustrated steps in plain words ("Ouvrez l'appareil photo de votre téléphone..."), and the
link written out for those whose camera does not read codes. Pure: it returns PDF bytes.

Texts come from the catalogs in the cohort's language (the translator is passed in). The
QR code is drawn as vector squares from segno's matrix, so it stays sharp at any print
size; the icons are simple fpdf2 shapes. Fonts: DejaVu Sans, which ships with matplotlib
(a dependency already), so that every European letter prints; emoji are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import segno
from fpdf import FPDF

from bot.i18n import Translator
from bot.services.cohorts import JOIN_PREFIX

PAGE_W, PAGE_H = 210.0, 297.0  # A4 portrait, millimetres
MARGIN = 15.0
FONT = "DejaVu"
INK = (33, 37, 41)
SOFT = (90, 98, 106)
BLUE = (36, 129, 204)  # close to Telegram's blue: the button people will see
PALE = (232, 242, 250)
# Characters a printed page cannot show with our font: emoji, pictographs, variation
# selectors and joiners (a cohort name typed in Telegram may hold some).
_UNPRINTABLE = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0000fe00-\U0000fe0f\U0000200d\U00002b00-\U00002bff]"
)


@dataclass(frozen=True)
class FlyerText:
    """What the flyer says: the values, and every sentence in the cohort's language."""

    programme: str
    commune: str
    url: str
    headline: str
    subtitle: str
    scan_me: str
    steps: tuple[str, str, str]
    start_button: str
    no_camera: str
    telegram_needed: str


def flyer_text(t: Translator, *, programme: str, commune: str, url: str) -> FlyerText:
    """The flyer's sentences in `t`'s language (no placeholders: nothing is HTML-escaped)."""
    return FlyerText(
        programme=programme,
        commune=commune,
        url=url,
        headline=t("Rejoignez votre groupe sur Telegram"),
        subtitle=t(
            "Entre les séances, Relais vous envoie des astuces, vous rappelle les séances "
            "et vous aide à avancer sur vos objectifs."
        ),
        scan_me=t("Scannez-moi"),
        steps=(
            t("1. Ouvrez l'appareil photo de votre téléphone."),
            t("2. Visez le code ci-dessus, puis touchez le lien qui apparaît."),
            t("3. Telegram s'ouvre : appuyez sur « Démarrer » et laissez-vous guider."),
        ),
        start_button=t("DÉMARRER"),
        no_camera=t(
            "Pas d'appareil photo qui lit les codes ? Tapez ce lien dans votre téléphone :"
        ),
        telegram_needed=t(
            "Il vous faut l'application Telegram, gratuite : App Store ou Google Play."
        ),
    )


def join_url(bot_username: str, join_code: str) -> str:
    """The cohort's join link, as /inviter shows it."""
    return f"https://t.me/{bot_username}?start={JOIN_PREFIX}{join_code}"


def filename(programme: str) -> str:
    """A file name for the flyer: `relais-<programme>.pdf`, ASCII letters, digits, dashes."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", programme).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return f"relais-{slug or 'groupe'}.pdf"


def printable(text: str) -> str:
    """`text` without what the page cannot print (emoji), spaces tidied."""
    return re.sub(r"\s+", " ", _UNPRINTABLE.sub("", text)).strip()


@cache
def _font_files() -> tuple[Path, Path]:
    folder = resources.files("matplotlib") / "mpl-data" / "fonts" / "ttf"
    regular = Path(str(folder / "DejaVuSans.ttf"))
    bold = Path(str(folder / "DejaVuSans-Bold.ttf"))
    return regular, bold


def render_flyer(text: FlyerText) -> bytes:
    """The A4 PDF of the flyer."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_title(printable(f"{text.programme} - {text.commune}"))
    pdf.set_creator("Relais")
    regular, bold = _font_files()
    pdf.add_font(FONT, "", str(regular))
    pdf.add_font(FONT, "B", str(bold))
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN

    # The band: the programme and the commune.
    pdf.set_fill_color(*BLUE)
    pdf.rect(0, 0, PAGE_W, 36, style="F")
    pdf.set_text_color(255, 255, 255)
    _fitted(pdf, printable(text.programme), width, 26, 16, y=9, bold=True)
    pdf.set_font(FONT, "", 15)
    pdf.set_xy(MARGIN, pdf.get_y() + 1)
    pdf.multi_cell(width, 7, printable(text.commune), align="C")

    # The invitation.
    pdf.set_text_color(*INK)
    _fitted(pdf, printable(text.headline), width, 22, 14, y=45, bold=True)
    pdf.set_font(FONT, "", 12)
    pdf.set_text_color(*SOFT)
    pdf.set_xy(MARGIN + 10, pdf.get_y() + 2)
    pdf.multi_cell(width - 20, 6, printable(text.subtitle), align="C")

    # The QR code, large, with its quiet zone inside a frame.
    side = 112.0
    top = 74.0
    left = (PAGE_W - side) / 2
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(0.8)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(left, top, side, side, style="DF", round_corners=True, corner_radius=5)
    _qr(pdf, text.url, left, top, side)
    pdf.set_font(FONT, "B", 11)
    pdf.set_text_color(*BLUE)
    pdf.set_xy(MARGIN, top + side + 2)
    pdf.cell(width, 6, printable(text.scan_me), align="C")

    # Three steps, each with its icon.
    column = width / 3
    icon_top = 200.0
    for index, step in enumerate(text.steps):
        x = MARGIN + index * column
        centre = x + column / 2
        (_phone_icon, _aim_icon, _start_icon)[index](pdf, centre, icon_top, text)
        pdf.set_font(FONT, "", 11)
        pdf.set_text_color(*INK)
        pdf.set_xy(x + 3, icon_top + 26)
        pdf.multi_cell(column - 6, 5.5, printable(step), align="C")

    # The link, for those without a camera that reads codes.
    box_top = 259.0
    pdf.set_fill_color(*PALE)
    pdf.rect(MARGIN, box_top, width, 27, style="F", round_corners=True, corner_radius=3)
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "", 10)
    pdf.set_xy(MARGIN + 4, box_top + 3)
    pdf.multi_cell(width - 8, 5, printable(text.no_camera), align="C")
    _fitted(pdf, text.url, width - 8, 14, 8, y=pdf.get_y() + 1, bold=True, x=MARGIN + 4)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*SOFT)
    pdf.set_xy(MARGIN + 4, pdf.get_y() + 1)
    pdf.multi_cell(width - 8, 4.5, printable(text.telegram_needed), align="C")
    return bytes(pdf.output())


def _fitted(
    pdf: FPDF,
    line: str,
    width: float,
    size: float,
    smallest: float,
    *,
    y: float,
    bold: bool = False,
    x: float = MARGIN,
) -> None:
    """A centred line in the largest size from `size` down to `smallest` that fits (then wraps)."""
    style = "B" if bold else ""
    while size > smallest:
        pdf.set_font(FONT, style, size)
        if pdf.get_string_width(line) <= width:
            break
        size -= 1
    pdf.set_font(FONT, style, size)
    pdf.set_xy(x, y)
    pdf.multi_cell(width, size * 0.45, line, align="C")


def _qr(pdf: FPDF, data: str, left: float, top: float, side: float) -> None:
    """The QR code of `data` as black squares (runs of a row merged into one rectangle),
    with the standard quiet zone of four modules on every side inside `side`."""
    matrix = segno.make(data, error="m", micro=False).matrix
    quiet = 4
    module = side / (len(matrix) + 2 * quiet)
    left += quiet * module
    top += quiet * module
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            # A hair wider than the module so that neighbours never show a seam.
            pdf.rect(
                left + start * module,
                top + row_index * module,
                (column - start) * module + 0.02,
                module + 0.02,
                style="F",
            )


def _phone_icon(pdf: FPDF, centre: float, top: float, text: FlyerText) -> None:
    """A phone seen from the back, its camera lens at the top."""
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.7)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(centre - 7, top, 14, 23, style="DF", round_corners=True, corner_radius=2.5)
    pdf.set_fill_color(*BLUE)
    pdf.ellipse(centre - 4.5, top + 2.5, 5, 5, style="DF")
    pdf.set_fill_color(*INK)
    pdf.ellipse(centre + 1.5, top + 3.5, 2, 2, style="F")


def _aim_icon(pdf: FPDF, centre: float, top: float, text: FlyerText) -> None:
    """A viewfinder's four corners around a small QR-like pattern."""
    pdf.set_draw_color(*BLUE)
    pdf.set_line_width(1.0)
    half, arm = 11.0, 4.5
    cy = top + 11.5
    for sx in (-1, 1):
        for sy in (-1, 1):
            corner_x, corner_y = centre + sx * half, cy + sy * half
            pdf.line(corner_x, corner_y, corner_x - sx * arm, corner_y)
            pdf.line(corner_x, corner_y, corner_x, corner_y - sy * arm)
    pdf.set_fill_color(*INK)
    cell = 2.4
    for row, pattern in enumerate(("11011", "10001", "00100", "10001", "11011")):
        for column, dark in enumerate(pattern):
            if dark == "1":
                pdf.rect(centre - 6 + column * cell, cy - 6 + row * cell, cell, cell, style="F")


def _start_icon(pdf: FPDF, centre: float, top: float, text: FlyerText) -> None:
    """Telegram's start button, with a finger tapping it."""
    label = printable(text.start_button)
    pdf.set_font(FONT, "B", 9)
    button_w = max(30.0, pdf.get_string_width(label) + 8)
    pdf.set_fill_color(*BLUE)
    pdf.rect(
        centre - button_w / 2, top + 5, button_w, 9, style="F", round_corners=True, corner_radius=2
    )
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(centre - button_w / 2, top + 5)
    pdf.cell(button_w, 9, label, align="C")
    # The fingertip: a round pad touching the button's lower edge.
    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.7)
    pdf.set_fill_color(255, 255, 255)
    pdf.ellipse(centre + 4, top + 11.5, 6, 7.5, style="DF")
    pdf.line(centre + 4.3, top + 16, centre + 4.3, top + 23)
    pdf.line(centre + 9.7, top + 16, centre + 9.7, top + 23)
