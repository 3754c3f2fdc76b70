"""Check-in answers: `obj:<objective_id>:<action>` on check-ins and on /objectifs cards.

done / doing answer at once; "stuck" and "add a number" ask one more thing in the objective
conversation (so that a text typed later answers one question only): what blocks (then the
most relevant tip), or how many this week. Past its date, an objective can be carried over.
Every id is re-checked against the merchant and their active cohort.
"""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot import buttons
from bot.callbacks import OBJ, ObjectiveAction, ObjectiveNumber, ObjectiveStep
from bot.delivery.registry import Button
from bot.i18n import N_, Html, Translator
from bot.models import CheckinAnswer, MeasureKind, Objective
from bot.runtime import RelaisContext
from bot.services import checkins, members
from bot.services import objectives as objs
from bot.services.validation import InvalidValue
from handlers.common import answer_callback, clicked, clicked_in, drop_buttons, show, stale
from handlers.objectives.shared import (
    BLOCKER,
    END,
    FOLLOWUP,
    LABEL_NEXT,
    NUMBER,
    REPORTED_CHOICES,
    library,
    status_word,
    zone,
)

# --- check-in answers ----------------------------------------------------------------------


async def pressed(update: Update, context: RelaisContext, *actions: str) -> ObjectiveAction | None:
    """The pressed `obj:<id>:<action>` button if its action is one of `actions` (any when none
    is given); otherwise the button is answered as stale and None is returned."""
    button = clicked(update, ObjectiveAction)
    if button is None or (actions and button.action not in actions):
        await stale(update, context)
        return None
    return button


async def owned(
    session: AsyncSession, context: RelaisContext, objective_id: int
) -> Objective | None:
    """The objective if it is the merchant's, in their active cohort (ids are untrusted)."""
    me = context.merchant
    return await objs.owned_objective(session, objective_id, me.member_id, me.cohort_id)


def _closed_text(t: Translator, outcome: objs.CheckinOutcome) -> str:
    return t(
        "Cet objectif est déjà terminé ({status}). Retrouvez-le dans « 📋 Mes objectifs ».",
        status=status_word(t, outcome.status),
    )


async def on_answer(update: Update, context: RelaisContext) -> None:
    """done / doing on a check-in (or on a card from /objectifs)."""
    button = await pressed(update, context, "done", "doing")
    if button is None:
        return
    objective_id, action = button.objective_id, button.action
    t = context.t
    me = context.merchant
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, objective_id)
        if objective is None:
            await stale(update, context)
            return
        outcome = await objs.answer_checkin(
            session, objective, CheckinAnswer(action), now, zone(context)
        )
        carry_date = (
            await objs.default_due_date(session, me.cohort_id, now, zone(context))
            if outcome.overdue
            else None
        )
    name = context.actor.first_name or ""
    if not outcome.changed:
        await answer_callback(update)
        await show(update, _closed_text(t, outcome), edit=False)
        return
    rows: list[list[Button]]
    if outcome.answer is CheckinAnswer.DONE:
        lines = [t("🎉 Bravo {name} ! « {text} » : c'est fait.", name=name, text=outcome.text)]
        if outcome.done_count > 1:
            lines.append(t("Objectifs atteints depuis le début : {n}.", n=outcome.done_count))
        if outcome.streak > 1:
            lines.append(
                t.plural(
                    "🔥 {n} semaine de suite avec une réponse.",
                    "🔥 {n} semaines de suite avec une réponse.",
                    outcome.streak,
                )
            )
        lines.append(t("On fixe le prochain ?"))
        text = "\n".join(lines)
        rows = [[Button(t(LABEL_NEXT), ObjectiveStep("new").pack())]]
    elif outcome.overdue and carry_date is not None:
        text = t(
            "Merci {name} ! L'échéance de « {text} » est passée : ce n'est pas grave. "
            "On le reconduit jusqu'au {date} ?",
            name=name,
            text=outcome.text,
            date=t.date(carry_date),
        )
        rows = buttons.carry_over(t, outcome.objective_id)
    else:
        text = t(
            "Merci {name} ! 🚧 On continue sur « {text} ». "
            "Je vous redemanderai la semaine prochaine.",
            name=name,
            text=outcome.text,
        )
        rows = []
        if outcome.measure_kind is MeasureKind.COUNT:
            text += "\n" + t(
                "Vous pouvez aussi noter combien de fois vous l'avez fait cette semaine."
            )
            rows.append([buttons.add_number(t, outcome.objective_id)])
    # The spinner stops, the question loses its buttons and the reply goes, all at once:
    # one round trip instead of three.
    await asyncio.gather(
        answer_callback(update), drop_buttons(update), show(update, text, rows, edit=False)
    )


