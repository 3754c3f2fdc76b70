"""🌱 After the sessions: the coordinator's levers on the booster phase, in the bot.

The same levers as `relais cohort booster` and `relais cohort alumni` (bot/cli/cohort.py),
for coordinators who only use Telegram. From `/inviter` (the invitation's buttons):

    inv:boost:<cohort>:show     the cohort's phase and when the messages after it end
    inv:boost:<cohort>:m1|m3    extend the booster phase by 1 or 3 months
    inv:boost:<cohort>:end      end it now? -> inv:boost:<cohort>:endok (confirmed) or :back
    inv:boost:<cohort>:alumni   a new cohort (its name typed, the commune of the old one),
                                the old one's merchants invited as guests (outbox)

The `inv` area is for coordinators (the access gate); each button re-checks on the server that
the sender coordinates the cohort it names (callback data is untrusted). Every change is
audited (`booster.extend`, `booster.end`, `booster.alumni`).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import BoosterLever
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.runtime import RelaisContext
from bot.services import booster, cohorts, staff
from bot.services.access import Access
from bot.services.audit import audit
from bot.services.booster import CohortTimes, Phase
from bot.services.cohorts import NAME_MAX
from bot.services.validation import InvalidValue, clean_text
from handlers.access import refusal
from handlers.common import answer_callback, answer_stale, clicked, drop_buttons, send, show
from handlers.menu import ANY_MENU_BUTTON
from handlers.onboarding.shared import NEW_MESSAGE, TYPED_ANSWER

log = logging.getLogger(__name__)

# The state of the "new cohort with the alumni" conversation, and its context.store key.
ALUMNI_NAME = "alumni_name"
ALUMNI = "alumni_from"


def lever_button(t: Translator, cohort_id: int) -> Button:
    """The button on the invitation (handlers/admin.py) that opens the levers."""
    return Button(t("🌱 Après les séances"), BoosterLever(cohort_id, "show").pack())


def status_text(t: Translator, name: str, times: CohortTimes) -> str:
    lines = [t("🌱 <b>Après les séances</b> — groupe « {name} »", name=name), ""]
    if times.end is None:
        lines.append(
            t(
                "Les séances sont en cours. La fin n'est pas encore connue : elle viendra avec "
                "la dernière séance du programme, une fois planifiée."
            )
        )
    elif times.phase is Phase.SESSIONS:
        lines.append(
            t("Les séances sont en cours, jusqu'au {date}.", date=t.date(times.end, "long"))
        )
    elif times.phase is Phase.BOOSTER:
        lines.append(t("Les séances sont terminées : le groupe continue par message."))
    else:
        lines.append(t("La suite par message est terminée."))
    if times.booster_end is not None:
        when = t.date(times.booster_end, "long")
        if times.phase is Phase.AFTER:
            lines.append(t("Les derniers messages sont partis le {date}.", date=when))
        else:
            lines.append(t("La suite par message se termine le {date}.", date=when))
    return "\n".join(lines)


def status_rows(t: Translator, cohort_id: int, times: CohortTimes) -> list[list[Button]]:
    rows: list[list[Button]] = []
    if times.booster_end is not None:
        rows.append(
            [
                Button(t("➕ 1 mois"), BoosterLever(cohort_id, "m1").pack()),
                Button(t("➕ 3 mois"), BoosterLever(cohort_id, "m3").pack()),
            ]
        )
    if times.phase is not Phase.AFTER:
        rows.append([Button(t("⏹ Terminer maintenant"), BoosterLever(cohort_id, "end").pack())])
    rows.append(
        [Button(t("🎓 Nouveau groupe avec les anciens"), BoosterLever(cohort_id, "alumni").pack())]
    )
    return rows


async def _refuse(update: Update, context: RelaisContext) -> None:
    actor = context.actor
    log.info("refused booster lever by %s", actor.telegram_user_id)
    await answer_callback(
        update, refusal(context.t, Access.COORDINATOR, actor.onboarded), alert=True
    )


async def on_lever(update: Update, context: RelaisContext) -> None:
    """`inv:boost:<cohort>:show|back|m1|m3|end|endok`."""
    t = context.t
    actor = context.actor
    button = clicked(update, BoosterLever)
    if button is None or button.action == "alumni":
        await answer_stale(update, t)
        return
    rt = context.rt
    now = rt.clock.now()
    programme = booster.programme_of(rt.settings, rt.content)
    cohort_id = button.cohort_id
    ended = False
    async with rt.db.unit_of_work() as session:
        allowed = await staff.can_coordinate(
            session, actor.member_id, cohort_id, is_admin=actor.is_admin
        )
        cohort = await cohorts.get(session, cohort_id) if allowed else None
        if cohort is None:
            times = None
        elif button.action in ("m1", "m3"):
            months = 1 if button.action == "m1" else 3
            until = await booster.extend(session, cohort_id, months, now, programme)
            if until is not None:
                await audit(
                    session,
                    actor.member_id,
                    cohort_id,
                    "booster.extend",
                    {"months": months, "until": until.isoformat()},
                    at=now,
                )
        elif button.action == "endok":
            current = await booster.cohort_times(session, cohort_id, now, programme)
            if current is not None and current.phase is not Phase.AFTER:
                await booster.end_now(session, cohort_id, now, programme)
                await audit(session, actor.member_id, cohort_id, "booster.end", {}, at=now)
                ended = True
        times = (
            await booster.cohort_times(session, cohort_id, now, programme)
            if cohort is not None
            else None
        )
        name = cohort.name if cohort is not None else ""
    if times is None:
        await _refuse(update, context)
        return
    if button.action == "end" and times.phase is not Phase.AFTER:
        rows = [
            [
                Button(t("✅ Oui, terminer"), BoosterLever(cohort_id, "endok").pack()),
                Button(t("↩️ Non"), BoosterLever(cohort_id, "back").pack()),
            ]
        ]
        text = t(
            "Terminer maintenant la suite par message du groupe « {name} » ? Les participants "
            "recevront un message d'au revoir, puis plus rien de la part du groupe.",
            name=name,
        )
        await show(update, text, rows)
        return
    text = status_text(t, name, times)
    if ended:
        text += "\n\n" + t("C'est fait : le message d'au revoir part aux participants.")
    if button.action == "show":
        # From the invitation (a photo, which keeps its buttons): a new message.
        await answer_callback(update)
        await send(context, text, reply_markup=keyboard(status_rows(t, cohort_id, times)))
        return
    await show(update, text, status_rows(t, cohort_id, times))


# -- a new cohort with the alumni (guided) ----------------------------------------------------


async def ask_alumni_name(update: Update, context: RelaisContext) -> str | int:
    """`inv:boost:<cohort>:alumni`: ask the new cohort's name."""
    t = context.t
    actor = context.actor
    button = clicked(update, BoosterLever)
    if button is None:
        await answer_stale(update, t)
        return ConversationHandler.END
    async with context.rt.db.unit_of_work() as session:
        allowed = await staff.can_coordinate(
            session, actor.member_id, button.cohort_id, is_admin=actor.is_admin
        )
        cohort = await cohorts.get(session, button.cohort_id) if allowed else None
        commune = cohort.commune if cohort is not None else ""
    if cohort is None:
        await _refuse(update, context)
        return ConversationHandler.END
    await answer_callback(update)
    await drop_buttons(update)
    context.store[ALUMNI] = button.cohort_id
    await send(
        context,
        t(
            "Comment s'appelle le nouveau groupe ? Il aura lieu à {commune}, et les anciens du "
            "groupe « {name} » y seront invités. (/annuler pour renoncer)",
            commune=commune,
            name=cohort.name,
        ),
    )
    return ALUMNI_NAME


