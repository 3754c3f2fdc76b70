"""`/start` without a join link (how to get in, or "you are already in" with the menu), and
`/start staff_<token>`: accepting a one-time invitation to the team of a cohort."""

from __future__ import annotations

from telegram import Update

from bot.models import Role
from bot.runtime import RelaisContext
from bot.services import cohorts, members, staff
from bot.services.staff import InviteOutcome
from handlers.menu import main_menu
from handlers.onboarding.shared import (
    _STAFF,
    ROLE_LABELS,
    identity_of,
    invitation_hint,
    rhythm,
    translator,
)


# --- /start outside the join link ---------------------------------------------------------
async def start_plain(update: Update, context: RelaisContext) -> None:
    """`/start` without a code: how to get an invitation, or "you're already in" with the menu."""
    message = context.message
    actor = context.actor
    t = translator(context)
    if actor.member_id is None or not (actor.onboarded or actor.is_staff):
        text = invitation_hint(t)
        if actor.is_admin:
            text += "\n\n" + t(
                "Vous faites partie de la coordination : /inviter pour créer un groupe "
                "et inviter les participants."
            )
        await message.reply_text(text)
        return
    async with context.rt.db.unit_of_work() as session:
        cohort = (
            await cohorts.get(session, actor.active_cohort_id)
            if actor.active_cohort_id is not None
            else None
        )
        member = await members.get(session, actor.member_id)
        first_name = member.first_name if member else ""
    if cohort is None:
        text = t("Rebonjour {name} ! Votre inscription est bien faite.", name=first_name)
    else:
        text = t(
            "Rebonjour {name} ! Vous faites déjà partie du groupe <b>{cohort}</b> 👍",
            name=first_name,
            cohort=cohort.name,
        )
    await message.reply_text(
        text + "\n" + t("Le menu est en bas de l'écran 👇 (et /aide si besoin)."),
        reply_markup=main_menu(t, staff=actor.is_staff),
    )


async def start_staff(update: Update, context: RelaisContext) -> None:
    """`/start staff_<token>`: accept a one-time invitation to the team of a cohort."""
    from handlers.help import refresh_staff_commands

    message = context.message
    match = _STAFF.match(context.text)
    token = match.group(2) if match else ""
    t = translator(context)
    rt = context.rt
    now = rt.clock.now()
    language = context.actor.language
    async with rt.db.unit_of_work() as session:
        result = await staff.check_invitation(session, token, now)
        chat = None
        if result.outcome is InviteOutcome.VALID:
            member, _ = await members.ensure_member(
                session, identity_of(context, language), now=now, rhythm=rhythm(context)
            )
            language = member.language
            result = await staff.accept_invitation(session, token, member_id=member.id, now=now)
            chat = await staff.staff_chat(session, member.id, rt.settings.admin_ids)
    if result.outcome is InviteOutcome.UNKNOWN:
        await message.reply_text(
            t(
                "Cette invitation n'existe pas 🤔 Vérifiez le lien, "
                "ou demandez-en un nouveau à la coordination."
            )
        )
        return
    if result.outcome is InviteOutcome.USED:
        await message.reply_text(
            t(
                "Cette invitation a déjà été utilisée : elle ne sert qu'une fois. "
                "Demandez-en une nouvelle à la coordination."
            )
        )
        return
    if result.outcome is InviteOutcome.EXPIRED:
        await message.reply_text(
            t(
                "Cette invitation a expiré ⌛ Demandez-en une nouvelle à la coordination "
                "(elles sont valables quelques jours)."
            )
        )
        return
    t = rt.i18n(language, context.actor.zone)
    role = result.role or Role.TRAINER
    await message.reply_text(
        t(
            "Bienvenue dans l'équipe du groupe <b>{cohort}</b> ! 🎉\n"
            "Votre rôle : <b>{role}</b>.\n\n"
            "Vos commandes sont dans le menu en bas de l'écran et dans /aide. "
            "Vos données : /privacy",
            cohort=result.cohort_name or "",
            role=t(ROLE_LABELS[role]),
        ),
        reply_markup=main_menu(t, staff=True),
    )
    if chat is not None:
        await refresh_staff_commands(context.bot, rt.i18n, chat)
