"""`/objectif`: the guided conversation that sets an objective (what, how, by when, confirm).

Button-first, with typed answers accepted at each step; it survives restarts (persistent
ConversationHandler "objective", registered in handlers/objectives/__init__.py). With three
objectives active, it first asks which one to close. Steps of a flow already over answer
`stale_step`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from telegram import Update

from bot.buttons import label
from bot.callbacks import (
    ObjectiveChange,
    ObjectiveCloseToMakeRoom,
    ObjectiveCount,
    ObjectiveDue,
    ObjectiveMeasure,
    ObjectiveOtherCount,
    ObjectiveStep,
    ObjectiveTemplate,
)
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.models import MeasureKind
from bot.runtime import RelaisContext
from bot.services import checkins, members
from bot.services import objectives as objs
from bot.services.validation import InvalidValue
from handlers.common import answer_callback, clicked, show, stale
from handlers.objectives.shared import (
    CONFIRM,
    DRAFT,
    END,
    FOLLOWUP,
    HOW,
    HOW_MANY,
    HOW_MANY_TEXT,
    LABEL_CANCEL,
    PICK_CLOSE,
    WHAT,
    WHAT_TEXT,
    WHEN,
    short,
    today,
    zone,
)


# --- /objectif: the guided conversation ----------------------------------------------------
def draft(context: RelaisContext) -> dict[str, Any]:
    found = context.store.get(DRAFT)
    if not isinstance(found, dict):
        found = {}
        context.store[DRAFT] = found
    return found


async def start(update: Update, context: RelaisContext) -> str:
    me = context.merchant
    t = context.t
    await answer_callback(update)  # when opened by a button ("🎯 Fixer le prochain objectif")
    context.store[DRAFT] = {}
    async with context.rt.db.read() as session:
        active = await objs.active_objectives(session, me.member_id, me.cohort_id)
        member = await members.get(session, me.member_id)
        sector = member.sector if member is not None else None
    draft(context)["sector"] = sector
    if len(active) >= objs.MAX_ACTIVE:
        rows = [
            [
                Button(
                    label(t, N_("✖ {text}"), text=short(o.text)),
                    ObjectiveCloseToMakeRoom(o.id).pack(),
                )
            ]
            for o in active
        ]
        rows.append([Button(t(N_("Garder mes objectifs")), ObjectiveStep("cancel").pack())])
        await show(
            update,
            t(
                "Vous avez déjà {n} objectifs en cours : c'est le maximum, pour garder le cap. "
                "Lequel voulez-vous clôturer pour faire de la place ?",
                n=len(active),
            ),
            rows,
            edit=False,
        )
        return PICK_CLOSE
    return await ask_what(update, context, edit=False)


async def close_to_make_room(update: Update, context: RelaisContext) -> str:
    me = context.merchant
    t = context.t
    button = clicked(update, ObjectiveCloseToMakeRoom)
    objective_id = button.objective_id if button is not None else None
    async with context.rt.db.unit_of_work() as session:
        objective = (
            await objs.owned_objective(session, objective_id, me.member_id, me.cohort_id)
            if objective_id is not None
            else None
        )
        closed = objective is not None and await objs.close_objective(
            session, objective, context.rt.clock.now()
        )
        text = objective.text if objective is not None else ""
    if not closed:
        await stale(update, context)
        return PICK_CLOSE
    await show(update, t("« {text} » est clôturé. Il reste dans votre historique.", text=text))
    return await ask_what(update, context, edit=False)


async def ask_what(update: Update, context: RelaisContext, *, edit: bool = True) -> str:
    t = context.t
    sector = draft(context).get("sector")
    rows = [
        [Button(t(template.text), ObjectiveTemplate(template.code).pack())]
        for template in objs.templates_for(sector if isinstance(sector, str) else None)
    ]
    rows.append([Button(t(N_("✍️ Autre : je l'écris")), ObjectiveStep("other").pack())])
    rows.append([Button(t(LABEL_CANCEL), ObjectiveStep("cancel").pack())])
    await show(
        update,
        t(
            "🎯 <b>Un nouvel objectif</b>\n"
            "Qu'aimeriez-vous réussir dans les semaines qui viennent ? "
            "Choisissez un point de départ, ou écrivez le vôtre."
        ),
        rows,
        edit=edit,
    )
    return WHAT


async def chose_template(update: Update, context: RelaisContext) -> str:
    button = clicked(update, ObjectiveTemplate)
    template = objs.template_by_code(button.code) if button is not None else None
    if template is None:
        await stale(update, context)
        return WHAT
    values = draft(context)
    values.update(
        text=context.t(template.text),
        theme=template.theme,
        template=template.code,
        suggested=template.measure.value,
        suggested_target=template.target,
    )
    return await after(update, context, ask_how)


async def ask_own_words(update: Update, context: RelaisContext) -> str:
    await show(
        update,
        context.t(
            "✍️ Écrivez votre objectif en une phrase courte, par exemple : "
            "« Publier une photo de mes créations chaque semaine »."
        ),
    )
    return WHAT_TEXT


async def typed_what(update: Update, context: RelaisContext) -> str:
    t = context.t
    message = context.message
    try:
        text = objs.clean_objective_text(context.text)
    except InvalidValue as exc:
        if exc.too_long:
            await message.reply_text(
                t(
                    "C'est un peu long : pouvez-vous le dire en moins de {n} caractères ?",
                    n=objs.TEXT_MAX,
                )
            )
        else:
            await message.reply_text(t("Écrivez votre objectif en une phrase courte."))
        return WHAT_TEXT
    values = draft(context)
    values.update(text=text, theme=objs.guess_theme(text), template=None)
    return await after(update, context, ask_how)


async def after(update: Update, context: RelaisContext, next_step: Any) -> str:
    """Go on to `next_step`, or back to the summary when the merchant was changing one part."""
    if draft(context).get("editing"):
        return await ask_confirm(update, context)
    step: str = await next_step(update, context)
    return step


async def ask_how(update: Update, context: RelaisContext) -> str:
    t = context.t
    rows = [
        [Button(t(N_("🔢 Un nombre par semaine")), ObjectiveMeasure("count").pack())],
        [Button(t(N_("✅ Fait ou pas fait")), ObjectiveMeasure("binary").pack())],
    ]
    await show(update, t("📏 Comment saurez-vous que c'est réussi ?"), rows)
    return HOW


async def chose_measure(update: Update, context: RelaisContext) -> str:
    button = clicked(update, ObjectiveMeasure)
    values = draft(context)
    if button is not None and button.kind == MeasureKind.COUNT.value:
        values["measure"] = MeasureKind.COUNT.value
        return await ask_how_many(update, context)
    if button is not None and button.kind == MeasureKind.BINARY.value:
        values.update(measure=MeasureKind.BINARY.value, target=None)
        return await after(update, context, ask_when)
    await stale(update, context)
    return HOW


async def ask_how_many(update: Update, context: RelaisContext) -> str:
    t = context.t
    rows = [
        [Button(str(n), ObjectiveCount(n).pack()) for n in objs.COUNT_CHOICES],
        [Button(t(N_("Autre nombre")), ObjectiveOtherCount().pack())],
    ]
    await show(update, t("Combien de fois par semaine ?"), rows)
    return HOW_MANY


async def ask_other_count(update: Update, context: RelaisContext) -> str:
    await show(update, context.t("Écrivez un nombre entre 1 et {max}.", max=objs.COUNT_MAX))
    return HOW_MANY_TEXT


async def chose_count(update: Update, context: RelaisContext) -> str:
    button = clicked(update, ObjectiveCount)
    number = objs.parse_count(str(button.count)) if button is not None else None
    if number is None:
        await stale(update, context)
        return HOW_MANY
    draft(context)["target"] = number
    return await after_count(update, context)


async def typed_count(update: Update, context: RelaisContext) -> str:
    message = context.message
    number = objs.parse_count(context.text)
    if number is None:
        await message.reply_text(
            context.t(
                "Je n'ai pas compris ce nombre : écrivez un nombre entre 1 et {max}, "
                "par exemple 4.",
                max=objs.COUNT_MAX,
            )
        )
        return HOW_MANY_TEXT
    draft(context)["target"] = number
    return await after_count(update, context)


async def after_count(update: Update, context: RelaisContext) -> str:
    values = draft(context)
    if values.get("editing") and not values.get("due"):  # pragma: no cover - due comes first
        return await ask_when(update, context)
    return await after(update, context, ask_when)


def _due_label(t: Translator, choice: objs.DueChoice, first: bool) -> str:
    day = t.date(choice.day, "EEE d MMM")
    if choice.kind is objs.DueKind.SESSION:
        if first:
            return label(t, N_("📅 {date} — prochaine séance"), date=day)
        return label(t, N_("📅 {date} — séance {number}"), date=day, number=choice.number)
    if choice.number == 1:
        return label(t, N_("Dans 1 semaine ({date})"), date=day)
    return label(t, N_("Dans {n} semaines ({date})"), n=choice.number, date=day)


async def ask_when(update: Update, context: RelaisContext) -> str:
    t = context.t
    me = context.merchant
    async with context.rt.db.read() as session:
        choices = await objs.due_choices(
            session, me.cohort_id, context.rt.clock.now(), zone(context)
        )
    rows = [
        [Button(_due_label(t, choice, index == 0), ObjectiveDue(choice.day).pack())]
        for index, choice in enumerate(choices)
    ]
    example = choices[0].day.strftime("%d/%m")
    await show(
        update,
        t("📅 Pour quand ? (Vous pouvez aussi écrire une date, par exemple {example}.)",
          example=example),
        rows,
    )  # fmt: skip
    return WHEN


async def chose_due(update: Update, context: RelaisContext) -> str:
    button = clicked(update, ObjectiveDue)
    day = (
        objs.parse_due_code(f"{button.day:%Y%m%d}", today(context)) if button is not None else None
    )
    if day is None:
        await stale(update, context)
        return WHEN
    draft(context)["due"] = day.isoformat()
    return await ask_confirm(update, context)


async def typed_due(update: Update, context: RelaisContext) -> str:
    message = context.message
    day = objs.parse_due(context.text, today(context))
    if day is None:
        await message.reply_text(
            context.t(
                "Je n'ai pas compris cette date. Écrivez-la comme 09/12, "
                "dans les quatre prochains mois, ou touchez un bouton."
            )
        )
        return WHEN
    draft(context)["due"] = day.isoformat()
    return await ask_confirm(update, context)


def draft_of(values: dict[str, Any]) -> objs.Draft | None:
    try:
        return objs.Draft(
            text=str(values["text"]),
            measure_kind=MeasureKind(values["measure"]),
            due_on=date.fromisoformat(str(values["due"])),
            target_per_week=values.get("target"),
            theme=values.get("theme"),
            template_code=values.get("template"),
        )
    except (KeyError, ValueError, TypeError):
        return None


def restate(t: Translator, value: objs.Draft) -> str:
    if value.measure_kind is MeasureKind.COUNT and value.target_per_week:
        return t(
            "Je récapitule : « {what} », {measure}, d'ici {date}.",
            what=value.text,
            measure=checkins.measure_line(t, value.measure_kind.value, value.target_per_week),
            date=t.date(value.due_on),
        )
    return t(
        "Je récapitule : « {what} », d'ici {date}.", what=value.text, date=t.date(value.due_on)
    )


async def ask_confirm(update: Update, context: RelaisContext) -> str:
    t = context.t
    values = draft(context)
    values["editing"] = False
    value = draft_of(values)
    if value is None:  # something is missing (an old draft): start the missing part again
        if not values.get("text"):
            return await ask_what(update, context)
        if not values.get("measure"):
            return await ask_how(update, context)
        return await ask_when(update, context)
    rows = [
        [Button(t(N_("✅ C'est parti !")), ObjectiveStep("ok").pack())],
        [Button(t(N_("✏️ Modifier")), ObjectiveStep("edit").pack())],
    ]
    await show(update, restate(t, value) + "\n\n" + t("C'est bien ça ?"), rows)
    return CONFIRM


async def ask_what_to_change(update: Update, context: RelaisContext) -> str:
    t = context.t
    rows = [
        [Button(t(N_("🎯 L'objectif")), ObjectiveChange("what").pack())],
        [Button(t(N_("📏 La mesure")), ObjectiveChange("how").pack())],
        [Button(t(N_("📅 La date")), ObjectiveChange("when").pack())],
    ]
    await show(update, t("Que voulez-vous changer ?"), rows)
    return CONFIRM


async def change(update: Update, context: RelaisContext) -> str:
    button = clicked(update, ObjectiveChange)
    draft(context)["editing"] = True
    part = button.part if button is not None else None
    if part == "what":
        return await ask_what(update, context)
    if part == "how":
        return await ask_how(update, context)
    if part == "when":
        return await ask_when(update, context)
    await stale(update, context)
    return CONFIRM


async def confirm(update: Update, context: RelaisContext) -> str | int:
    t = context.t
    actor = context.actor
    me = context.merchant
    value = draft_of(draft(context))
    if value is None:
        return await ask_confirm(update, context)
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as session:
        try:
            objective = await objs.create_objective(
                session,
                member_id=me.member_id,
                cohort_id=me.cohort_id,
                draft=value,
                now=now,
                zone=zone(context),
            )
        except objs.TooManyActive:
            objective = None
        except objs.InvalidDraft as exc:
            draft(context)["editing"] = True
            if exc.field == "due":
                return await ask_when(update, context)
            return await ask_what(update, context)
        member = await members.get(session, me.member_id)
        first = (
            checkins.next_weekly(
                created_at=now,
                due_on=value.due_on,
                last_event=None,
                rhythm=checkins.member_rhythm(member, actor.zone, context.rt.settings),
                now=now,
            )
            if member is not None
            else None
        )
    if objective is None:
        return await start(update, context)
    context.store.pop(DRAFT, None)
    if first is not None:
        follow = t(
            "Je vous demanderai où vous en êtes {date}. Une réponse d'un seul geste suffira.",
            date=t.date(first),
        )
    else:
        follow = t("Je vous demanderai comment ça s'est passé juste après l'échéance.")
    await show(update, restate(t, value) + "\n\n" + t("C'est noté ! 💪") + " " + follow)
    return END


async def cancel(update: Update, context: RelaisContext) -> int:
    data = context.store
    data.pop(DRAFT, None)
    if data.pop(FOLLOWUP, None) is not None:  # the blocker or number question
        await show(update, context.t("D'accord."))
        return END
    await show(
        update,
        context.t(
            "D'accord, on laisse ça pour l'instant. Touchez « 🎯 Nouvel objectif » "
            "quand vous voulez."
        ),
    )
    return END


async def repeat_step(update: Update, context: RelaisContext) -> None:
    """A button of an earlier step: say so, the current question stays."""
    await answer_callback(update, context.t("Répondez à la dernière question, ou /annuler."))


async def stale_step(update: Update, context: RelaisContext) -> None:
    await answer_callback(
        update, context.t("Cette étape est terminée. Pour un nouvel objectif : /objectif")
    )
