"""`/objectifs`: the merchant's objectives, their recent check-ins, history and streak."""

from __future__ import annotations

from telegram import Update

from bot import buttons
from bot.buttons import label
from bot.callbacks import ObjectiveAction
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.runtime import RelaisContext
from bot.services import checkins
from bot.services import objectives as objs
from handlers.common import show
from handlers.objectives.shared import ANSWER_WORDS, STATUS_ICONS, short, status_word, zone


# --- /objectifs ------------------------------------------------------------------------------
def _checkin_line(t: Translator, checkin: objs.CheckinView) -> str:
    day = t.date(checkin.at, "EEE d MMM")
    answer = t(ANSWER_WORDS[checkin.answer])
    if checkin.number is not None:
        return t("• {day} : {answer} ({n})", day=day, answer=answer, n=checkin.number)
    return t("• {day} : {answer}", day=day, answer=answer)


def objectives_text(t: Translator, mine: objs.MyObjectives) -> str:
    parts = [t("📋 <b>Vos objectifs</b>")]
    if mine.streak > 1:
        parts[0] += "\n" + t.plural(
            "🔥 {n} semaine de suite avec une réponse.",
            "🔥 {n} semaines de suite avec une réponse.",
            mine.streak,
        )
    if mine.checkins_paused:
        parts.append(
            t(
                "🔕 Mes questions sont en pause. "
                "Touchez « Reprendre les relances » pour les relancer."
            )
        )
    for view in mine.active:
        lines = [
            checkins.objective_card(t, view.text, view.measure_kind.value, view.target, view.due_on)
        ]
        if view.overdue:
            lines.append(t("⏰ L'échéance est passée."))
        lines += [_checkin_line(t, checkin) for checkin in view.checkins[:5]]
        if not view.checkins:
            lines.append(t("Pas encore de nouvelles."))
        parts.append("\n".join(lines))
    if mine.history:
        lines = [t("<b>Historique</b>")]
        for view in mine.history:
            when = t.date(view.closed_at or view.created_at, "d MMM")
            line = t(
                "{icon} {text} — {status} ({date})",
                icon=STATUS_ICONS[view.status],
                text=short(view.text, 60),
                status=status_word(t, view.status),
                date=when,
            )
            if view.carried_over:
                line += " " + t("· reconduit")
            lines.append(line)
            lines += [
                "   " + _checkin_line(t, checkin)
                for checkin in view.checkins[:3]
                if checkin.number is not None
            ]
        parts.append("\n".join(lines))
    if mine.done_count:
        parts.append(t("Objectifs atteints : {n}.", n=mine.done_count))
    return "\n\n".join(parts)


async def list_objectives(update: Update, context: RelaisContext) -> None:
    me = context.merchant
    t = context.t
    async with context.rt.db.read() as session:
        mine = await objs.my_objectives(
            session, me.member_id, me.cohort_id, context.rt.clock.now(), zone(context)
        )
    if not mine.active and not mine.history:
        await show(
            update,
            t("Vous n'avez pas encore d'objectif. On en fixe un ensemble ?"),
            [[buttons.new_objective(t)]],
            edit=False,
        )
        return
    rows = [
        [Button(label(t, N_("✏️ Des nouvelles de : {text}"), text=short(view.text, 30)),
                ObjectiveAction(view.id, "card").pack())]
        for view in mine.active
    ]  # fmt: skip
    if len(mine.active) < objs.MAX_ACTIVE:
        rows.append([buttons.new_objective(t)])
    if mine.checkins_paused:
        rows.append([buttons.resume_checkins(t)])
    await show(update, objectives_text(t, mine), rows, edit=False)
