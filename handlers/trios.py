"""`/trio` (merchant) and `/trios` (trainer, coordinator): peer trios of a cohort.

    /trio                     my trio: who they are, their shared news of the week, and a
                              one-tap word for each (trio:enc:<member_id>:bravo|courage|talk);
                              leaving my trio (trio:leave:ask|ok|no)
    /trios                    a draft of the cohort's trios (or the current ones): reshuffle
                              (trio:shuf:<seed>), confirm (trio:ok), move one person
                              (trio:mv:<draft> -> trio:mvp:<member> -> trio:mvt:<member>:<trio>)

The `trio` area is open to members; each shape re-checks the role here and the services
re-check the cohort of every person and trio named (callback data is untrusted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.callbacks import (
    TRIO,
    TrioConfirm,
    TrioEncourage,
    TrioLeave,
    TrioMovePerson,
    TrioMoveStart,
    TrioMoveTo,
    TrioShuffle,
)
from bot.delivery.registry import Button
from bot.i18n import Translator, escape
from bot.keyboards import keyboard
from bot.models import Trio
from bot.reports import trios as trio_report
from bot.runtime import RelaisContext
from bot.services import booster, trio_week, trios
from bot.services.access import Access
from bot.services.booster import Phase
from bot.services.trio_week import EncourageOutcome
from bot.services.trios import MoveOutcome, TrioView
from handlers.common import answer_callback, answer_stale, clicked_in, show

NEW_MESSAGE = filters.UpdateType.MESSAGE
WEEK = timedelta(days=7)


# -- /trio ------------------------------------------------------------------------------------


async def show_my_trio(update: Update, context: RelaisContext) -> None:
    t = context.t
    member_id = context.merchant.member_id
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as session:
        week = await trio_week.trio_week(session, member_id, now - WEEK, now)
    if week is None or not week.peers:
        await context.message.reply_text(
            t(
                "Vous n'êtes pas (encore) dans un trio. Votre formateur forme les trios du "
                "groupe : trois commerçants de métiers différents qui s'encouragent entre les "
                "séances."
            )
        )
        return
    lines = [trio_week.formed_text(t, week.peers).split("\n", 1)[0], ""]
    lines += [trio_week.peer_line(t, peer) for peer in week.peers]
    lines += ["", trio_week.week_text(t, week, monthly=False, first=False)]
    rows = trio_week.encourage_buttons(t, week.peers)
    rows.append([Button(t("🚪 Quitter mon trio"), callback_data=TrioLeave("ask").pack())])
    await context.message.reply_text("\n".join(lines), reply_markup=keyboard(rows))


async def on_encourage(update: Update, context: RelaisContext, button: TrioEncourage) -> None:
    t = context.t
    if not context.actor.may(Access.MERCHANT) or context.actor.member_id is None:
        await answer_stale(update, t)
        return
    async with context.rt.db.unit_of_work() as session:
        outcome = await trio_week.encourage(
            session,
            context.actor.member_id,
            button.member_id,
            button.choice,
            context.rt.clock.now(),
        )
    if outcome is EncourageOutcome.SENT:
        await answer_callback(update, t("C'est envoyé ✅"))
    elif outcome is EncourageOutcome.ALREADY_TODAY:
        await answer_callback(
            update, t("Vous lui avez déjà envoyé un mot aujourd'hui. Demain, avec plaisir !")
        )
    else:
        await answer_callback(update, t("Cette personne n'est pas (ou plus) dans votre trio."))


async def on_leave(update: Update, context: RelaisContext, button: TrioLeave) -> None:
    t = context.t
    if not context.actor.may(Access.MERCHANT) or context.actor.member_id is None:
        await answer_stale(update, t)
        return
    if button.step == "ask":
        await show(
            update,
            t(
                "Quitter votre trio ? Vous ne recevrez plus ses nouvelles et il ne recevra plus "
                "les vôtres."
            ),
            [
                [
                    Button(t("🚪 Oui, quitter"), callback_data=TrioLeave("ok").pack()),
                    Button(t("Non, je reste"), callback_data=TrioLeave("no").pack()),
                ]
            ],
        )
        return
    if button.step == "no":
        await show(update, t("Parfait, vous restez dans votre trio 🙂"))
        return
    async with context.rt.db.unit_of_work() as session:
        left = await trios.leave(session, context.actor.member_id, context.rt.clock.now())
    if left:
        await show(update, t("C'est fait : vous avez quitté votre trio."))
    else:
        await answer_stale(update, t)


# -- /trios -----------------------------------------------------------------------------------


def trios_text(t: Translator, views: list[TrioView], *, draft: bool) -> str:
    count = sum(len(view.peers) for view in views)
    if draft:
        title = t.plural(
            "👥 <b>Proposition de trios</b> ({n} participant)",
            "👥 <b>Proposition de trios</b> ({n} participants)",
            count,
        )
    else:
        title = t.plural(
            "👥 <b>Les trios du groupe</b> ({n} participant)",
            "👥 <b>Les trios du groupe</b> ({n} participants)",
            count,
        )
    lines = [title]
    for view in views:
        lines += ["", t("<b>Trio {n}</b>", n=view.number)]
        lines += [trio_week.peer_line(t, peer) for peer in view.peers]
    if draft:
        lines += [
            "",
            t(
                "Métiers différents d'abord, même commune si possible. Personne n'est prévenu "
                "avant ✅ Confirmer."
            ),
        ]
    return "\n".join(lines)


def trios_buttons(t: Translator, *, draft: bool, seed: int) -> list[list[Button]]:
    if draft:
        return [
            [
                Button(t("🔀 Mélanger"), callback_data=TrioShuffle(seed + 1).pack()),
                Button(t("↔️ Déplacer quelqu'un"), callback_data=TrioMoveStart(1).pack()),
            ],
            [Button(t("✅ Confirmer"), callback_data=TrioConfirm().pack())],
        ]
    return [
        [
            Button(t("🔀 Refaire les trios"), callback_data=TrioShuffle(seed + 1).pack()),
            Button(t("↔️ Déplacer quelqu'un"), callback_data=TrioMoveStart(0).pack()),
        ]
    ]


async def show_trios(update: Update, context: RelaisContext) -> None:
    t = context.t
    cohort_id = context.staff.cohort_id
    settings = context.rt.settings
    async with context.rt.db.unit_of_work() as session:
        draft = await trios.trios_of(session, cohort_id, confirmed=False)
        current = await trios.trios_of(session, cohort_id)
        if not draft and not current:
            draft = await trios.preview(
                session, cohort_id, size=settings.trio_size, seed=0, now=context.rt.clock.now()
            )
    if draft:
        await _show_set(update, t, draft, draft=True, seed=0)
    else:
        await _show_set(update, t, current, draft=False, seed=0)


async def _show_set(
    update: Update, t: Translator, views: list[TrioView], *, draft: bool, seed: int
) -> None:
    if not views:
        await show(
            update,
            t(
                "Pas encore assez de participants pour former des trios (il en faut au moins "
                "deux, qui ont rejoint le bot et ne sont pas en pause)."
            ),
        )
        return
    await show(update, trios_text(t, views, draft=draft), trios_buttons(t, draft=draft, seed=seed))


async def on_staff_button(update: Update, context: RelaisContext, button: Any) -> None:
    t = context.t
    if not context.actor.may(Access.TRAINER):
        await answer_stale(update, t)
        return
    cohort_id = context.staff.cohort_id
    now = context.rt.clock.now()
    settings = context.rt.settings
    async with context.rt.db.unit_of_work() as session:
        if isinstance(button, TrioShuffle):
            views = await trios.preview(
                session, cohort_id, size=settings.trio_size, seed=button.seed, now=now
            )
            result: tuple[str, Any] = ("set", (views, True, button.seed))
        elif isinstance(button, TrioConfirm):
            views = await trios.confirm(session, cohort_id, now)
            result = ("confirmed", views)
        elif isinstance(button, TrioMoveStart):
            views = await trios.trios_of(session, cohort_id, confirmed=not button.draft)
            result = ("pick", views)
        elif isinstance(button, TrioMovePerson):
            draft = await trios.trios_of(session, cohort_id, confirmed=False)
            in_draft = any(p.member_id == button.member_id for v in draft for p in v.peers)
            views = draft if in_draft else await trios.trios_of(session, cohort_id)
            result = ("where", views)
        else:
            assert isinstance(button, TrioMoveTo)
            outcome = await trios.move(session, cohort_id, button.member_id, button.trio_id, now)
            trio = await session.get(Trio, button.trio_id)
            confirmed = trio is not None and trio.confirmed_at is not None
            views = await trios.trios_of(session, cohort_id, confirmed=confirmed)
            result = ("moved", (outcome, views, not confirmed))
    kind, data = result
    if kind == "set":
        views, draft, seed = data
        await _show_set(update, t, views, draft=draft, seed=seed)
    elif kind == "confirmed":
        if not data:
            await answer_stale(update, t)
            return
        await show(
            update,
            trios_text(t, data, draft=False)
            + "\n\n"
            + t("✅ C'est confirmé : chacun reçoit le nom de son trio."),
        )
    elif kind == "pick":
        people = [
            Button(escape(peer.first_name), callback_data=TrioMovePerson(peer.member_id).pack())
            for view in data
            for peer in view.peers
        ]
        if not people:
            await answer_stale(update, t)
            return
        rows = [people[index : index + 3] for index in range(0, len(people), 3)]
        await show(update, t("Qui voulez-vous déplacer ?"), rows)
    elif kind == "where":
        person = next((p for v in data for p in v.peers if p.member_id == button.member_id), None)
        if person is None:  # forged: not someone of this cohort's trios
            await answer_callback(update, t("Cette personne n'est pas dans les trios du groupe."))
            return
        rows = [
            [
                Button(
                    t("Trio {n}", n=view.number),
                    callback_data=TrioMoveTo(button.member_id, view.trio_id).pack(),
                )
            ]
            for view in data
            if person not in view.peers
        ]
        await show(update, t("Dans quel trio mettre {name} ?", name=person.first_name), rows)
    else:
        outcome, views, draft = data
        if outcome is MoveOutcome.REFUSED:
            await answer_callback(update, t("Cette personne n'est pas dans les trios du groupe."))
            return
        if outcome is MoveOutcome.LONELY:
            await answer_callback(
                update,
                t(
                    "Quelqu'un resterait seul dans son trio : déplacez plutôt une personne "
                    "d'un trio de trois."
                ),
                alert=True,
            )
            return
        await _show_set(update, t, views, draft=draft, seed=0)


async def on_button(update: Update, context: RelaisContext) -> None:
    button = clicked_in(update, TRIO)
    if isinstance(button, TrioEncourage):
        await on_encourage(update, context, button)
    elif isinstance(button, TrioLeave):
        await on_leave(update, context, button)
    elif button is not None:
        await on_staff_button(update, context, button)
    else:
        await answer_stale(update, context.t)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("trio", show_my_trio, filters=NEW_MESSAGE),
        CommandHandler("trios", show_trios, filters=NEW_MESSAGE),
        CallbackQueryHandler(on_button, pattern=TRIO.pattern),
    ]


# -- figures (/stats) -------------------------------------------------------------------------


async def figures_block(
    tx: Any, t: Translator, cohort_id: int, now: datetime, programme: booster.Programme
) -> str:
    """The trios this month and the booster phase's retention, for /stats ("" if neither)."""
    month = f"{t.local(now):%Y-%m}"
    figures = await trio_report.cohort_trio_figures(tx, cohort_id, month)
    points = await trio_report.booster_retention(tx, cohort_id, now, programme)
    lines = []
    if figures.in_trios:
        lines.append(trio_week.trio_figures_line(t, figures))
    phase = await booster.cohort_phase(tx, cohort_id, now, programme)
    if phase is not Phase.SESSIONS:
        lines.append(trio_week.retention_line(t, points))
    if not lines:
        return ""
    return "\n".join([t("<b>Trios et suite du programme</b>"), *lines])