async def on_stuck(update: Update, context: RelaisContext) -> str | int:
    button = await pressed(update, context, "stuck")
    if button is None:
        return END
    objective_id = button.objective_id
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, objective_id)
        if objective is None:
            await stale(update, context)
            return END
        outcome = await objs.answer_checkin(
            session, objective, CheckinAnswer.STUCK, context.rt.clock.now(), zone(context)
        )
    await answer_callback(update)
    if not outcome.changed:
        await show(update, _closed_text(t, outcome), edit=False)
        return END
    await drop_buttons(update)
    context.store[FOLLOWUP] = {
        "objective_id": outcome.objective_id,
        "checkin_id": outcome.checkin_id,
        "overdue": outcome.overdue,
    }
    await show(
        update,
        t(
            "Merci de me le dire, c'est utile. 😕 Qu'est-ce qui vous bloque ? "
            "Écrivez-le en une phrase : votre formateur le verra avant la séance. "
            "(C'est facultatif.)"
        ),
        [[Button(t(N_("Passer")), ObjectiveAction(outcome.objective_id, "skip").pack())]],
        edit=False,
    )
    return BLOCKER


async def typed_blocker(update: Update, context: RelaisContext) -> str | int:
    message = context.message
    t = context.t
    pending = context.store.get(FOLLOWUP) or {}
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, int(pending.get("objective_id") or 0))
        try:
            saved = objective is not None and await objs.record_blocker(
                session, objective, int(pending.get("checkin_id") or 0), context.text
            )
        except InvalidValue as exc:
            if exc.too_long:
                await message.reply_text(
                    t("Un peu long : pouvez-vous le dire en moins de {n} caractères ?",
                      n=objs.BLOCKER_MAX)
                )  # fmt: skip
                return BLOCKER
            saved = False
    intro = t("Merci, c'est noté : votre formateur le verra.") if saved else ""
    await send_help(update, context, intro)
    return END


async def skip_blocker(update: Update, context: RelaisContext) -> int:
    await answer_callback(update)
    await drop_buttons(update)
    await send_help(update, context, context.t("D'accord."))
    return END


async def send_help(update: Update, context: RelaisContext, intro: str) -> None:
    """After "stuck": the tip most relevant to the objective's theme (+ carry-over if late)."""
    t = context.t
    me = context.merchant
    pending = context.store.pop(FOLLOWUP, None) or {}
    now = context.rt.clock.now()
    lib = library(context)
    tip_html: str | None = None
    carry_date: date | None = None
    objective_id = int(pending.get("objective_id") or 0)
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, objective_id)
        member = await members.get(session, me.member_id)
        if objective is not None and member is not None:
            tip = await objs.stuck_tip(
                session,
                lib,
                member_id=member.id,
                sector=member.sector,
                theme=objective.theme,
                now=now,
            )
            if tip is not None:
                tip_html = lib.render(
                    tip, t.lang, first_name=member.first_name, business_name=member.business_name
                )
        if objective is not None and pending.get("overdue"):
            carry_date = await objs.default_due_date(session, me.cohort_id, now, zone(context))
    parts = [intro] if intro else []
    if tip_html:
        parts.append(t("💡 Une piste pour avancer :") + "\n\n" + Html(tip_html))
    else:
        parts.append(t("Parlez-en à votre formateur à la prochaine séance : c'est fait pour ça."))
    rows: list[list[Button]] = []
    if carry_date is not None and objective is not None:
        parts.append(
            t("L'échéance est passée : on reconduit « {text} » jusqu'au {date} ?",
              text=objective.text, date=t.date(carry_date))
        )  # fmt: skip
        rows = buttons.carry_over(t, objective.id)
    await show(update, "\n\n".join(parts), rows, edit=False)


