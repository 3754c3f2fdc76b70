"""How far a broadcast got (`bc:<id>:progress`, refreshable), and cancelling a scheduled one
(`bc:<id>:cancel`, until its first message leaves)."""

from __future__ import annotations

from telegram import Update

from bot.runtime import RelaisContext
from bot.services import broadcasts
from bot.services.broadcasts import CancelOutcome
from handlers.broadcast.shared import actor_zone, edit_or_say, progress_buttons
from handlers.common import answer_callback, stale
from handlers.tips import library

# --- progress and cancel -------------------------------------------------------------------


async def show_progress(update: Update, context: RelaisContext, broadcast_id: int) -> None:
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        broadcast = await broadcasts.get_in_cohort(
            session, broadcast_id, context.actor.active_cohort_id
        )
        counts = await broadcasts.progress(session, broadcast) if broadcast else None
    if broadcast is None or counts is None or broadcast.status == broadcasts.DRAFT:
        await stale(update, context)
        return
    await answer_callback(update)
    zoned = t.with_zone(actor_zone(context))
    await edit_or_say(
        update,
        context,
        broadcasts.progress_text(zoned, broadcast, counts, library(context)),
        progress_buttons(t, broadcast),
    )


async def cancel_broadcast(update: Update, context: RelaisContext, broadcast_id: int) -> None:
    t = context.t
    me = context.staff
    async with context.rt.db.unit_of_work() as session:
        broadcast = await broadcasts.get_in_cohort(session, broadcast_id, me.cohort_id)
        outcome = (
            await broadcasts.cancel(
                session, broadcast, actor_id=me.member_id, now=context.rt.clock.now()
            )
            if broadcast is not None
            else None
        )
    if outcome is None:
        await stale(update, context)
    elif outcome is CancelOutcome.STARTED:
        await answer_callback(update, t("Trop tard : l'envoi a déjà commencé."), alert=True)
    elif outcome is CancelOutcome.OVER:
        await answer_callback(update, t("Cet envoi est déjà terminé ou annulé."), alert=True)
    else:
        await answer_callback(update)
        await edit_or_say(update, context, t("❌ Envoi annulé : personne ne le recevra."))
