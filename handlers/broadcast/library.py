"""The tips library for trainers (`bc:lib`, `bc:th:<theme>`, `bc:tip:<id>`), and pushing one
tip to the whole cohort (`bc:push:<id>` → `bc:pushok:<id>` | `bc:pushx`)."""

from __future__ import annotations

from telegram import Update

from bot.callbacks import Library, LibraryTheme, LibraryTip, PushTip, PushTipCancel, PushTipConfirm
from bot.delivery.registry import Button
from bot.runtime import RelaisContext
from bot.services import broadcasts, tips
from bot.services.broadcasts import ALL
from handlers.broadcast.shared import (
    DRAFT_KEY,
    END,
    edit_or_say,
    progress_button,
    say,
    started_text,
)
from handlers.common import answer_callback, drop_buttons, stale
from handlers.tips import library, stats_block

# --- the library of tips -----------------------------------------------------------------


async def show_library(update: Update, context: RelaisContext) -> None:
    t = context.t
    lib = library(context)
    await answer_callback(update)
    rows = [
        [
            Button(
                f"{lib.theme_name(theme, t.lang)} ({len(lib.tips_for(theme=theme))})",
                callback_data=LibraryTheme(theme).pack(),
            )
        ]
        for theme in lib.themes
        if lib.tips_for(theme=theme)
    ]
    text = t("📚 <b>La bibliothèque d'astuces</b>\nChoisissez un thème :")
    cohort_id = context.actor.active_cohort_id
    if cohort_id is not None:
        # What the merchants thought of the tips so far (/stats is the coordinator's).
        text = await stats_block(context, cohort_id) + "\n\n" + text
    await edit_or_say(update, context, text, rows)


async def library_from_draft(update: Update, context: RelaisContext) -> int:
    """The 📚 button of the first step: the flow ends, the library opens."""
    context.store.pop(DRAFT_KEY, None)
    await show_library(update, context)
    return END


async def show_theme(update: Update, context: RelaisContext, theme: str) -> None:
    t = context.t
    lib = library(context)
    found = sorted(lib.tips_for(theme=theme), key=lambda tip: (tip.level, tip.session, tip.id))
    if not found:
        await stale(update, context)
        return
    await answer_callback(update)
    rows = [
        [Button(tips.tip_title(lib, tip, t.lang, limit=40), LibraryTip(tip.id).pack())]
        for tip in found
    ]
    rows.append([Button(t("⬅️ Tous les thèmes"), Library().pack())])
    await edit_or_say(
        update,
        context,
        t("📚 <b>{theme}</b>\nChoisissez une astuce :", theme=lib.theme_name(theme, t.lang)),
        rows,
    )


async def show_tip(update: Update, context: RelaisContext, tip_id: str) -> None:
    t = context.t
    lib = library(context)
    tip = lib.tip(tip_id)
    if tip is None:
        await stale(update, context)
        return
    await answer_callback(update)
    text = "\n\n".join(
        (
            t(
                "💡 <b>{theme}</b> · niveau {level}",
                theme=lib.theme_name(tip.theme, t.lang),
                level=tip.level,
            ),
            lib.render(tip, t.lang),
        )
    )
    rows = [
        [Button(t("📣 Envoyer cette astuce à tout le groupe"), PushTip(tip.id).pack())],
        [Button(t("⬅️ Retour"), LibraryTheme(tip.theme).pack())],
    ]
    await edit_or_say(update, context, text, rows)


async def ask_push(update: Update, context: RelaisContext, tip_id: str) -> None:
    t = context.t
    if library(context).tip(tip_id) is None:
        await stale(update, context)
        return
    async with context.rt.db.unit_of_work() as session:
        count = await broadcasts.count_audience(
            session, context.staff.cohort_id, ALL, context.rt.clock.now(), tip_id=tip_id
        )
    if count.recipients == 0:
        await answer_callback(update, t("Tout le groupe a déjà reçu cette astuce."), alert=True)
        return
    await answer_callback(update)
    await say(
        update,
        context,
        t.plural(
            "Envoyer cette astuce à {n} personne qui ne l'a pas encore reçue ? "
            "Chacun la reçoit dans sa langue, avec les boutons 👍 / 👎.",
            "Envoyer cette astuce aux {n} personnes qui ne l'ont pas encore reçue ? "
            "Chacun la reçoit dans sa langue, avec les boutons 👍 / 👎.",
            count.recipients,
        ),
        [
            [
                Button(t("✅ Envoyer"), PushTipConfirm(tip_id).pack()),
                Button(t("❌ Annuler"), PushTipCancel().pack()),
            ]
        ],
    )


async def push(update: Update, context: RelaisContext, tip_id: str) -> None:
    t = context.t
    me = context.staff
    if library(context).tip(tip_id) is None:
        await stale(update, context)
        return
    async with context.rt.db.unit_of_work() as session:
        broadcast, count = await broadcasts.push_tip(
            session,
            cohort_id=me.cohort_id,
            author_id=me.member_id,
            tip_id=tip_id,
            now=context.rt.clock.now(),
        )
    if broadcast is None:
        await answer_callback(update, t("Tout le groupe a déjà reçu cette astuce."), alert=True)
        await drop_buttons(update)
        return
    await answer_callback(update)
    context.rt.wake_dispatcher()
    await edit_or_say(
        update,
        context,
        started_text(t, count),
        progress_button(t, broadcast.id),
    )