async def ask_number(update: Update, context: RelaisContext) -> str | int:
    button = await pressed(update, context, "num")
    if button is None:
        return END
    objective_id = button.objective_id
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, objective_id)
        usable = (
            objective is not None
            and objective.status == objs.ACTIVE
            and objective.measure_kind == MeasureKind.COUNT.value
        )
    if not usable:
        await stale(update, context)
        return END
    await answer_callback(update)
    context.store[FOLLOWUP] = {"objective_id": objective_id}
    choices = [Button(str(n), ObjectiveNumber(objective_id, n).pack()) for n in REPORTED_CHOICES]
    await show(
        update,
        t("Combien de fois cette semaine ? Touchez le nombre, ou écrivez-le."),
        [choices[:6], choices[6:]],
        edit=False,
    )
    return NUMBER


async def chose_number(update: Update, context: RelaisContext) -> int:
    button = clicked(update, ObjectiveNumber)
    number = objs.parse_reported_number(str(button.number)) if button is not None else None
    if button is None or number is None:
        await stale(update, context)
        return END
    await save_number(update, context, button.objective_id, number)
    return END


async def typed_number(update: Update, context: RelaisContext) -> str | int:
    message = context.message
    number = objs.parse_reported_number(context.text)
    if number is None:
        await message.reply_text(context.t("Écrivez seulement le nombre, par exemple 3."))
        return NUMBER
    pending = context.store.get(FOLLOWUP) or {}
    await save_number(update, context, int(pending.get("objective_id") or 0), number)
    return END


async def save_number(
    update: Update, context: RelaisContext, objective_id: int, number: int
) -> None:
    t = context.t
    context.store.pop(FOLLOWUP, None)
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, objective_id)
        outcome = (
            await objs.record_number(
                session, objective, number, context.rt.clock.now(), zone(context)
            )
            if objective is not None
            else None
        )
    if objective is None:
        if update.callback_query is not None:
            await stale(update, context)
        else:
            await show(update, t("Cet objectif n'attend plus de nombre."), edit=False)
        return
    await answer_callback(update)
    await drop_buttons(update)
    if outcome is None or not outcome.changed:
        await show(update, t("Cet objectif n'attend plus de nombre."), edit=False)
        return
    text = t("Noté : {n} cette semaine (votre cible : {target}).", n=number, target=outcome.target)
    if outcome.target and number >= outcome.target:
        text += " " + t("🎯 Cible atteinte, bravo !")
    await show(update, text, edit=False)


async def on_carry(update: Update, context: RelaisContext) -> None:
    button = await pressed(update, context)
    if button is None:
        return
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, button.objective_id)
        if objective is None:
            await stale(update, context)
            return
        result, carried = await objs.carry_over(
            session, objective, context.rt.clock.now(), zone(context)
        )
    await answer_callback(update)
    await drop_buttons(update)
    if result is objs.CarryResult.CARRIED and carried is not None:
        text = t(
            "🔁 C'est reparti : « {text} », d'ici {date}. Je vous demanderai où vous en êtes.",
            text=carried.text,
            date=t.date(carried.due_on),
        )
    elif result is objs.CarryResult.ALREADY and carried is not None:
        text = t(
            "C'est déjà fait : « {text} » continue jusqu'au {date}.",
            text=carried.text,
            date=t.date(carried.due_on),
        )
    elif result is objs.CarryResult.TOO_MANY:
        text = t(
            "Vous avez déjà {n} objectifs en cours. Clôturez-en un dans « 📋 Mes objectifs », "
            "puis réessayez.",
            n=objs.MAX_ACTIVE,
        )
    else:
        text = t("Cet objectif ne peut plus être reconduit.")
    await show(update, text, edit=False)


