"""`/bilan` as an A4 PDF a commune can hand to its council (fpdf2, charts by matplotlib Agg).

It draws `BilanData` (bot/reports/bilan.py) in the reader's language: a title band with the
programme and the commune, the headline figures, then one section per part of the report
(sessions and attendance, weekly engagement, objectives, practices, the three numbers, the
most liked tip themes, and the challenge and trio sections when the data has them), and a
footer that states the privacy rule. Every figure goes through `shown()`: a hidden figure
(over fewer than five people) prints "< 5". Charts never draw a hidden figure.

Pure: data in, PDF bytes out. CPU-bound (charts): callers in the event loop run it in a
thread. Fonts: DejaVu Sans from matplotlib, as the flyer does; emoji are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from io import BytesIO

import matplotlib

matplotlib.use("Agg")

from babel.numbers import format_decimal, format_percent
from fpdf import FPDF
from matplotlib.figure import Figure as ChartFigure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.content import ContentLibrary
from bot.i18n import N_, Html, Translator
from bot.reports.bilan import (
    HIDDEN_TEXT,
    MIN_PEOPLE,
    BilanData,
    Figure,
    NumberLine,
    PracticeLine,
)
from bot.services.flyer import _font_files, printable

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 15.0
WIDTH = PAGE_W - 2 * MARGIN
FONT = "DejaVu"
INK = (33, 37, 41)
SOFT = (90, 98, 106)
TEAL = (42, 157, 143)
PALE = (233, 245, 243)
CHART_DPI = 110
ROW_H = 6.0
NUMBER_LABELS = {
    "followers": N_("Abonnés de la page (médiane)"),
    "posts_7d": N_("Publications sur 7 jours (médiane)"),
    "customers_month": N_("Clients venus grâce à la page, par mois (médiane)"),
}


# --- figures as text --------------------------------------------------------------------------


def shown(t: Translator, value: Figure, kind: str = "count") -> str:
    """A figure as printed: "< 5" when hidden, else a count, a share or a median."""
    if value.value is None:
        return HIDDEN_TEXT
    if kind == "share":
        return format_percent(value.value, locale=t.locale)
    if kind == "median":
        return format_decimal(round(value.value, 1), locale=t.locale)
    return format_decimal(round(value.value), locale=t.locale)


def long_date(t: Translator, value: date | datetime) -> str:
    return t.date(value, "d MMMM y")


def say(t: Translator, message: str, /, **values: object) -> str:
    """`t(message, ...)` for a page, not a Telegram message: the values are not HTML-escaped
    (a PDF would print "&lt; 5")."""
    return t(message, **{key: Html(str(value)) for key, value in values.items()})


# --- charts -------------------------------------------------------------------------------


def _png(chart: ChartFigure, left: float = 0.11) -> BytesIO:
    # Fixed margins (0.5 inch below for the axis): tight_layout() measures every label and
    # costs more than the drawing.
    bottom = 0.5 / chart.get_figheight()
    chart.subplots_adjust(
        left=left, right=0.98, top=1 - 0.15 / chart.get_figheight(), bottom=bottom
    )
    buffer = BytesIO()
    chart.savefig(buffer, format="png", dpi=CHART_DPI)
    buffer.seek(0)
    return buffer


def _teal(alpha: float = 1.0) -> tuple[float, float, float, float]:
    return (TEAL[0] / 255, TEAL[1] / 255, TEAL[2] / 255, alpha)


def attendance_chart(data: BilanData, labels: tuple[str, str, str]) -> BytesIO:
    """Present per session as bars; a hidden count is no bar, "< 5" written in its place."""
    present_label, axis_sessions, axis_people = labels
    chart = ChartFigure(figsize=(7.2, 2.6))
    axes = chart.add_subplot()
    positions = list(range(len(data.sessions)))
    heights = [s.present.value or 0.0 for s in data.sessions]
    bars = axes.bar(positions, heights, color=_teal(), label=present_label)
    axes.bar_label(
        bars,
        labels=[HIDDEN_TEXT if s.present.hidden else "" for s in data.sessions],
        padding=2,
        fontsize=8,
        color="#5a626a",
    )
    axes.set_xticks(positions, [str(s.number) for s in data.sessions])
    axes.set_xlabel(axis_sessions)
    axes.set_ylabel(axis_people)
    axes.set_ylim(0, max([*heights, MIN_PEOPLE]) * 1.2)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    return _png(chart)


def engagement_chart(data: BilanData, t: Translator, axis_label: str) -> BytesIO:
    """The weekly share answering as a line; weeks over fewer than five people are gaps."""
    chart = ChartFigure(figsize=(7.2, 2.4))
    axes = chart.add_subplot()
    values = [w.answering.value if w.answering.value is not None else math.nan for w in data.weeks]
    positions = list(range(len(data.weeks)))
    axes.plot(positions, values, color=_teal(), marker="o", markersize=3, linewidth=1.5)
    axes.fill_between(positions, values, color=_teal(0.12))
    step = max(1, len(positions) // 8)
    ticks = positions[::step]
    axes.set_xticks(ticks, [t.date(data.weeks[i].week_start, "d MMM") for i in ticks], fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_ylabel(axis_label)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(chart)


def practices_chart(
    lines: Sequence[PracticeLine], names: Sequence[str], legend: tuple[str, str]
) -> BytesIO:
    """Paired horizontal bars: adopted at the first answer, adopted now."""
    chart = ChartFigure(figsize=(7.2, 0.42 * len(lines) + 0.9))
    axes = chart.add_subplot()
    positions = list(range(len(lines)))
    first = [line.first.value or 0.0 for line in lines]
    latest = [line.latest.value or 0.0 for line in lines]
    axes.barh([p + 0.2 for p in positions], first, height=0.38, color="#c9d3d8", label=legend[0])
    axes.barh([p - 0.2 for p in positions], latest, height=0.38, color=_teal(), label=legend[1])
    axes.set_yticks(positions, [name[:48] for name in names], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="lower right", fontsize=8, frameon=False)
    return _png(chart, left=0.42)


# --- the document -------------------------------------------------------------------------


class _Page:
    """The PDF being written, with the few moves every section makes."""

    def __init__(self, title: str) -> None:
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(auto=True, margin=MARGIN)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_title(printable(title))
        pdf.set_creator("Relais")
        regular, bold = _font_files()
        pdf.add_font(FONT, "", str(regular))
        pdf.add_font(FONT, "B", str(bold))
        pdf.add_page()
        self.pdf = pdf

    def room_for(self, height: float) -> None:
        if self.pdf.get_y() + height > PAGE_H - MARGIN:
            self.pdf.add_page()

    def heading(self, text: str) -> None:
        self.room_for(30)
        pdf = self.pdf
        pdf.ln(4)
        pdf.set_font(FONT, "B", 13)
        pdf.set_text_color(*TEAL)
        pdf.multi_cell(WIDTH, 7, printable(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(*TEAL)
        pdf.set_line_width(0.4)
        pdf.line(MARGIN, pdf.get_y(), MARGIN + WIDTH, pdf.get_y())
        pdf.ln(2)

    def paragraph(self, text: str, *, size: float = 10, soft: bool = False) -> None:
        pdf = self.pdf
        pdf.set_font(FONT, "", size)
        pdf.set_text_color(*(SOFT if soft else INK))
        pdf.multi_cell(WIDTH, size * 0.5, printable(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def image(self, png: BytesIO, height: float) -> None:
        self.room_for(height)
        self.pdf.image(png, x=MARGIN, y=self.pdf.get_y(), w=WIDTH, h=height)
        self.pdf.set_y(self.pdf.get_y() + height + 2)

    def table(
        self, rows: Sequence[Sequence[str]], widths: Sequence[float], align: Sequence[str]
    ) -> None:
        """A plain table, one line per row (a text too wide is shortened with "…"), the first
        row as headings. Drawn cell by cell: fpdf2's table() lays out far more than we need."""
        pdf = self.pdf
        scale = WIDTH / sum(widths)
        sizes = [width * scale for width in widths]
        aligns = {"LEFT": "L", "RIGHT": "R", "CENTER": "C"}
        pdf.set_draw_color(200, 208, 212)
        pdf.set_line_width(0.2)
        for index, values in enumerate(rows):
            heading = index == 0
            if pdf.get_y() + ROW_H > PAGE_H - MARGIN:
                pdf.add_page()
            pdf.set_font(FONT, "B" if heading else "", 9)
            pdf.set_text_color(*INK)
            pdf.set_fill_color(*PALE)
            pdf.set_x(MARGIN)
            for value, size, where in zip(values, sizes, align, strict=True):
                text = _fit(pdf, printable(value), size - 2)
                pdf.cell(size, ROW_H, text, border="B", align=aligns[where], fill=heading)
            pdf.ln(ROW_H)
        pdf.ln(2)

    def key_figures(self, items: Sequence[tuple[str, str]]) -> None:
        """Boxes side by side: a large number over a short label."""
        pdf = self.pdf
        self.room_for(26)
        gap = 4.0
        box = (WIDTH - gap * (len(items) - 1)) / len(items)
        top = pdf.get_y()
        for index, (number, label) in enumerate(items):
            left = MARGIN + index * (box + gap)
            pdf.set_fill_color(*PALE)
            pdf.rect(left, top, box, 24, style="F", round_corners=True, corner_radius=2)
            pdf.set_xy(left, top + 3)
            pdf.set_font(FONT, "B", 16)
            pdf.set_text_color(*TEAL)
            pdf.cell(box, 8, printable(number), align="C")
            pdf.set_xy(left + 1, top + 12)
            pdf.set_font(FONT, "", 8)
            pdf.set_text_color(*SOFT)
            pdf.multi_cell(box - 2, 3.8, printable(label), align="C")
        pdf.set_y(top + 28)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text`, shortened with "…" until it fits `width` millimetres in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def render_bilan(data: BilanData, t: Translator, content: ContentLibrary) -> bytes:
    """The A4 PDF of the impact report, in `t`'s language and zone."""
    page = _Page(say(t, N_("Bilan du programme — {cohort}"), cohort=data.cohort_name))
    pdf = page.pdf

    # The band.
    pdf.set_fill_color(*TEAL)
    pdf.rect(0, 0, PAGE_W, 34, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(MARGIN, 8)
    pdf.set_font(FONT, "B", 20)
    pdf.multi_cell(WIDTH, 9, printable(t.raw(N_("Bilan du programme"))), new_x="LMARGIN")
    pdf.set_font(FONT, "", 12)
    pdf.set_x(MARGIN)
    pdf.multi_cell(
        WIDTH, 6, printable(f"{data.cohort_name} · {data.commune}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_y(40)
    page.paragraph(
        say(
            t,
            N_(
                "Du {start} au {today}. Les chiffres viennent des réponses des commerçants au bot "
                "Relais entre les séances."
            ),
            start=long_date(t, data.started_on),
            today=long_date(t, data.generated_at),
        ),
        soft=True,
    )

    # The headline figures.
    reached = data.objectives.reached_count
    page.key_figures(
        [
            (shown(t, data.members_ever), t.raw(N_("commerçants ont rejoint le programme"))),
            (str(len(data.sessions)), t.raw(N_("séances ont eu lieu"))),
            (
                shown(t, data.answering_average, "share"),
                t.raw(N_("répondent au bot en moyenne chaque semaine")),
            ),
            (shown(t, reached), t.raw(N_("objectifs atteints"))),
        ]
    )

    _sessions_section(page, data, t)
    _engagement_section(page, data, t)
    _objectives_section(page, data, t)
    _practices_section(page, data, t, content)
    _numbers_section(page, data, t)
    _themes_section(page, data, t, content)
    if data.challenges is not None:
        _challenges_section(page, data, t)
    if data.trios is not None:
        _trios_section(page, data, t)

    page.room_for(20)
    pdf.ln(4)
    page.paragraph(
        say(
            t,
            N_(
                "Chiffres agrégés uniquement : aucun commerçant n'est cité, et tout chiffre qui "
                "porte sur moins de {min} personnes est affiché « {hidden} »."
            ),
            min=MIN_PEOPLE,
            hidden=HIDDEN_TEXT,
        ),
        size=8,
        soft=True,
    )
    page.paragraph(
        say(t, N_("Rapport établi le {date} par Relais."), date=long_date(t, data.generated_at)),
        size=8,
        soft=True,
    )
    return bytes(pdf.output())


def _sessions_section(page: _Page, data: BilanData, t: Translator) -> None:
    page.heading(t("Séances et présences"))
    if not data.sessions:
        page.paragraph(t("Aucune séance n'a encore eu lieu pour ce groupe."))
        return
    page.image(
        attendance_chart(
            data, (t.raw(N_("Venus")), t.raw(N_("Séance n°")), t.raw(N_("Personnes présentes")))
        ),
        62,
    )
    rows = [
        [t("Séance n°"), t("Jour"), t("Thème de la séance"), t("Venus"), t("Avaient répondu oui")]
    ]
    rows += [
        [
            str(s.number),
            t.date(s.starts_at, "d MMM y"),
            s.theme,
            shown(t, s.present),
            shown(t, s.said_yes),
        ]
        for s in data.sessions
    ]
    page.table(rows, (20, 28, 72, 25, 35), ("CENTER", "LEFT", "LEFT", "RIGHT", "RIGHT"))
    if data.upcoming_sessions:
        page.paragraph(
            t.plural(
                "{n} séance est encore prévue.",
                "{n} séances sont encore prévues.",
                data.upcoming_sessions,
            ),
            soft=True,
        )


def _engagement_section(page: _Page, data: BilanData, t: Translator) -> None:
    page.heading(t("Participation entre les séances"))
    page.paragraph(
        t(
            "Part des commerçants inscrits qui ont répondu au bot chaque semaine (un suivi "
            "d'objectif, une réponse à une séance, un avis sur une astuce, le point du mois "
            "ou une question au formateur)."
        ),
        soft=True,
    )
    if data.answering_average.hidden:
        page.paragraph(t("Pas encore assez de réponses pour la montrer."))
        return
    page.image(engagement_chart(data, t, t.raw(N_("Ont répondu"))), 56)
    page.paragraph(
        say(
            t,
            N_("En moyenne, {share} des commerçants répondent chaque semaine."),
            share=shown(t, data.answering_average, "share"),
        )
    )


def _objectives_section(page: _Page, data: BilanData, t: Translator) -> None:
    page.heading(t("Objectifs fixés et atteints"))
    figures = data.objectives
    rows = [
        [t("Objectifs des commerçants"), t("Nombre"), t("Commerçants")],
        [t("Fixés"), shown(t, figures.set_count), shown(t, figures.people_with_one)],
        [t("Atteints"), shown(t, figures.reached_count), shown(t, figures.people_reached)],
    ]
    page.table(rows, (90, 45, 45), ("LEFT", "RIGHT", "RIGHT"))


def _practices_section(
    page: _Page, data: BilanData, t: Translator, content: ContentLibrary
) -> None:
    page.heading(t("Bonnes pratiques adoptées"))
    if not data.has_observations:
        page.paragraph(
            t(
                "Personne n'a encore répondu au point mensuel : les pratiques et les chiffres "
                "apparaîtront après les premières réponses."
            )
        )
        return
    page.paragraph(
        say(
            t,
            N_(
                "Part des commerçants qui appliquent chaque pratique, à leur première réponse puis "
                "aujourd'hui — les mêmes commerçants dans les deux colonnes ({paired} ont répondu "
                "au moins deux mois différents)."
            ),
            paired=shown(t, data.paired),
        ),
        soft=True,
    )

    def name(line: PracticeLine) -> str:
        practice = content.practice(line.practice_id)
        return practice.text(t.lang) if practice else line.practice_id

    visible = [line for line in data.practices if not line.first.hidden]
    if visible:
        page.image(
            practices_chart(
                visible,
                [printable(name(line)) for line in visible],
                (t.raw(N_("au début")), t.raw(N_("aujourd'hui"))),
            ),
            (0.42 * len(visible) + 0.9) * WIDTH / 7.2,
        )
    rows = [[t("Pratique"), t("Au début"), t("Aujourd'hui")]]
    rows += [
        [name(line), shown(t, line.first, "share"), shown(t, line.latest, "share")]
        for line in data.practices
    ]
    page.table(rows, (120, 30, 30), ("LEFT", "RIGHT", "RIGHT"))


def _numbers_section(page: _Page, data: BilanData, t: Translator) -> None:
    if not data.has_observations:
        return
    page.heading(t("Les chiffres de la page"))
    page.paragraph(
        t(
            "Médiane des chiffres donnés par les commerçants, à leur première réponse puis à "
            "la dernière (les mêmes commerçants, qui ont donné le chiffre deux mois "
            "différents)."
        ),
        soft=True,
    )

    def line(number: NumberLine) -> list[str]:
        return [
            t(NUMBER_LABELS[number.metric]),
            shown(t, number.first, "median"),
            shown(t, number.latest, "median"),
        ]

    rows = [[t("Chiffre"), t("Au début"), t("Aujourd'hui")], *map(line, data.numbers)]
    page.table(rows, (120, 30, 30), ("LEFT", "RIGHT", "RIGHT"))


def _themes_section(page: _Page, data: BilanData, t: Translator, content: ContentLibrary) -> None:
    page.heading(t("Les astuces les plus appréciées"))
    if not data.themes:
        page.paragraph(t("Pas encore assez d'avis sur les astuces pour les classer."))
        return
    rows = [[t("Thème des astuces"), t("Avis positifs"), t("Part des avis")]]
    rows += [
        [
            content.theme_name(theme.theme, t.lang),
            shown(t, theme.liked),
            shown(t, theme.liked_share, "share"),
        ]
        for theme in data.themes
    ]
    page.table(rows, (120, 30, 30), ("LEFT", "RIGHT", "RIGHT"))


def _challenges_section(page: _Page, data: BilanData, t: Translator) -> None:
    challenges = data.challenges
    assert challenges is not None
    page.heading(t("Défis lancés au groupe"))
    rows = [
        [t("Indicateur"), t("Nombre")],
        [t("défis lancés"), shown(t, challenges.sent)],
        [t("commerçants qui ont répondu à un défi"), shown(t, challenges.taken)],
        [t("commerçants qui en ont relevé un (preuve ou « fait »)"), shown(t, challenges.done)],
    ]
    page.table(rows, (140, 40), ("LEFT", "RIGHT"))


def _trios_section(page: _Page, data: BilanData, t: Translator) -> None:
    trios = data.trios
    assert trios is not None
    page.heading(t("Trios et suivi après les séances"))
    rows = [
        [t("Indicateur"), t("Part")],
        [
            t("ont encouragé ou ont été encouragés par leur trio ce mois-ci"),
            shown(t, trios.encouraged_this_month, "share"),
        ],
    ]
    for months, value in sorted(trios.still_answering.items()):
        rows.append(
            [
                t.plural(
                    "répondent encore {n} mois après la dernière séance",
                    "répondent encore {n} mois après la dernière séance",
                    months,
                ),
                shown(t, value, "share"),
            ]
        )
    page.table(rows, (140, 40), ("LEFT", "RIGHT"))


def filename(cohort_name: str) -> str:
    """`bilan-<programme>.pdf`: ASCII letters, digits and dashes."""
    from bot.services.flyer import filename as flyer_filename

    return flyer_filename(cohort_name).replace("relais-", "bilan-", 1)
