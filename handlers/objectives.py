"""The merchant's side of the coaching loop: `/objectif`, `/objectifs` and check-in answers.

- `/objectif` (and the "🎯 Nouvel objectif" menu button, and `objset:new` buttons) opens a
  guided, button-first conversation that survives restarts (persistent ConversationHandler
  "objective"): what (starting points for their sector, or their own words), how they will
  know (a number per week, or done / not done), by when (the next session by default), then
  the objective restated in one sentence with ✅ confirm / ✏️ change. With three objectives
  active, it first asks which one to close.
- Check-in answers arrive as `obj:<objective_id>:<action>` buttons. "Stuck" and "add a number"
  ask one more thing (in the same conversation, so that a text typed later answers one
  question only); the others answer at once.
- `/objectifs` lists the merchant's objectives, their history and streak.

Callback data (untrusted: every id is re-checked against the actor and their active cohort):

    objset:new | objset:cancel | objset:resume | objset:tpl:<code> | objset:other
    objset:m:count|binary | objset:n:<1-99>|other | objset:due:<YYYYMMDD> | objset:ok
    objset:edit | objset:edit:what|how|when | objset:close:<objective_id>
    obj:<id>:done|doing|stuck|num|skip|carry|drop|card|close|closeok | obj:<id>:n:<number>
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.content import ContentLibrary
from bot.delivery.registry import Button
from bot.i18n import N_, Html, Translator
from bot.models import CheckinAnswer, MeasureKind, ObjectiveStatus
from bot.runtime import RelaisContext
from bot.services import checkins, members
from bot.services import objectives as objs
from bot.services.checkins import label
from bot.services.validation import InvalidValue
from handlers.common import answer_callback, int_arg
from handlers.menu import ANY_MENU_BUTTON, menu_button

log = logging.getLogger(__name__)

# States of the "objective" conversation.
PICK_CLOSE = "pick_close"
WHAT = "what"
WHAT_TEXT = "what_text"
HOW = "how"
HOW_MANY = "how_many"
HOW_MANY_TEXT = "how_many_text"
WHEN = "when"
CONFIRM = "confirm"
# ... and its follow-ups of a check-in answer ("what blocks you?", "how many?").
BLOCKER = "blocker"
NUMBER = "number"

DRAFT = "objective_draft"  # user_data: the answers so far (JSON)
FOLLOWUP = "checkin_followup"  # user_data: which objective / check-in a typed answer is for

NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
END = ConversationHandler.END
REPORTED_CHOICES = range(11)

STATUS_WORDS = {
    ObjectiveStatus.ACTIVE: N_("en cours"),
    ObjectiveStatus.DONE: N_("atteint"),
    ObjectiveStatus.NOT_REACHED: N_("pas atteint"),
    ObjectiveStatus.CLOSED: N_("clos"),
}
STATUS_ICONS = {
    ObjectiveStatus.ACTIVE: "🎯",
    ObjectiveStatus.DONE: "✅",
    ObjectiveStatus.NOT_REACHED: "🌱",
    ObjectiveStatus.CLOSED: "⏹",
}
ANSWER_WORDS = {
    CheckinAnswer.DONE: N_("✅ c'est fait"),
    CheckinAnswer.DOING: N_("🚧 en cours"),
    CheckinAnswer.STUCK: N_("😕 bloqué"),
}
LABEL_NEXT = N_("🎯 Fixer le prochain objectif")
LABEL_CANCEL = N_("✖ Annuler")


# --- helpers -------------------------------------------------------------------------------
def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    """Inline buttons from the services' plain Button rows."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.label, callback_data=button.callback_data)
                if button.url is None
                else InlineKeyboardButton(button.label, url=button.url)
                for button in row
            ]
            for row in rows
        ]
    )


async def show(
    update: Update, text: str, rows: Sequence[Sequence[Button]] = (), *, edit: bool = True
) -> None:
    """Answer a button by replacing its message (old buttons disappear), a message by a reply.

    With `edit=True` this also answers the callback query; with `edit=False` the caller has
    answered it (a query is answered once).
    """
    markup = keyboard(rows) if rows else None
    query = update.callback_query
    if query is not None and edit:
        await query.answer()
        if query.message is not None:
            try:
                await query.edit_message_text(text, reply_markup=markup)
                return
            except BadRequest as exc:  # too old to edit, or unchanged: send a new one
                log.debug("edit failed, sending instead: %s", exc)
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, reply_markup=markup)