async def on_drop(update: Update, context: RelaisContext) -> None:
    await answer_callback(update)
    await drop_buttons(update)
    await show(
        update,
        context.t(
            "D'accord. Quand vous voulez, fixez un nouvel objectif avec « 🎯 Nouvel objectif »."
        ),
        edit=False,
    )


async def on_card(update: Update, context: RelaisContext) -> None:
    """One objective with its answer buttons (from /objectifs)."""
    button = await pressed(update, context)
    if button is None:
        return
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, button.objective_id)
    if objective is None or objective.status != objs.ACTIVE:
        await stale(update, context)
        return
    await answer_callback(update)
    rows = buttons.checkin_answers(t, objective.id, objective.measure_kind)
    rows.append(
        [Button(t(N_("🗑 Abandonner cet objectif")), ObjectiveAction(objective.id, "close").pack())]
    )
    text = (
        t("Où en êtes-vous ?")
        + "\n\n"
        + checkins.objective_card(
            t, objective.text, objective.measure_kind, objective.target_per_week, objective.due_on
        )
    )
    await show(update, text, rows, edit=False)


async def on_close(update: Update, context: RelaisContext) -> None:
    button = await pressed(update, context)
    if button is None:
        return
    objective_id, action = button.objective_id, button.action
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        objective = await owned(session, context, objective_id)
        if objective is None:
            await stale(update, context)
            return
        if action == "close":
            rows = [
                [
                    Button(
                        t(N_("Oui, l'abandonner")), ObjectiveAction(objective_id, "closeok").pack()
                    )
                ],
                [Button(t(N_("Non, je le garde")), ObjectiveAction(objective_id, "card").pack())],
            ]
            await show(
                update,
                t("Abandonner « {text} » ? Il restera dans votre historique.", text=objective.text),
                rows,
            )
            return
        closed = await objs.close_objective(session, objective, context.rt.clock.now())
    await show(
        update,
        t("« {text} » est clôturé. Il reste dans votre historique.", text=objective.text)
        if closed
        else t("Cet objectif est déjà terminé."),
    )


async def on_obj(update: Update, context: RelaisContext) -> None:
    """Every other `obj:` button (and a stale one from a finished follow-up)."""
    match clicked_in(update, OBJ):
        case ObjectiveAction(action="done" | "doing"):
            await on_answer(update, context)
        case ObjectiveAction(action="stuck"):  # pragma: no cover - the conversation takes it
            await on_stuck(update, context)
        case ObjectiveAction(action="carry"):
            await on_carry(update, context)
        case ObjectiveAction(action="drop"):
            await on_drop(update, context)
        case ObjectiveAction(action="card"):
            await on_card(update, context)
        case ObjectiveAction(action="close" | "closeok"):
            await on_close(update, context)
        case ObjectiveNumber(objective_id=objective_id, number=reported):
            number = objs.parse_reported_number(str(reported))
            if number is None:
                await stale(update, context)
                return
            await save_number(update, context, objective_id, number)
        case _:
            await stale(update, context)


async def other_button(update: Update, context: RelaisContext) -> None:
    """Another `obj:` button while a question of this conversation waits: handle it, and the
    conversation stays where it is (returning None)."""
    await on_obj(update, context)


async def resume(update: Update, context: RelaisContext) -> None:
    me = context.merchant
    async with context.rt.db.unit_of_work() as session:
        resumed = await objs.resume_checkins(session, me.member_id)
    t = context.t
    await answer_callback(update)
    await drop_buttons(update)
    await show(
        update,
        t("🔔 C'est reparti : je vous redemanderai où vous en êtes, à votre rythme.")
        if resumed
        else t("Vos relances sont déjà actives 🙂"),
        edit=False,
    )
