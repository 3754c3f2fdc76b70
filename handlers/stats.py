"""`/stats` (coordinator): attendance across the cohort's sessions, as a chart and a table.

The chart is a bar chart of attendance per session (the RSVP yes as markers), drawn by
bot/reports/charts.py; the table under it gives, per session, present, yes, the no-show
rate and the change since the previous session, with the overall trend; the coaching loop's
figures follow (bot/reports/stats.py), then this month's progress check: counts only, "< 5"
below five people, as in /bilan (the commune sees aggregates).
"""

from __future__ import annotations

import logging
from datetime import date
from html import escape
from typing import Any

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.i18n import N_, Translator
from bot.reports import charts
from bot.reports import stats as stats_report
from bot.reports.bilan import head_count
from bot.reports.observations import ProgressSummary
from bot.reports.stats import CohortStats, EngagementSummary, Trend
from bot.runtime import RelaisContext
from bot.services import booster
from handlers import tips as tips_handlers
from handlers import trios as trios_handlers
from handlers.menu import menu_button

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE
# Rows of the text table (the chart shows every session; a message must stay short).
TABLE_ROWS = 30
TREND_LABELS = {
    Trend.UP: N_("en hausse 📈"),
    Trend.STEADY: N_("stable ➡️"),
    Trend.DOWN: N_("en baisse 📉"),
}


def table_text(t: Translator, stats: CohortStats) -> str:
    """A monospaced table: n°, date, present, yes, no-show rate, change."""
    rows = stats.sessions[-TABLE_ROWS:]
    header = (t("N°"), t("Date"), t("Présents"), t("Oui"), t("Absents*"), t("Évol."))
    body = [
        (
            str(s.number),
            t.date(s.starts_at, "dd/MM"),
            str(s.present),
            str(s.yes),
            "—" if s.no_show_rate is None else f"{round(s.no_show_rate * 100)} %",
            "" if s.change is None else f"{s.change:+d}",
        )
        for s in rows
    ]
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i != 1 else cell.ljust(widths[i]) for i, cell in enumerate(row)
        )
        for row in (header, *body)
    ]
    text = t("<b>Présences par séance</b>") + "\n<pre>" + escape("\n".join(lines)) + "</pre>\n"
    text += t("* Absents : part de ceux qui avaient dit oui et ne sont pas venus.")
    if len(stats.sessions) > TABLE_ROWS:
        text += "\n" + t("(les {count} dernières séances)", count=TABLE_ROWS)
    if stats.trend is not None:
        text += "\n" + t("Tendance : {trend}", trend=t(TREND_LABELS[stats.trend]))
    if stats.upcoming:
        text += "\n" + t.plural("{n} séance à venir.", "{n} séances à venir.", stats.upcoming)
    return text


def engagement_text(t: Translator, summary: EngagementSummary) -> str:
    return "\n".join(
        (
            t("<b>Participation entre les séances</b>"),
            t("👥 Commerçants inscrits : {count}", count=summary.merchants),
            t(
                "💬 Ont répondu à un suivi ces 7 derniers jours : {count}",
                count=summary.answered_last_7_days,
            ),
            t(
                "🎯 Ont un objectif en cours : {count} ({share} % des commerçants)",
                count=summary.with_active_objective,
                share=round(100 * summary.share_with_active),
            ),
            t(
                "🏁 Objectifs fixés : {set} · atteints : {done}",
                set=summary.objectives_set,
                done=summary.objectives_done,
            ),
        )
    )


def progress_text(t: Translator, progress: ProgressSummary | None) -> str:
    """This month's progress check, as counts ("< 5" below five people)."""
    if progress is None:
        return ""
    year, month = (int(part) for part in progress.period.split("-"))
    lines = (
        t("<b>Point du mois ({month})</b>", month=t.date(date(year, month, 1), "LLLL y")),
        t(
            "📝 Ont répondu : {answered} sur {merchants} · pas encore : {missing}",
            answered=head_count(progress.answered),
            merchants=head_count(progress.merchants),
            missing=head_count(len(progress.not_answered)),
        ),
        t(
            "📈 Ont progressé depuis leur premier point (un chiffre ou une pratique en "
            "hausse) : {moved}",
            moved=head_count(len(progress.moved)),
        ),
    )
    return "\n\n" + "\n".join(lines)


async def show_stats(update: Update, context: RelaisContext) -> None:
    message = update.effective_message
    assert message is not None
    t = context.t
    rt = context.rt
    cohort_id = context.actor.active_cohort_id
    if cohort_id is None:
        await message.reply_text(t("Vous ne faites partie d'aucun groupe pour le moment."))
        return
    now = rt.clock.now()
    async with rt.db.unit_of_work() as tx:
        stats = await stats_report.cohort_stats(tx, cohort_id, now)
        engagement = await stats_report.engagement_summary(tx, cohort_id, now)
        progress = await stats_report.progress_figures(tx, cohort_id, now)
        programme = booster.programme_of(rt.settings, rt.content)
        peers = await trios_handlers.figures_block(tx, t, cohort_id, now, programme)
    engagement_extra = progress_text(t, progress) + ("\n\n" + peers if peers else "")
    # The tips' 👍 / 👎: the most and the least useful tips (handlers/tips.py).
    tips_text = await tips_handlers.stats_block(context, cohort_id)
    chat = update.effective_chat
    assert chat is not None
    if not stats.sessions:
        text = t("Aucune séance n'a encore eu lieu : les chiffres viendront après la première.")
        text += "\n\n" + engagement_text(t, engagement) + engagement_extra
        await message.reply_text(text + "\n\n" + tips_text)
        return
    labels = charts.AttendanceChartLabels(
        title=t.raw(N_("Présences par séance")),
        present=t.raw(N_("Présents")),
        said_yes=t.raw(N_("Avaient dit oui")),
        axis_sessions=t.raw(N_("Séance")),
        axis_people=t.raw(N_("Personnes")),
    )
    png = charts.attendance_chart(
        [s.number for s in stats.sessions],
        [s.present for s in stats.sessions],
        [s.yes for s in stats.sessions],
        labels,
    )
    total = sum(s.present for s in stats.sessions)
    caption = t.plural(
        "📊 {n} séance, {total} présences au total.",
        "📊 {n} séances, {total} présences au total.",
        len(stats.sessions),
        total=total,
    )
    await context.bot.send_photo(chat.id, InputFile(png, filename="presences.png"), caption=caption)
    text = table_text(t, stats) + "\n\n" + engagement_text(t, engagement) + engagement_extra
    await message.reply_text(text + "\n\n" + tips_text)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("stats", show_stats, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("stats"), show_stats),
    ]