async def got_alumni_name(update: Update, context: RelaisContext) -> str | int:
    t = context.t
    actor = context.actor
    source = context.store.get(ALUMNI)
    if not isinstance(source, int):
        return ConversationHandler.END
    try:
        name = clean_text(context.message.text or "", max_length=NAME_MAX)
    except InvalidValue:
        await send(
            context,
            t(
                "Un nom de {limit} caractères au maximum, s'il vous plaît. Pouvez-vous réessayer ?",
                limit=NAME_MAX,
            ),
        )
        return ALUMNI_NAME
    rt = context.rt
    now = rt.clock.now()
    async with rt.db.unit_of_work() as session:
        # Roles can change during a conversation: check again at the moment of acting.
        allowed = await staff.can_coordinate(
            session, actor.member_id, source, is_admin=actor.is_admin
        )
        earlier = await cohorts.get(session, source) if allowed else None
        if earlier is None:
            new = None
            invited = 0
        else:
            new = await cohorts.create_cohort(
                session,
                name=name,
                commune=earlier.commune,
                timezone=earlier.timezone,
                language=earlier.language,
                now=now,
                created_by_id=actor.member_id,
            )
            invited = await booster.invite_alumni(session, earlier.id, new.id, now)
            await audit(
                session,
                actor.member_id,
                new.id,
                "booster.alumni",
                {"from": earlier.id, "invited": invited},
                at=now,
            )
    context.store.pop(ALUMNI, None)
    if new is None or earlier is None:
        await send(context, refusal(t, Access.COORDINATOR, actor.onboarded))
        return ConversationHandler.END
    await send(
        context,
        t("Le groupe <b>{name}</b> est créé ✅", name=new.name)
        + "\n"
        + t.plural(
            "{n} ancien du groupe « {old} » est invité : il reçoit un message avec le lien.",
            "{n} anciens du groupe « {old} » sont invités : ils reçoivent un message avec le lien.",
            invited,
            old=earlier.name,
        ),
    )
    from handlers.admin import send_invite

    await send_invite(update, context, new, t, several=True)
    return ConversationHandler.END


async def cancel_alumni(update: Update, context: RelaisContext) -> int:
    context.store.pop(ALUMNI, None)
    await send(context, context.t("D'accord, aucun groupe n'a été créé."))
    return ConversationHandler.END


async def repeat_alumni(update: Update, context: RelaisContext) -> str:
    await send(context, context.t("Tapez le nom du nouveau groupe, ou /annuler."))
    return ALUMNI_NAME


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    alumni: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(ask_alumni_name, pattern=BoosterLever.pattern(action="alumni"))
        ],
        states={ALUMNI_NAME: [MessageHandler(TYPED_ANSWER, got_alumni_name)]},
        fallbacks=[
            CommandHandler("annuler", cancel_alumni, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & ~filters.COMMAND & ~ANY_MENU_BUTTON, repeat_alumni),
        ],
        name="booster_alumni",
        persistent=True,
        allow_reentry=True,
    )
    return [alumni]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [CallbackQueryHandler(on_lever, pattern=BoosterLever.pattern())]
