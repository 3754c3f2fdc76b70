"""Coordination: `/inviter` (join link + QR code, staff invitations, creating a cohort) and
`/cohorte` (which cohort one acts on).

`/inviter` shows the active cohort's join link `https://t.me/<bot>?start=join_<code>` and
its QR code, with buttons for one-time staff invitation links. With no cohort yet, it offers
to create one, in a short guided conversation that survives restarts:

    inv:new ─▶ NAME (text) ─▶ COMMUNE (text) ─▶ END (cohort created, invitation shown)

Callback areas: `inv:new`, `inv:staff:<cohort_id>:trainer|coordinator`, `inv:flyer:<cohort_id>`
(the printable flyer, handlers/flyer.py), `inv:boost:<cohort_id>:...` (after the sessions,
handlers/levers.py) (coordinators) and
`cohort:<cohort_id>[:inv]` (members). Ids in callback data are untrusted: every handler
re-checks on the server that the sender may act on that cohort.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.helpers import create_deep_linked_url

from bot.callbacks import (
    COHORT,
    CohortPick,
    CohortPickToInvite,
    NewCohort,
    StaffInvite,
)
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.models import Cohort, Role
from bot.qr import qr_png
from bot.runtime import RelaisContext
from bot.services import cohorts, members, staff
from bot.services.access import Access, load_actor
from bot.services.cohorts import COMMUNE_MAX, JOIN_PREFIX, NAME_MAX
from bot.services.staff import STAFF_PREFIX, parse_staff_role
from bot.services.validation import InvalidValue, clean_text
from handlers.access import refusal
from handlers.common import answer_callback, answer_stale, clicked, clicked_in, drop_buttons, send
from handlers.flyer import flyer_button
from handlers.help import refresh_staff_commands
from handlers.levers import lever_button
from handlers.menu import ANY_MENU_BUTTON, main_menu, menu_button
from handlers.onboarding.shared import NEW_MESSAGE, TYPED_ANSWER, identity_of, rhythm

log = logging.getLogger(__name__)

# States of the cohort-creation conversation.
NAME = "cohort_name"
COMMUNE = "cohort_commune"

# context.user_data key of the cohort being created.
NEW_COHORT = "new_cohort"


def join_link(bot_username: str, cohort: Cohort) -> str:
    return create_deep_linked_url(bot_username, f"{JOIN_PREFIX}{cohort.join_code}")


async def send_invite(
    update: Update, context: RelaisContext, cohort: Cohort, t: Translator, *, several: bool
) -> None:
    """The join link and its QR code (a PNG photo), with the staff invitation buttons."""
    url = join_link(context.bot.username, cohort)
    caption = t(
        "<b>Groupe « {name} »</b> ({commune})\n\n"
        "Lien d'inscription pour les participants :\n{url}\n\n"
        "Montrez ce QR code en séance, ou envoyez le lien (WhatsApp, e-mail…). "
        "Chacun l'ouvre et suit les étapes, en une minute.",
        name=cohort.name,
        commune=cohort.commune,
        url=url,
    )
    if several:
        caption += "\n\n" + t("Un autre groupe ? /cohorte")
    buttons = [
        [flyer_button(t, cohort.id)],
        [Button(t("🎓 Inviter un formateur"), StaffInvite(cohort.id, "trainer").pack())],
        [Button(t("🏛️ Inviter à la coordination"), StaffInvite(cohort.id, "coordinator").pack())],
        [lever_button(t, cohort.id)],
        [Button(t("➕ Créer un autre groupe"), NewCohort().pack())],
    ]
    await context.bot.send_photo(
        context.chat_id, photo=qr_png(url), caption=caption, reply_markup=keyboard(buttons)
    )


# --- /inviter ------------------------------------------------------------------------------
async def invite(update: Update, context: RelaisContext) -> None:
    actor = context.actor
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        cohort = (
            await cohorts.get(session, actor.active_cohort_id)
            if actor.active_cohort_id is not None
            else None
        )
        allowed = cohort is not None and await staff.can_coordinate(
            session, actor.member_id, cohort.id, is_admin=actor.is_admin
        )
        choices = await cohorts.open_cohorts(session) if cohort is None and actor.is_admin else []
    if cohort is None:
        if not choices:
            await send(
                context,
                t(
                    "Il n'y a pas encore de groupe. On en crée un ? "
                    "Il suffit d'un nom et d'une commune."
                ),
                reply_markup=keyboard([[Button(t("➕ Créer un groupe"), NewCohort().pack())]]),
            )
            return
        rows = [
            [Button(choice.name[:60], CohortPickToInvite(choice.id).pack())]
            for choice in choices[:20]
        ]
        rows.append([Button(t("➕ Créer un groupe"), NewCohort().pack())])
        await send(context, t("Pour quel groupe ?"), reply_markup=keyboard(rows))
        return
    if not allowed:
        await send(context, refusal(t, Access.COORDINATOR, actor.onboarded))
        return
    await send_invite(update, context, cohort, t, several=len(actor.cohort_ids) > 1)


async def invite_staff(update: Update, context: RelaisContext) -> None:
    """`inv:staff:<cohort_id>:<role>`: a one-time link for a trainer or a coordinator."""
    t = context.t
    actor = context.actor
    button = clicked(update, StaffInvite)
    role = parse_staff_role(button.role) if button is not None else None
    if button is None or role is None:
        await answer_stale(update, t)
        return
    cohort_id = button.cohort_id
    rt = context.rt
    now = rt.clock.now()
    async with rt.db.unit_of_work() as session:
        allowed = await staff.can_coordinate(
            session, actor.member_id, cohort_id, is_admin=actor.is_admin
        )
        cohort = await cohorts.get(session, cohort_id) if allowed else None
        invitation = (
            await staff.create_invitation(
                session,
                cohort_id=cohort_id,
                role=role,
                created_by_id=actor.member_id,
                now=now,
                ttl=timedelta(hours=rt.settings.staff_invite_ttl_hours),
            )
            if cohort is not None
            else None
        )
    if cohort is None or invitation is None:
        log.info("refused staff invitation for cohort %s by %s", cohort_id, actor.telegram_user_id)
        await answer_callback(update, refusal(t, Access.COORDINATOR, actor.onboarded), alert=True)
        return
    await answer_callback(update)
    url = create_deep_linked_url(context.bot.username, f"{STAFF_PREFIX}{invitation.token}")
    if role is Role.TRAINER:
        text = t(
            "Invitation pour <b>un formateur</b> du groupe « {name} » :\n{url}\n\n"
            "Envoyez ce lien à la personne. Il ne sert qu'une fois et expire le {when}.",
            name=cohort.name,
            url=url,
            when=t.when(invitation.expires_at),
        )
    else:
        text = t(
            "Invitation pour <b>la coordination</b> du groupe « {name} » :\n{url}\n\n"
            "Envoyez ce lien à la personne. Il ne sert qu'une fois et expire le {when}.",
            name=cohort.name,
            url=url,
            when=t.when(invitation.expires_at),
        )
    await send(context, text)


# --- creating a cohort (guided) --------------------------------------------------------------
async def new_cohort(update: Update, context: RelaisContext) -> str:
    await answer_callback(update)
    query = update.callback_query
    if query is not None and isinstance(query.message, Message) and not query.message.photo:
        # The "no cohort yet" question is answered; an invitation photo keeps its buttons.
        await drop_buttons(update)
    context.store[NEW_COHORT] = {}
    return await ask_name(update, context)


async def ask_name(update: Update, context: RelaisContext) -> str:
    await send(
        context,
        context.t("Comment s'appelle ce groupe ? Par exemple : <i>Estaimpuis – printemps 2027</i>"),
    )
    return NAME


async def ask_commune(update: Update, context: RelaisContext) -> str:
    await send(context, context.t("Dans quelle <b>commune</b> a lieu la formation ?"))
    return COMMUNE


def _typed(update: Update, context: RelaisContext, limit: int) -> str | None:
    message = context.message
    try:
        return clean_text(message.text or "", max_length=limit)
    except InvalidValue:
        return None


async def _too_long_or_empty(update: Update, context: RelaisContext, limit: int) -> None:
    await send(
        context,
        context.t(
            "Un nom de {limit} caractères au maximum, s'il vous plaît. Pouvez-vous réessayer ?",
            limit=limit,
        ),
    )


async def got_name(update: Update, context: RelaisContext) -> str | int:
    name = _typed(update, context, NAME_MAX)
    draft = context.store.get(NEW_COHORT)
    if not isinstance(draft, dict):
        return ConversationHandler.END
    if name is None:
        await _too_long_or_empty(update, context, NAME_MAX)
        return NAME
    draft["name"] = name
    return await ask_commune(update, context)


async def got_commune(update: Update, context: RelaisContext) -> str | int:
    commune = _typed(update, context, COMMUNE_MAX)
    draft = (context.store or {}).get(NEW_COHORT)
    if not isinstance(draft, dict) or not isinstance(draft.get("name"), str):
        return ConversationHandler.END
    if commune is None:
        await _too_long_or_empty(update, context, COMMUNE_MAX)
        return COMMUNE
    actor = context.actor
    t = context.t
    if not actor.may(Access.COORDINATOR):
        # Roles can change during a conversation: check again at the moment of acting.
        await send(context, refusal(t, Access.COORDINATOR, actor.onboarded))
        return ConversationHandler.END
    rt = context.rt
    settings = rt.settings
    now = rt.clock.now()
    async with rt.db.unit_of_work() as session:
        member_id = actor.member_id
        if member_id is None:
            member, _ = await members.ensure_member(
                session, identity_of(context, actor.language), now=now, rhythm=rhythm(context)
            )
            member_id = member.id
        cohort = await cohorts.create_cohort(
            session,
            name=draft["name"],
            commune=commune,
            timezone=settings.timezone,
            language=settings.default_language,
            now=now,
            created_by_id=member_id,
        )
        chat = await staff.staff_chat(session, member_id, settings.admin_ids)
        several = len(await cohorts.memberships(session, member_id)) > 1
    context.store.pop(NEW_COHORT, None)
    await send(
        context,
        t("Le groupe <b>{name}</b> est créé ✅", name=cohort.name),
        reply_markup=main_menu(t, staff=True),
    )
    await send_invite(update, context, cohort, t, several=several)
    if chat is not None:
        await refresh_staff_commands(context.bot, rt.i18n, chat)
    return ConversationHandler.END


async def cancel(update: Update, context: RelaisContext) -> int:
    context.store.pop(NEW_COHORT, None)
    await send(context, context.t("D'accord, aucun groupe n'a été créé."))
    return ConversationHandler.END


async def repeat(update: Update, context: RelaisContext) -> str | None:
    """Something else than the expected text (a sticker, a photo...): ask again."""
    draft = context.store.get(NEW_COHORT)
    if isinstance(draft, dict) and "name" in draft:
        return await ask_commune(update, context)
    return await ask_name(update, context)


# --- /cohorte ------------------------------------------------------------------------------
async def choose_cohort(update: Update, context: RelaisContext) -> None:
    actor = context.actor
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        if actor.is_admin:
            options = [(c.id, c.name) for c in await cohorts.open_cohorts(session)]
        elif actor.member_id is not None:
            options = [
                (m.cohort_id, m.name) for m in await cohorts.memberships(session, actor.member_id)
            ]
        else:
            options = []
    if not options:
        await send(context, t("Vous ne faites partie d'aucun groupe pour l'instant."))
        return
    current = next((name for id_, name in options if id_ == actor.active_cohort_id), None)
    if len(options) == 1 and current is not None:
        await send(context, t("Vous êtes dans le groupe <b>{name}</b>.", name=current))
        return
    rows = [
        [
            Button(
                ("✓ " if cohort_id == actor.active_cohort_id else "") + name[:60],
                CohortPick(cohort_id).pack(),
            )
        ]
        for cohort_id, name in options[:30]
    ]
    await send(context, t("Sur quel groupe voulez-vous agir ?"), reply_markup=keyboard(rows))


async def pick_cohort(update: Update, context: RelaisContext) -> None:
    """`cohort:<id>[:inv]`: act on that cohort from now on (only one's own; admins: any)."""
    actor = context.actor
    t = context.t
    button = clicked_in(update, COHORT)
    if not isinstance(button, CohortPick | CohortPickToInvite):
        await answer_stale(update, t)
        return
    cohort_id = button.cohort_id
    then_invite = isinstance(button, CohortPickToInvite)
    rt = context.rt
    settings = rt.settings
    now = rt.clock.now()
    async with rt.db.unit_of_work() as session:
        member_id = actor.member_id
        if member_id is None and actor.is_admin:
            member, _ = await members.ensure_member(
                session, identity_of(context, actor.language), now=now, rhythm=rhythm(context)
            )
            member_id = member.id
        cohort = (
            await members.set_active_cohort(session, member_id, cohort_id, is_admin=actor.is_admin)
            if member_id is not None
            else None
        )
        if cohort is not None:
            # Roles differ from one cohort to the next: read them again for the menu.
            context.actor = await load_actor(
                session,
                telegram_user_id=actor.telegram_user_id,
                language_code=actor.language,
                admin_ids=settings.admin_ids,
                default_language=settings.default_language,
                default_zone=settings.timezone,
            )
    if cohort is None:
        log.info("refused cohort %s for %s", cohort_id, actor.telegram_user_id)
        await answer_stale(update, t, alert=True)
        return
    await answer_callback(update)
    await drop_buttons(update)
    actor = context.actor
    t = context.t
    await send(
        context,
        t("C'est noté : vous agissez maintenant sur le groupe <b>{name}</b>.", name=cohort.name),
        reply_markup=main_menu(t, staff=actor.is_staff),
    )
    if then_invite and actor.may(Access.COORDINATOR):
        await send_invite(update, context, cohort, t, several=len(actor.cohort_ids) > 1)


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    create: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[CallbackQueryHandler(new_cohort, pattern=NewCohort.pattern())],
        states={
            NAME: [MessageHandler(TYPED_ANSWER, got_name)],
            COMMUNE: [MessageHandler(TYPED_ANSWER, got_commune)],
        },
        fallbacks=[
            CommandHandler("annuler", cancel, filters=NEW_MESSAGE),
            MessageHandler(NEW_MESSAGE & ~filters.COMMAND & ~ANY_MENU_BUTTON, repeat),
        ],
        name="cohort_create",
        persistent=True,
        allow_reentry=True,
    )
    return [create]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("inviter", invite, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("inviter"), invite),
        CallbackQueryHandler(invite_staff, pattern=StaffInvite.pattern()),
        CommandHandler("cohorte", choose_cohort, filters=NEW_MESSAGE),
        CallbackQueryHandler(pick_cohort, pattern=COHORT.pattern),
    ]