async def drop_buttons(update: Update) -> None:
    """Remove the buttons of the check-in just answered (no second tap on a stale card)."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        log.debug("could not drop buttons: %s", exc)


def user_data(context: RelaisContext) -> dict[str, Any]:
    data = context.user_data
    if data is None:  # pragma: no cover - private chats always have a user
        raise RuntimeError("no user_data")
    return data


def zone(context: RelaisContext) -> ZoneInfo:
    return ZoneInfo(context.actor.zone)


def today(context: RelaisContext) -> date:
    return context.rt.clock.now().astimezone(zone(context)).date()


def short(text: str, limit: int = 40) -> str:
    return checkins.clip(text, limit)


def status_word(t: Translator, status: ObjectiveStatus) -> str:
    return t(STATUS_WORDS[status])


def callback_parts(update: Update, area: str) -> list[str]:
    query = update.callback_query
    if query is None or not query.data:
        return []
    parts = query.data.split(":")
    return parts[1:] if parts[0] == area else []


async def stale(update: Update, context: RelaisContext) -> None:
    await answer_callback(update, context.t("Ce bouton n'est plus valable."))


def library(context: RelaisContext) -> ContentLibrary:
    """The tips library of this Application (read once by build_application)."""
    return context.rt.content


# --- /objectif: the guided conversation ----------------------------------------------------
def draft(context: RelaisContext) -> dict[str, Any]:
    found = user_data(context).get(DRAFT)
    if not isinstance(found, dict):
        found = {}
        user_data(context)[DRAFT] = found
    return found


async def start(update: Update, context: RelaisContext) -> str:
    actor = context.actor
    t = context.t
    await answer_callback(update)  # when opened by a button ("🎯 Fixer le prochain objectif")
    user_data(context)[DRAFT] = {}
    assert actor.member_id is not None
    assert actor.active_cohort_id is not None
    async with context.rt.db.unit_of_work() as session:
        active = await objs.active_objectives(session, actor.member_id, actor.active_cohort_id)
        member = await members.get(session, actor.member_id)
        sector = member.sector if member is not None else None
    draft(context)["sector"] = sector
    if len(active) >= objs.MAX_ACTIVE:
        rows = [
            [Button(label(t, N_("✖ {text}"), text=short(o.text)), f"objset:close:{o.id}")]
            for o in active
        ]
        rows.append([Button(t(N_("Garder mes objectifs")), "objset:cancel")])
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
    actor = context.actor
    t = context.t
    parts = callback_parts(update, "objset")
    objective_id = int_arg(parts[1]) if len(parts) == 2 else None
    async with context.rt.db.unit_of_work() as session:
        objective = (
            await objs.owned_objective(
                session, objective_id, actor.member_id, actor.active_cohort_id
            )
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
        [Button(t(template.text), f"objset:tpl:{template.code}")]
        for template in objs.templates_for(sector if isinstance(sector, str) else None)
    ]
    rows.append([Button(t(N_("✍️ Autre : je l'écris")), "objset:other")])
    rows.append([Button(t(LABEL_CANCEL), "objset:cancel")])
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
    parts = callback_parts(update, "objset")
    template = objs.template_by_code(parts[1]) if len(parts) == 2 else None
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
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    try:
        text = objs.clean_objective_text(message.text)
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
        [Button(t(N_("🔢 Un nombre par semaine")), "objset:m:count")],
        [Button(t(N_("✅ Fait ou pas fait")), "objset:m:binary")],
    ]
    await show(update, t("📏 Comment saurez-vous que c'est réussi ?"), rows)
    return HOW


async def chose_measure(update: Update, context: RelaisContext) -> str:
    parts = callback_parts(update, "objset")
    values = draft(context)
    if parts == ["m", MeasureKind.COUNT.value]:
        values["measure"] = MeasureKind.COUNT.value
        return await ask_how_many(update, context)
    if parts == ["m", MeasureKind.BINARY.value]:
        values.update(measure=MeasureKind.BINARY.value, target=None)
        return await after(update, context, ask_when)
    await stale(update, context)
    return HOW


async def ask_how_many(update: Update, context: RelaisContext) -> str:
    t = context.t
    rows = [
        [Button(str(n), f"objset:n:{n}") for n in objs.COUNT_CHOICES],
        [Button(t(N_("Autre nombre")), "objset:n:other")],
    ]
    await show(update, t("Combien de fois par semaine ?"), rows)
    return HOW_MANY


async def chose_count(update: Update, context: RelaisContext) -> str:
    parts = callback_parts(update, "objset")
    if parts == ["n", "other"]:
        await show(update, context.t("Écrivez un nombre entre 1 et {max}.", max=objs.COUNT_MAX))
        return HOW_MANY_TEXT
    number = objs.parse_count(parts[1]) if len(parts) == 2 else None
    if number is None:
        await stale(update, context)
        return HOW_MANY
    draft(context)["target"] = number
    return await after_count(update, context)


async def typed_count(update: Update, context: RelaisContext) -> str:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    number = objs.parse_count(message.text)
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
    actor = context.actor
    assert actor.active_cohort_id is not None
    async with context.rt.db.unit_of_work() as session:
        choices = await objs.due_choices(
            session, actor.active_cohort_id, context.rt.clock.now(), zone(context)
        )
    rows = [
        [Button(_due_label(t, choice, index == 0), f"objset:due:{choice.day:%Y%m%d}")]
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
    parts = callback_parts(update, "objset")
    day = objs.parse_due_code(parts[1], today(context)) if len(parts) == 2 else None
    if day is None:
        await stale(update, context)
        return WHEN
    draft(context)["due"] = day.isoformat()
    return await ask_confirm(update, context)


async def typed_due(update: Update, context: RelaisContext) -> str:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    day = objs.parse_due(message.text, today(context))
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
        [Button(t(N_("✅ C'est parti !")), "objset:ok")],
        [Button(t(N_("✏️ Modifier")), "objset:edit")],
    ]
    await show(update, restate(t, value) + "\n\n" + t("C'est bien ça ?"), rows)
    return CONFIRM


async def ask_what_to_change(update: Update, context: RelaisContext) -> str:
    t = context.t
    rows = [
        [Button(t(N_("🎯 L'objectif")), "objset:edit:what")],
        [Button(t(N_("📏 La mesure")), "objset:edit:how")],
        [Button(t(N_("📅 La date")), "objset:edit:when")],
    ]
    await show(update, t("Que voulez-vous changer ?"), rows)
    return CONFIRM


async def change(update: Update, context: RelaisContext) -> str:
    parts = callback_parts(update, "objset")
    draft(context)["editing"] = True
    if parts == ["edit", "what"]:
        return await ask_what(update, context)
    if parts == ["edit", "how"]:
        return await ask_how(update, context)
    if parts == ["edit", "when"]:
        return await ask_when(update, context)
    await stale(update, context)
    return CONFIRM


async def confirm(update: Update, context: RelaisContext) -> str | int:
    t = context.t
    actor = context.actor
    assert actor.member_id is not None
    assert actor.active_cohort_id is not None
    value = draft_of(draft(context))
    if value is None:
        return await ask_confirm(update, context)
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as session:
        try:
            objective = await objs.create_objective(
                session,
                member_id=actor.member_id,
                cohort_id=actor.active_cohort_id,
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
        member = await members.get(session, actor.member_id)
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
    user_data(context).pop(DRAFT, None)
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
    data = user_data(context)
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


# --- check-in answers ----------------------------------------------------------------------
async def load_owned(update: Update, context: RelaisContext) -> tuple[int, list[str]] | None:
    """The objective id and the rest of `obj:<id>:...` (None for garbage)."""
    parts = callback_parts(update, "obj")
    if len(parts) < 2:
        return None
    objective_id = int_arg(parts[0])
    if objective_id is None:
        return None
    return objective_id, parts[1:]


def _closed_text(t: Translator, outcome: objs.CheckinOutcome) -> str:
    return t(
        "Cet objectif est déjà terminé ({status}). Retrouvez-le dans « 📋 Mes objectifs ».",
        status=status_word(t, outcome.status),
    )


async def on_answer(update: Update, context: RelaisContext) -> None:
    """done / doing on a check-in (or on a card from /objectifs)."""
    parsed = await load_owned(update, context)
    if parsed is None or parsed[1] not in (["done"], ["doing"]):
        await stale(update, context)
        return
    objective_id, (action,) = parsed
    t = context.t
    actor = context.actor
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, objective_id, actor.member_id, actor.active_cohort_id
        )
        if objective is None:
            await stale(update, context)
            return
        outcome = await objs.answer_checkin(
            session, objective, CheckinAnswer(action), now, zone(context)
        )
        carry_date = (
            await objs.default_due_date(session, actor.active_cohort_id or 0, now, zone(context))
            if outcome.overdue
            else None
        )
        member = await members.get(session, actor.member_id or 0)
    name = member.first_name if member else ""
    await answer_callback(update)
    if not outcome.changed:
        await show(update, _closed_text(t, outcome), edit=False)
        return
    await drop_buttons(update)
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
        await show(update, "\n".join(lines), [[Button(t(LABEL_NEXT), "objset:new")]], edit=False)
        return
    if outcome.overdue and carry_date is not None:
        await show(
            update,
            t(
                "Merci {name} ! L'échéance de « {text} » est passée : ce n'est pas grave. "
                "On le reconduit jusqu'au {date} ?",
                name=name,
                text=outcome.text,
                date=t.date(carry_date),
            ),
            checkins.carry_buttons(t, outcome.objective_id),
            edit=False,
        )
        return
    text = t(
        "Merci {name} ! 🚧 On continue sur « {text} ». Je vous redemanderai la semaine prochaine.",
        name=name,
        text=outcome.text,
    )
    rows: list[list[Button]] = []
    if outcome.measure_kind is MeasureKind.COUNT:
        text += "\n" + t("Vous pouvez aussi noter combien de fois vous l'avez fait cette semaine.")
        rows.append([Button(t(checkins.LABEL_NUMBER), f"obj:{outcome.objective_id}:num")])
    await show(update, text, rows, edit=False)


async def on_stuck(update: Update, context: RelaisContext) -> str | int:
    parsed = await load_owned(update, context)
    if parsed is None or parsed[1] != ["stuck"]:
        await stale(update, context)
        return END
    objective_id = parsed[0]
    t = context.t
    actor = context.actor
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, objective_id, actor.member_id, actor.active_cohort_id
        )
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
    user_data(context)[FOLLOWUP] = {
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
        [[Button(t(N_("Passer")), f"obj:{outcome.objective_id}:skip")]],
        edit=False,
    )
    return BLOCKER


async def typed_blocker(update: Update, context: RelaisContext) -> str | int:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    t = context.t
    pending = user_data(context).get(FOLLOWUP) or {}
    actor = context.actor
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, int(pending.get("objective_id") or 0), actor.member_id, actor.active_cohort_id
        )
        try:
            saved = objective is not None and await objs.record_blocker(
                session, objective, int(pending.get("checkin_id") or 0), message.text
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
    actor = context.actor
    pending = user_data(context).pop(FOLLOWUP, None) or {}
    now = context.rt.clock.now()
    lib = library(context)
    tip_html: str | None = None
    carry_date: date | None = None
    objective_id = int(pending.get("objective_id") or 0)
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, objective_id, actor.member_id, actor.active_cohort_id
        )
        member = await members.get(session, actor.member_id or 0)
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
            carry_date = await objs.default_due_date(
                session, actor.active_cohort_id or 0, now, zone(context)
            )
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
        rows = checkins.carry_buttons(t, objective.id)
    await show(update, "\n\n".join(parts), rows, edit=False)


async def ask_number(update: Update, context: RelaisContext) -> str | int:
    parsed = await load_owned(update, context)
    if parsed is None or parsed[1] != ["num"]:
        await stale(update, context)
        return END
    objective_id = parsed[0]
    t = context.t
    actor = context.actor
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, objective_id, actor.member_id, actor.active_cohort_id
        )
        usable = (
            objective is not None
            and objective.status == objs.ACTIVE
            and objective.measure_kind == MeasureKind.COUNT.value
        )
    if not usable:
        await stale(update, context)
        return END
    await answer_callback(update)
    user_data(context)[FOLLOWUP] = {"objective_id": objective_id}
    choices = [Button(str(n), f"obj:{objective_id}:n:{n}") for n in REPORTED_CHOICES]
    await show(
        update,
        t("Combien de fois cette semaine ? Touchez le nombre, ou écrivez-le."),
        [choices[:6], choices[6:]],
        edit=False,
    )
    return NUMBER


async def chose_number(update: Update, context: RelaisContext) -> int:
    parsed = await load_owned(update, context)
    number = (
        objs.parse_reported_number(parsed[1][1])
        if parsed is not None and len(parsed[1]) == 2 and parsed[1][0] == "n"
        else None
    )
    if parsed is None or number is None:
        await stale(update, context)
        return END
    await save_number(update, context, parsed[0], number)
    return END


async def typed_number(update: Update, context: RelaisContext) -> str | int:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    number = objs.parse_reported_number(message.text)
    if number is None:
        await message.reply_text(context.t("Écrivez seulement le nombre, par exemple 3."))
        return NUMBER
    pending = user_data(context).get(FOLLOWUP) or {}
    await save_number(update, context, int(pending.get("objective_id") or 0), number)
    return END


async def save_number(
    update: Update, context: RelaisContext, objective_id: int, number: int
) -> None:
    t = context.t
    actor = context.actor
    user_data(context).pop(FOLLOWUP, None)
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, objective_id, actor.member_id, actor.active_cohort_id
        )
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
    parsed = await load_owned(update, context)
    if parsed is None:
        await stale(update, context)
        return
    t = context.t
    actor = context.actor
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, parsed[0], actor.member_id, actor.active_cohort_id
        )
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
    parsed = await load_owned(update, context)
    if parsed is None:
        await stale(update, context)
        return
    t = context.t
    actor = context.actor
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, parsed[0], actor.member_id, actor.active_cohort_id
        )
    if objective is None or objective.status != objs.ACTIVE:
        await stale(update, context)
        return
    await answer_callback(update)
    rows = checkins.answer_buttons(t, objective.id, objective.measure_kind)
    rows.append([Button(t(N_("🗑 Abandonner cet objectif")), f"obj:{objective.id}:close")])
    text = (
        t("Où en êtes-vous ?")
        + "\n\n"
        + checkins.objective_card(
            t, objective.text, objective.measure_kind, objective.target_per_week, objective.due_on
        )
    )
    await show(update, text, rows, edit=False)


async def on_close(update: Update, context: RelaisContext) -> None:
    parsed = await load_owned(update, context)
    if parsed is None:
        await stale(update, context)
        return
    objective_id, action = parsed
    t = context.t
    actor = context.actor
    async with context.rt.db.unit_of_work() as session:
        objective = await objs.owned_objective(
            session, objective_id, actor.member_id, actor.active_cohort_id
        )
        if objective is None:
            await stale(update, context)
            return
        if action == ["close"]:
            rows = [
                [Button(t(N_("Oui, l'abandonner")), f"obj:{objective_id}:closeok")],
                [Button(t(N_("Non, je le garde")), f"obj:{objective_id}:card")],
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
    parsed = await load_owned(update, context)
    action = parsed[1] if parsed is not None else None
    if action in (["done"], ["doing"]):
        await on_answer(update, context)
    elif action == ["stuck"]:  # pragma: no cover - the follow-up conversation takes it
        await on_stuck(update, context)
    elif action == ["carry"]:
        await on_carry(update, context)
    elif action == ["drop"]:
        await on_drop(update, context)
    elif action == ["card"]:
        await on_card(update, context)
    elif action in (["close"], ["closeok"]):
        await on_close(update, context)
    elif action is not None and len(action) == 2 and action[0] == "n" and parsed is not None:
        number = objs.parse_reported_number(action[1])
        if number is None:
            await stale(update, context)
            return
        await save_number(update, context, parsed[0], number)
    else:
        await stale(update, context)


async def other_button(update: Update, context: RelaisContext) -> None:
    """Another `obj:` button while a question of this conversation waits: handle it, and the
    conversation stays where it is (returning None)."""
    await on_obj(update, context)


async def resume(update: Update, context: RelaisContext) -> None:
    actor = context.actor
    assert actor.member_id is not None
    async with context.rt.db.unit_of_work() as session:
        resumed = await objs.resume_checkins(session, actor.member_id)
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


async def stale_step(update: Update, context: RelaisContext) -> None:
    await answer_callback(
        update, context.t("Cette étape est terminée. Pour un nouvel objectif : /objectif")
    )


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
    actor = context.actor
    t = context.t
    assert actor.member_id is not None
    assert actor.active_cohort_id is not None
    async with context.rt.db.unit_of_work() as session:
        mine = await objs.my_objectives(
            session, actor.member_id, actor.active_cohort_id, context.rt.clock.now(), zone(context)
        )
    if not mine.active and not mine.history:
        await show(
            update,
            t("Vous n'avez pas encore d'objectif. On en fixe un ensemble ?"),
            [[Button(t(checkins.LABEL_NEW), "objset:new")]],
            edit=False,
        )
        return
    rows = [
        [Button(label(t, N_("✏️ Des nouvelles de : {text}"), text=short(view.text, 30)),
                f"obj:{view.id}:card")]
        for view in mine.active
    ]  # fmt: skip
    if len(mine.active) < objs.MAX_ACTIVE:
        rows.append([Button(t(checkins.LABEL_NEW), "objset:new")])
    if mine.checkins_paused:
        rows.append([Button(t(checkins.LABEL_RESUME), "objset:resume")])
    await show(update, objectives_text(t, mine), rows, edit=False)


# --- registration ----------------------------------------------------------------------------
def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    objective: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("objectif", start, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & menu_button("objectif"), start),
            CallbackQueryHandler(start, pattern=r"^objset:new$"),
            # One conversation for both flows: a text typed later belongs to one question only.
            CallbackQueryHandler(on_stuck, pattern=r"^obj:\d+:stuck$"),
            CallbackQueryHandler(ask_number, pattern=r"^obj:\d+:num$"),
        ],
        states={
            PICK_CLOSE: [CallbackQueryHandler(close_to_make_room, pattern=r"^objset:close:")],
            WHAT: [
                CallbackQueryHandler(chose_template, pattern=r"^objset:tpl:"),
                CallbackQueryHandler(ask_own_words, pattern=r"^objset:other$"),
                MessageHandler(TYPED, typed_what),
            ],
            WHAT_TEXT: [MessageHandler(TYPED, typed_what)],
            HOW: [CallbackQueryHandler(chose_measure, pattern=r"^objset:m:")],
            HOW_MANY: [
                CallbackQueryHandler(chose_count, pattern=r"^objset:n:"),
                MessageHandler(TYPED, typed_count),
            ],
            HOW_MANY_TEXT: [MessageHandler(TYPED, typed_count)],
            WHEN: [
                CallbackQueryHandler(chose_due, pattern=r"^objset:due:"),
                MessageHandler(TYPED, typed_due),
            ],
            CONFIRM: [
                CallbackQueryHandler(confirm, pattern=r"^objset:ok$"),
                CallbackQueryHandler(ask_what_to_change, pattern=r"^objset:edit$"),
                CallbackQueryHandler(change, pattern=r"^objset:edit:"),
            ],
            BLOCKER: [
                MessageHandler(TYPED, typed_blocker),
                CallbackQueryHandler(skip_blocker, pattern=r"^obj:\d+:skip$"),
            ],
            NUMBER: [
                CallbackQueryHandler(chose_number, pattern=r"^obj:\d+:n:\d+$"),
                MessageHandler(TYPED, typed_number),
            ],
        },
        fallbacks=[
            CallbackQueryHandler(cancel, pattern=r"^objset:cancel$"),
            CommandHandler("annuler", cancel, filters=NEW_MESSAGE),
            # A button of an earlier step of this conversation: the question stays.
            CallbackQueryHandler(repeat_step, pattern=r"^objset:(?!resume$)"),
            # A check-in answered meanwhile: handled, and the current question stays.
            CallbackQueryHandler(other_button, pattern=r"^obj:"),
        ],
        name="objective",
        persistent=True,
        allow_reentry=True,
    )
    return [objective]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("objectifs", list_objectives, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("objectifs"), list_objectives),
        CallbackQueryHandler(resume, pattern=r"^objset:resume$"),
        CallbackQueryHandler(stale_step, pattern=r"^objset:"),
        CallbackQueryHandler(on_obj, pattern=r"^obj:"),
    ]


__all__ = ["conversations", "handlers", "keyboard", "show"]
