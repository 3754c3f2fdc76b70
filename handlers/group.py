"""`/groupe`: the cohort's objectives at a glance, for its trainers and coordinators.

One line per merchant of the actor's active cohort: the current objective, where they stand,
the last check-in, and the blocker of those who are stuck — stuck first, then no news, in
progress, done, not reached, no objective. Long lists are paged with `grp:page:<n>` buttons
that edit the same message; `grp:open` (from the trainer's digest) sends the first page.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.callbacks import GRP, GroupOpen, GroupPage
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.reports import group as report
from bot.runtime import RelaisContext
from bot.services import cohorts
from bot.services.checkins import clip, fit
from handlers.common import answer_callback, answer_stale, clicked_in, show
from handlers.menu import menu_button

PAGE_SIZE = 8
NEW_MESSAGE = filters.UpdateType.MESSAGE

STATE_ICONS = {
    report.GroupState.STUCK: "😕",
    report.GroupState.NO_NEWS: "💤",
    report.GroupState.DOING: "🚧",
    report.GroupState.DONE: "✅",
    report.GroupState.NOT_REACHED: "🌱",
    report.GroupState.NONE: "➖",
}
STATE_WORDS = {
    report.GroupState.STUCK: N_("bloqués"),
    report.GroupState.NO_NEWS: N_("sans nouvelles"),
    report.GroupState.DOING: N_("en cours"),
    report.GroupState.DONE: N_("atteints"),
    report.GroupState.NOT_REACHED: N_("pas atteints"),
    report.GroupState.NONE: N_("sans objectif"),
}


def row_text(t: Translator, row: report.GroupRow) -> str:
    who = t("{icon} <b>{name}</b>", icon=STATE_ICONS[row.state], name=clip(row.first_name, 40))
    if row.business_name:
        who += " " + t("({business})", business=clip(row.business_name, 40))
    if row.objective_text is None:
        return who + " — " + t("pas encore d'objectif")
    details = [t("« {text} »", text=clip(row.objective_text, 70))]
    if row.due_on is not None and row.state not in (
        report.GroupState.DONE,
        report.GroupState.NOT_REACHED,
    ):
        details.append(t("📅 {date}", date=t.date(row.due_on, "d MMM")))
    if row.last_checkin_at is not None:
        details.append(
            t("dernière réponse : {date}", date=t.date(row.last_checkin_at, "EEE d MMM"))
        )
    else:
        details.append(t("pas encore de réponse"))
    if row.last_number is not None:
        details.append(t("nombre : {n}", n=row.last_number))
    lines = [who, "   " + " · ".join(details)]
    if row.blocker:
        lines.append("   " + t("Blocage : « {text} »", text=clip(row.blocker, 120)))
    if row.other_active:
        lines.append(
            "   "
            + t.plural(
                "+ {n} autre objectif en cours", "+ {n} autres objectifs en cours", row.other_active
            )
        )
    return "\n".join(lines)


def page_text(t: Translator, cohort_name: str, page: report.GroupPage) -> str:
    counts = " · ".join(
        t("{icon} {word} : {n}", icon=STATE_ICONS[state], word=t(STATE_WORDS[state]), n=n)
        for state, n in page.counts.items()
        if n
    )
    head = t("👥 <b>{cohort} — les objectifs</b>", cohort=cohort_name)
    if not page.total:
        return head + "\n\n" + t("Aucun commerçant n'a encore rejoint ce groupe.")
    parts = [head + "\n" + counts, "\n\n".join(row_text(t, row) for row in page.rows)]
    if page.pages > 1:
        parts.append(t("Page {page} sur {pages}", page=page.page + 1, pages=page.pages))
    return "\n\n".join(parts)


def page_buttons(t: Translator, page: report.GroupPage) -> list[list[Button]]:
    row: list[Button] = []
    if page.page > 0:
        row.append(Button(t(N_("◀ Précédent")), GroupPage(page.page - 1).pack()))
    if page.page < page.pages - 1:
        row.append(Button(t(N_("Suivant ▶")), GroupPage(page.page + 1).pack()))
    return [row] if row else []


async def send_page(update: Update, context: RelaisContext, number: int, *, edit: bool) -> None:
    actor = context.actor
    cohort_id = actor.active_cohort_id
    t = context.t
    if cohort_id is None:  # pragma: no cover - the access gate requires a staff role in it
        await show(update, t("Choisissez d'abord votre groupe avec /cohorte."), edit=False)
        return
    async with context.rt.db.unit_of_work() as tx:
        cohort = await cohorts.get(tx, cohort_id)
        page = (
            await report.group_overview(tx, cohort.id, page=number, page_size=PAGE_SIZE)
            if cohort is not None
            else None
        )
    if cohort is None or page is None:
        # An archived cohort: its objectives are nobody's business any more.
        await show(update, t("Vous ne faites partie d'aucun groupe pour le moment."), edit=edit)
        return
    await show(update, fit(page_text(t, cohort.name, page)), page_buttons(t, page), edit=edit)


async def group(update: Update, context: RelaisContext) -> None:
    await send_page(update, context, 0, edit=False)


async def turn_page(update: Update, context: RelaisContext) -> None:
    """`grp:page:<n>` edits the list in place; `grp:open` (the digest's button) sends it."""
    button = clicked_in(update, GRP)
    if isinstance(button, GroupOpen):
        await answer_callback(update)
        await send_page(update, context, 0, edit=False)
        return
    if not isinstance(button, GroupPage):
        await answer_stale(update, context.t)
        return
    await send_page(update, context, button.page, edit=True)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("groupe", group, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("groupe"), group),
        CallbackQueryHandler(turn_page, pattern=GRP.pattern),
    ]
