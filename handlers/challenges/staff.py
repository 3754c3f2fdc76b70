"""/defi, the trainer's side: the list with figures, a new challenge (library or written),
the submissions with 👏 and ⭐, the showcase now."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.callbacks import (
    ChallengeAudience,
    ChallengeCard,
    ChallengeDeadline,
    ChallengeGo,
    ChallengePick,
    ChallengeStaffStep,
    ChallengeTheme,
    SubmissionAction,
)
from bot.delivery.registry import Button
from bot.i18n import N_, Html, Translator, escape
from bot.keyboards import keyboard
from bot.models import ChallengeAnswer, ProofKind
from bot.runtime import RelaisContext
from bot.services import broadcasts
from bot.services import challenges as service
from bot.services.validation import InvalidValue
from handlers.broadcast.shared import audience_code, audience_from_code, audience_label
from handlers.challenges.member import member_defi
from handlers.challenges.shared import (
    DRAFT,
    END,
    PICKS_SHOWN,
    SUBMISSIONS_SHOWN,
    THEMES_SHOWN,
    WRITE,
    is_merchant,
    is_staff,
)
from handlers.common import answer_callback, answer_stale, clicked, show

log = logging.getLogger(__name__)

# --- the trainer's side -----------------------------------------------------------------------


def _figures_line(t: Translator, f: service.ChallengeFigures) -> str:
    return t(
        "🎯 <b>{title}</b> — jusqu'au {deadline}\n"
        "envoyé à {sent}, réponses {answered}, relevé par {done}",
        title=f.title,
        deadline=t.date(f.deadline_at),
        sent=f.sent,
        answered=f.answered,
        done=f.done,
    )


async def staff_defi(update: Update, context: RelaisContext, *, edit: bool = False) -> None:
    t = context.t
    async with context.rt.db.unit_of_work() as tx:
        listed = await service.list_for_cohort(tx, context.staff.cohort_id)
    rows = [[Button(t(N_("➕ Nouveau défi")), ChallengeStaffStep("new").pack())]]
    if not listed:
        text = t("🎯 <b>Défis</b>\n\nAucun défi pour l'instant. Lancez le premier !")
    else:
        text = "\n\n".join([t("🎯 <b>Défis du groupe</b>"), *(_figures_line(t, f) for f in listed)])
        rows += [[Button("📋 " + f.title[:40], ChallengeCard(f.id, "card").pack())] for f in listed]
    await show(update, text, rows, edit=edit)


async def defi(update: Update, context: RelaisContext) -> None:
    if is_staff(context):
        await staff_defi(update, context)
    elif is_merchant(context):
        await member_defi(update, context)
    else:
        await show(update, context.t("Tapez /aide pour voir ce que je sais faire."), edit=False)


async def on_staff_step(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeStaffStep)
    if button is None or not is_staff(context):
        await answer_stale(update, t)
        return
    if button.step == "list":
        await staff_defi(update, context, edit=True)
        return
    if button.step == "x":
        context.store.pop(DRAFT, None)
        await show(update, t("D'accord, pas de nouveau défi pour l'instant."))
        return
    # "new": the themes of the library, the last session's first.
    library = context.rt.content
    async with context.rt.db.unit_of_work() as tx:
        first = await service.suggested_theme(
            tx, context.staff.cohort_id, context.rt.clock.now(), library
        )
    themes = [theme for theme in library.themes if library.challenges_for(theme)]
    if first in themes:
        themes.remove(first)
        themes.insert(0, first)
    rows = [
        [
            Button(
                ("⭐ " if theme == first else "") + library.theme_name(theme, t.lang),
                ChallengeTheme(theme).pack(),
            )
        ]
        for theme in themes[:THEMES_SHOWN]
    ]
    rows.append([Button(t(N_("✍️ Écrire mon propre défi")), ChallengeStaffStep("write").pack())])
    rows.append([Button(t(N_("✖ Pas de défi")), ChallengeStaffStep("x").pack())])
    await show(
        update, t("🎯 Nouveau défi : choisissez un thème (⭐ celui de la dernière séance)."), rows
    )


async def on_theme(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeTheme)
    library = context.rt.content
    if button is None or not is_staff(context) or button.theme not in library.themes:
        await answer_stale(update, t)
        return
    async with context.rt.db.unit_of_work() as tx:
        used = await service.used_library_ids(tx, context.staff.cohort_id)
    found = sorted(library.challenges_for(button.theme), key=lambda c: (c.id in used, c.level))
    rows = [
        [Button(("✓ " if c.id in used else "") + c.title(t.lang), ChallengePick(c.id).pack())]
        for c in found[:PICKS_SHOWN]
    ]
    rows.append([Button(t(N_("⬅️ Thèmes")), ChallengeStaffStep("new").pack())])
    await show(update, t("Choisissez un défi (✓ déjà lancé dans ce groupe) :"), rows)


async def _ask_audience(update: Update, context: RelaisContext, preview: str) -> None:
    t = context.t
    async with context.rt.db.unit_of_work() as tx:
        choices = await broadcasts.audience_choices(
            tx, context.staff.cohort_id, context.rt.clock.now()
        )
        deadline = await service.default_deadline(
            tx, context.staff.cohort_id, context.rt.clock.now()
        )
    rows = [
        [
            Button(
                f"{audience_label(t, c.audience)} ({c.recipients})",
                ChallengeAudience(audience_code(c.audience)).pack(),
            )
        ]
        for c in choices
        if c.audience == broadcasts.ALL or c.audience.startswith(broadcasts.SECTOR_PREFIX)
    ]
    rows.append([Button(t(N_("✖ Pas de défi")), ChallengeStaffStep("x").pack())])
    text = "\n\n".join(
        (
            preview,
            service.deadline_line(t, deadline),
            t("À qui l'envoyer ?"),
        )
    )
    await show(update, text, rows)


async def on_pick(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengePick)
    found = context.rt.content.challenge(button.challenge) if button else None
    if found is None or not is_staff(context):
        await answer_stale(update, t)
        return
    context.store[DRAFT] = {"library_id": found.id}
    await _ask_audience(update, context, found.text(t.lang))


async def on_audience(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeAudience)
    draft = context.store.get(DRAFT)
    audience = audience_from_code(button.audience) if button else None
    if audience is None or not isinstance(draft, dict) or not is_staff(context):
        await answer_stale(update, t)
        return
    draft["audience"] = audience
    await _ask_when(update, context, draft)


async def _ask_when(update: Update, context: RelaisContext, draft: dict[str, Any]) -> None:
    """When to send it, and until when (the default deadline, or another day)."""
    t = context.t
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as tx:
        days = await service.deadline_choices(tx, context.staff.cohort_id, now)
        chosen = draft.get("deadline")
        deadline = (
            datetime.fromtimestamp(chosen, UTC)
            if isinstance(chosen, int | float)
            else await service.default_deadline(tx, context.staff.cohort_id, now)
        )
    picked = deadline.astimezone(t.zone).date()
    rows = [
        [Button(t(N_("🚀 Maintenant")), ChallengeGo("now").pack())],
        [Button(t(N_("⏰ À l'heure des astuces de chacun")), ChallengeGo("tip").pack())],
        [
            Button(
                ("✅ " if day == picked else "") + t.date(day, "EEE d/M"),
                ChallengeDeadline(day).pack(),
            )
            for day in days
        ],
        [Button(t(N_("✖ Pas de défi")), ChallengeStaffStep("x").pack())],
    ]
    text = "\n\n".join(
        (
            service.deadline_line(t, deadline),
            t("Quand l'envoyer ? (les dates : changer la date limite)"),
        )
    )
    await show(update, text, rows)


async def on_deadline(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeDeadline)
    draft = context.store.get(DRAFT)
    if (
        button is None
        or not isinstance(draft, dict)
        or not is_staff(context)
        or not service.valid_deadline(button.day, context.rt.clock.now(), context.actor.zone)
    ):
        await answer_stale(update, t)
        return
    async with context.rt.db.unit_of_work() as tx:
        deadline = await service.deadline_on(tx, context.staff.cohort_id, button.day)
    draft["deadline"] = deadline.timestamp()
    await _ask_when(update, context, draft)


async def on_go(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeGo)
    draft = context.store.pop(DRAFT, None)
    if button is None or not isinstance(draft, dict) or not is_staff(context):
        await answer_stale(update, t)
        return
    library = context.rt.content
    me = context.staff
    now = context.rt.clock.now()
    library_id = draft.get("library_id")
    found = library.challenge(library_id) if isinstance(library_id, str) else None
    if found is not None:
        title, text, proof = found.title(t.lang), found.text(t.lang), found.proof
    elif isinstance(draft.get("title"), str) and isinstance(draft.get("text"), str):
        title, text, proof, library_id = draft["title"], draft["text"], "photo", None
    else:
        await answer_stale(update, t)
        return
    audience = draft.get("audience")
    if not isinstance(audience, str):
        await answer_stale(update, t)
        return
    chosen = draft.get("deadline")
    async with context.rt.db.unit_of_work() as tx:
        deadline = (
            datetime.fromtimestamp(chosen, UTC)
            if isinstance(chosen, int | float) and chosen > now.timestamp()
            else await service.default_deadline(tx, me.cohort_id, now)
        )
        created = await service.create(
            tx,
            cohort_id=me.cohort_id,
            author_id=me.member_id,
            title=title,
            text=text,
            proof=proof,
            audience=audience,
            timing=button.timing,
            deadline_at=deadline,
            now=now,
            settings=context.rt.settings,
            library_id=found.id if found else None,
        )
    if button.timing == "now":
        said = t.plural(
            "✅ Défi « {title} » envoyé à {n} participant.",
            "✅ Défi « {title} » envoyé à {n} participants.",
            created.recipients,
            title=title,
        )
    else:
        said = t.plural(
            "✅ Défi « {title} » : {n} participant le recevra à son heure.",
            "✅ Défi « {title} » : {n} participants le recevront à leur heure.",
            created.recipients,
            title=title,
        )
    await show(
        update,
        said,
        [[Button(t(N_("📋 Suivre ce défi")), ChallengeCard(created.challenge_id, "card").pack())]],
    )


# The trainer writes their own challenge: a small persistent conversation (one typed message).
async def start_write(update: Update, context: RelaisContext) -> str | int:
    if not is_staff(context):
        await answer_stale(update, context.t)
        return END
    await show(
        update,
        context.t(
            "✍️ Écrivez le défi en un message : la première ligne est le titre, la suite "
            "explique quoi faire et ce qui compte comme preuve. (/annuler pour annuler)"
        ),
    )
    return WRITE


async def typed_challenge(update: Update, context: RelaisContext) -> str | int:
    t = context.t
    lines = context.text.strip().split("\n", 1)
    try:
        title = service.clean_title(lines[0])
        body = service.clean_body(lines[1] if len(lines) > 1 else lines[0])
    except InvalidValue:
        await show(
            update,
            t("Un titre (60 caractères au plus) puis le texte (700 au plus), s'il vous plaît."),
            edit=False,
        )
        return WRITE
    context.store[DRAFT] = {"title": title, "text": body}
    preview = "🎯 <b>" + escape(title) + "</b>\n\n" + escape(body)
    await _ask_audience(update, context, preview)
    return END


async def cancel_write(update: Update, context: RelaisContext) -> int:
    context.store.pop(DRAFT, None)
    await show(update, context.t("D'accord, pas de nouveau défi pour l'instant."), edit=False)
    return END


async def on_card(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeCard)
    if button is None or not is_staff(context):
        await answer_stale(update, t)
        return
    me = context.staff
    if button.view == "showcase":
        async with context.rt.db.unit_of_work() as tx:
            challenge = await service.get_in_cohort(tx, button.challenge_id, me.cohort_id)
            count = (
                await service.plan_showcase(tx, challenge, context.rt.clock.now())
                if challenge
                else -1
            )
        if count < 0:
            await answer_stale(update, t)
        elif count == 0:
            await answer_callback(
                update, t("Personne n'a encore accepté de montrer sa preuve."), alert=True
            )
        else:
            await answer_callback(update)
            await show(
                update,
                t.plural(
                    "📣 La vitrine part vers {n} participant.",
                    "📣 La vitrine part vers {n} participants.",
                    count,
                ),
                edit=False,
            )
        return
    async with context.rt.db.unit_of_work() as tx:
        figures = await service.figures(tx, button.challenge_id, me.cohort_id)
        listed = await service.submissions(tx, button.challenge_id, me.cohort_id)
    if figures is None or listed is None:
        await answer_stale(update, t)
        return
    if button.view == "card":
        rows = [
            [
                Button(
                    t(N_("📥 Les réponses ({n})"), n=figures.done),
                    ChallengeCard(figures.id, "subs").pack(),
                )
            ],
            [
                Button(
                    t(N_("📣 Montrer au groupe maintenant")),
                    ChallengeCard(figures.id, "showcase").pack(),
                )
            ],
            [Button(t(N_("⬅️ Tous les défis")), ChallengeStaffStep("list").pack())],
        ]
        await show(update, _figures_line(t, figures), rows)
        return
    await answer_callback(update)
    if not listed:
        await show(update, t("Pas encore de réponse à ce défi."), edit=False)
        return
    for sub in listed[:SUBMISSIONS_SHOWN]:
        await _send_submission(context, sub)
    if len(listed) > SUBMISSIONS_SHOWN:
        await show(update, t("… et {n} autres.", n=len(listed) - SUBMISSIONS_SHOWN), edit=False)


def bravo_text(t: Translator, trainer: str, title: str) -> str:
    """The trainer's 👏 as the member receives it (in the member's language)."""
    return t(
        "👏 Bravo de la part de votre formateur, {trainer}, pour le défi « {title} » !",
        trainer=trainer,
        title=title,
    )


def _submission_buttons(t: Translator, sub: service.SubmissionView) -> list[list[Button]]:
    row = [
        Button(
            t(N_("👏 Bravo")) if not sub.bravo else t(N_("👏 Bravo envoyé")),
            SubmissionAction(sub.id, "bravo").pack(),
        )
    ]
    if sub.consent:
        row.append(
            Button(
                ("⭐ " if not sub.starred else "🌟 ") + t(N_("Montrer au groupe")),
                SubmissionAction(sub.id, "star").pack(),
            )
        )
    return [row]


def _submission_caption(t: Translator, sub: service.SubmissionView) -> str:
    who = escape(sub.first_name) + (f" ({escape(sub.business_name)})" if sub.business_name else "")
    if sub.answer == ChallengeAnswer.DONE.value:
        what = t("✅ fait")
    elif sub.proof_kind == ProofKind.LINK.value:
        what = t("🔗 {link}", link=sub.link or "")
    elif sub.proof_kind == ProofKind.VOICE.value:
        what = t("🎤 message vocal")
    else:
        what = t("📷 photo")
    consent = t("👀 accepte d'être montré") if sub.consent else t("🙈 pas montré au groupe")
    return t("{who} — {what}\n{consent}", who=Html(who), what=Html(what), consent=consent)


async def _send_submission(context: RelaisContext, sub: service.SubmissionView) -> None:
    t = context.t
    caption = _submission_caption(t, sub)
    markup = keyboard(_submission_buttons(t, sub))
    try:
        if sub.proof_kind == ProofKind.PHOTO.value and sub.file_id:
            await context.bot.send_photo(
                context.chat_id, sub.file_id, caption=caption, reply_markup=markup
            )
        elif sub.proof_kind == ProofKind.VOICE.value and sub.file_id:
            await context.bot.send_voice(
                context.chat_id, sub.file_id, caption=caption, reply_markup=markup
            )
        else:
            await context.bot.send_message(context.chat_id, caption, reply_markup=markup)
    except TelegramError as exc:  # a file Telegram no longer has: say it in text
        log.info("submission %s could not be re-sent: %s", sub.id, exc)
        await context.bot.send_message(
            context.chat_id, caption + "\n" + t("(fichier plus disponible)"), reply_markup=markup
        )


async def on_submission(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, SubmissionAction)
    if button is None:
        await answer_stale(update, t)
        return
    me = context.staff
    now = context.rt.clock.now()
    if button.action == "star":
        async with context.rt.db.unit_of_work() as tx:
            outcome, starred = await service.star(
                tx, submission_id=button.submission_id, cohort_id=me.cohort_id, now=now
            )
        if outcome is service.StaffOutcome.NO_CONSENT:
            await answer_callback(
                update, t("Cette personne n'a pas accepté de la montrer au groupe."), alert=True
            )
        elif outcome is service.StaffOutcome.OK:
            await answer_callback(
                update, t("⭐ Elle sera montrée en premier.") if starred else t("Étoile retirée.")
            )
        else:
            await answer_stale(update, t)
        return
    async with context.rt.db.unit_of_work() as tx:
        result = await service.bravo(
            tx,
            submission_id=button.submission_id,
            cohort_id=me.cohort_id,
            trainer_id=me.member_id,
            now=now,
        )
        trainer = await _trainer_name(tx, me.member_id)
    if result.outcome is service.StaffOutcome.NOT_FOUND:
        await answer_stale(update, t)
        return
    if result.outcome is service.StaffOutcome.ALREADY:
        await answer_callback(update, t("Bravo déjà envoyé à {name}.", name=result.first_name))
        return
    delivered = False
    if result.recipient is not None:
        theirs = context.rt.i18n(result.recipient.language, context.actor.zone)
        title = result.title
        if result.library_id:
            found = context.rt.content.challenge(result.library_id)
            title = found.title(theirs.lang) if found else title
        try:
            await context.bot.send_message(
                result.recipient.chat_id,
                bravo_text(theirs, trainer, title),
            )
            delivered = True
        except Forbidden:
            log.info("member %s blocked the bot: bravo not delivered", result.recipient.member_id)
    await answer_callback(
        update,
        t("👏 Bravo envoyé à {name}.", name=result.first_name)
        if delivered
        else t(
            "Bravo noté, mais {name} ne reçoit plus les messages du bot.", name=result.first_name
        ),
    )


async def _trainer_name(tx: Any, member_id: int) -> str:
    from bot.services import questions

    return await questions.trainer_name(tx, member_id)
