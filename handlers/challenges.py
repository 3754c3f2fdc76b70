"""`/defi`: weekly challenges — the member answers with a proof, the trainer sets and follows.

Member (merchant): the challenge arrives through the outbox with "📷 Envoyer ma preuve",
"✅ C'est fait", "⏭ Pas cette fois" (`chal:<id>:proof|done|skip`). A photo, a voice note or a
link sent while a challenge is open is its proof: at once after "📷", otherwise after "Is this
for the challenge …?" (`chal:<id>:this`, `chal:notthis`). Then one question, "May I show it
to the group?" (`chal:<id>:show:yes|no`), changeable from `/defi`, which shows the open
challenge. A photo or voice note with no challenge open gets a kind answer offering
/question and /defi.

Staff (trainer, coordinator): `/defi` lists the challenges with their figures; "➕" picks from
the library by theme (the last session's first) or "✍️" writes one (a small persistent
conversation), then the audience and the timing (now, or each member's tip time; both through
the outbox). A challenge's card shows its submissions — a photo or voice note re-sent by its
`file_id` (never downloaded) — with 👏 bravo (`sub:<id>:bravo`: the member receives a word from
the trainer in their own language) and ⭐ (`sub:<id>:star`, only with the member's consent),
and "📣" to send the showcase now.

The `chal` area is open to members and staff; each handler re-checks the role and the
service re-checks that the challenge reached this member or belongs to this cohort.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import (
    CHAL,
    SUB,
    ChallengeAnswerButton,
    ChallengeAudience,
    ChallengeCard,
    ChallengeConsent,
    ChallengeDeadline,
    ChallengeGo,
    ChallengePick,
    ChallengeProofFor,
    ChallengeProofNot,
    ChallengeStaffStep,
    ChallengeTheme,
    SubmissionAction,
)
from bot.delivery.registry import Button
from bot.i18n import N_, Html, Translator, escape
from bot.keyboards import keyboard
from bot.models import ChallengeAnswer, ProofKind, Role
from bot.runtime import RelaisContext
from bot.services import broadcasts
from bot.services import challenges as service
from bot.services.validation import InvalidValue
from handlers import fallback
from handlers.broadcast.shared import audience_code, audience_from_code, audience_label
from handlers.common import answer_callback, answer_stale, clicked, show
from handlers.menu import ANY_MENU_BUTTON, main_menu

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE
PRIVATE = filters.ChatType.PRIVATE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
END = ConversationHandler.END
WRITE = "write"

AWAITING = "challenge_awaiting"  # user_data: the challenge whose "📷" was pressed
PENDING = "challenge_pending_proof"  # user_data: a proof waiting for "is it for …?"
DRAFT = "challenge_draft"  # user_data: the challenge a trainer is setting
THEMES_SHOWN = 12
PICKS_SHOWN = 8
SUBMISSIONS_SHOWN = 10


def _is_staff(context: RelaisContext) -> bool:
    return context.actor.is_staff


def _is_merchant(context: RelaisContext) -> bool:
    actor = context.actor
    return Role.MERCHANT in actor.roles and actor.onboarded and actor.member_id is not None


# --- the member's side ------------------------------------------------------------------------


def _member_title(context: RelaisContext, challenge: service.MemberChallenge) -> str:
    return service.challenge_title(challenge, context.rt.content, context.t.lang)


def _answer_text(t: Translator, challenge: service.MemberChallenge) -> str:
    if challenge.answer == ChallengeAnswer.SKIP.value:
        return t("Votre réponse : ⏭ pas cette fois.")
    if challenge.answer == ChallengeAnswer.DONE.value:
        return t("Votre réponse : ✅ c'est fait.")
    if challenge.answer == ChallengeAnswer.PROOF.value:
        return t("Votre réponse : 📷 preuve envoyée.")
    return t("Vous n'avez pas encore répondu.")


async def _show_member_challenge(
    update: Update, context: RelaisContext, challenge: service.MemberChallenge, *, edit: bool
) -> None:
    t = context.t
    body = service.challenge_body(challenge, context.rt.content, t.lang)
    parts = [body, service.deadline_line(t, challenge.deadline_at), _answer_text(t, challenge)]
    rows = service.answer_buttons(t, challenge.id)
    if challenge.answer in service.DONE_ANSWERS:
        if challenge.consent:
            parts.append(t("👀 Vous acceptez de la montrer au groupe."))
            rows.append(
                [
                    Button(
                        t(N_("🙈 Ne plus la montrer")), ChallengeConsent(challenge.id, "no").pack()
                    )
                ]
            )
        else:
            parts.append(t("🙈 Elle n'est pas montrée au groupe."))
            rows.append(
                [
                    Button(
                        t(N_("👀 La montrer au groupe")),
                        ChallengeConsent(challenge.id, "yes").pack(),
                    )
                ]
            )
    await show(update, "\n\n".join(parts), rows, edit=edit)


async def member_defi(update: Update, context: RelaisContext) -> None:
    me = context.merchant
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as tx:
        current = await service.open_for(tx, me.member_id, now)
    if not current:
        await show(
            update,
            context.t(
                "Pas de défi en cours pour l'instant 🙂 Votre formateur en lance un "
                "régulièrement : il arrivera ici."
            ),
            edit=False,
        )
        return
    for challenge in current:
        await _show_member_challenge(update, context, challenge, edit=False)


async def _closed(update: Update, context: RelaisContext) -> None:
    """A button or a proof for a challenge whose deadline passed: say so, show the current."""
    t = context.t
    await answer_callback(update)
    async with context.rt.db.unit_of_work() as tx:
        current = await service.open_for(tx, context.merchant.member_id, context.rt.clock.now())
    if not current:
        await show(
            update, t("Ce défi est terminé 🙂 Il n'y a pas d'autre défi en cours."), edit=False
        )
        return
    await show(update, t("Ce défi est terminé 🙂 Voici le défi en cours :"), edit=False)
    await _show_member_challenge(update, context, current[0], edit=False)


async def _ask_consent(
    update: Update, context: RelaisContext, title: str, challenge_id: int, thanks: str
) -> None:
    t = context.t
    text = (
        thanks
        + "\n\n"
        + t(
            "Puis-je la montrer au groupe ? (prénom et commerce seulement ; vous pourrez changer "
            "d'avis avec /defi)"
        )
    )
    await show(update, text, service.consent_buttons(t, challenge_id), edit=False)


async def on_answer_button(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeAnswerButton)
    if button is None or not _is_merchant(context):
        await answer_stale(update, t)
        return
    me = context.merchant
    now = context.rt.clock.now()
    if button.action == "proof":
        async with context.rt.db.unit_of_work() as tx:
            view = await service.for_member(tx, me.member_id, button.challenge_id)
        if view is None:
            await answer_stale(update, t)
            return
        if not view.is_open(now):
            await _closed(update, context)
            return
        context.store[AWAITING] = view.id
        await answer_callback(update)
        await show(
            update,
            t(
                "📷 Envoyez ici votre photo, un lien (https://…) ou un message vocal "
                "pour « {title} ».",
                title=_member_title(context, view),
            ),
            edit=False,
        )
        return
    answer = ChallengeAnswer.DONE if button.action == "done" else ChallengeAnswer.SKIP
    async with context.rt.db.unit_of_work() as tx:
        result = await service.answer(
            tx, member_id=me.member_id, challenge_id=button.challenge_id, answer=answer, now=now
        )
    if result.outcome is service.Outcome.NOT_FOUND or result.challenge is None:
        await answer_stale(update, t)
        return
    if result.outcome is service.Outcome.CLOSED:
        await _closed(update, context)
        return
    context.store.pop(AWAITING, None)
    await answer_callback(update)
    title = _member_title(context, result.challenge)
    if answer is ChallengeAnswer.SKIP:
        await show(
            update,
            t(
                "D'accord, pas cette fois pour « {title} ». Pas de rappel ; le prochain défi "
                "arrivera ici 🙂",
                title=title,
            ),
            edit=False,
        )
        return
    await _ask_consent(
        update,
        context,
        title,
        result.challenge.id,
        t("✅ Bravo, c'est noté pour « {title} » !", title=title),
    )


async def _take_proof(
    update: Update,
    context: RelaisContext,
    challenge_id: int,
    kind: ProofKind,
    file_id: str | None,
    link: str | None,
) -> None:
    t = context.t
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as tx:
        result = await service.answer(
            tx,
            member_id=context.merchant.member_id,
            challenge_id=challenge_id,
            answer=ChallengeAnswer.PROOF,
            now=now,
            proof_kind=kind,
            file_id=file_id,
            link=link,
        )
    context.store.pop(AWAITING, None)
    context.store.pop(PENDING, None)
    if result.outcome is service.Outcome.CLOSED:
        await _closed(update, context)
        return
    if result.outcome is not service.Outcome.OK or result.challenge is None:
        await answer_stale(update, t)
        return
    await answer_callback(update)
    title = _member_title(context, result.challenge)
    thanks = t("📸 Merci ! Preuve reçue pour « {title} ».", title=title)
    if result.replaced:
        thanks += "\n" + t("Elle remplace la précédente (gardée dans l'historique).")
    await _ask_consent(update, context, title, result.challenge.id, thanks)


async def _proof_arrived(
    update: Update,
    context: RelaisContext,
    kind: ProofKind,
    file_id: str | None,
    link: str | None,
) -> None:
    t = context.t
    now = context.rt.clock.now()
    async with context.rt.db.unit_of_work() as tx:
        current = await service.open_for(tx, context.merchant.member_id, now)
    awaiting = context.store.get(AWAITING)
    if isinstance(awaiting, int) and any(c.id == awaiting for c in current):
        await _take_proof(update, context, awaiting, kind, file_id, link)
        return
    if not current:
        await nothing_open(update, context)
        return
    context.store[PENDING] = {"kind": kind.value, "file_id": file_id, "link": link}
    rows = [
        [Button("🎯 " + _member_title(context, c), ChallengeProofFor(c.id).pack())]
        for c in current[:5]
    ]
    rows.append([Button(t(N_("Non, ce n'est pas pour un défi")), ChallengeProofNot().pack())])
    if len(current) == 1:
        text = t("Est-ce pour le défi « {title} » ?", title=_member_title(context, current[0]))
    else:
        text = t("Pour quel défi est-ce ?")
    await show(update, text, rows, edit=False)


async def nothing_open(update: Update, context: RelaisContext) -> None:
    """A photo or a voice note outside a question or a challenge: offer those two (and show
    the main menu again, as the other kind answers do)."""
    t = context.t
    await context.message.reply_text(
        t(
            "Merci ! 🙂 Je n'en fais rien toute seule : pour la poser en question à votre "
            "formateur, tapez /question puis envoyez-la ; pour un défi, tapez /defi."
        ),
        reply_markup=main_menu(t, staff=False),
    )


async def on_photo(update: Update, context: RelaisContext) -> None:
    message = context.message
    if not _is_merchant(context) or not message.photo:
        await fallback.on_media(update, context)
        return
    await _proof_arrived(update, context, ProofKind.PHOTO, message.photo[-1].file_id, None)


async def on_voice(update: Update, context: RelaisContext) -> None:
    message = context.message
    if not _is_merchant(context) or message.voice is None:
        await fallback.on_media(update, context)
        return
    await _proof_arrived(update, context, ProofKind.VOICE, message.voice.file_id, None)


async def on_link(update: Update, context: RelaisContext) -> None:
    t = context.t
    if not _is_merchant(context):
        await fallback.on_text(update, context)
        return
    cleaned = service.clean_link(context.text)
    if cleaned is service.LinkProblem.TOO_LONG:
        await show(
            update,
            t(
                "Ce lien est trop long (plus de 1000 caractères) : envoyez "
                "plutôt une capture d'écran 📷"
            ),
            edit=False,
        )
        return
    if cleaned is service.LinkProblem.SCHEME:
        await show(
            update,
            t(
                "Pour un lien, copiez l'adresse complète, qui commence par "
                "https:// (ou envoyez une capture d'écran 📷)."
            ),
            edit=False,
        )
        return
    assert isinstance(cleaned, str)
    await _proof_arrived(update, context, ProofKind.LINK, None, cleaned)


async def on_proof_for(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeProofFor)
    pending = context.store.get(PENDING)
    if button is None or not _is_merchant(context) or not isinstance(pending, dict):
        await answer_stale(update, t)
        return
    try:
        kind = ProofKind(str(pending.get("kind")))
    except ValueError:
        await answer_stale(update, t)
        return
    file_id, link = pending.get("file_id"), pending.get("link")
    await _take_proof(
        update,
        context,
        button.challenge_id,
        kind,
        file_id if isinstance(file_id, str) else None,
        link if isinstance(link, str) else None,
    )


async def on_proof_not(update: Update, context: RelaisContext) -> None:
    context.store.pop(PENDING, None)
    await answer_callback(update)
    await show(
        update,
        context.t("D'accord, je n'en fais rien. Pour poser une question au formateur : /question."),
    )


async def on_consent(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeConsent)
    if button is None or not _is_merchant(context):
        await answer_stale(update, t)
        return
    async with context.rt.db.unit_of_work() as tx:
        result = await service.set_consent(
            tx,
            member_id=context.merchant.member_id,
            challenge_id=button.challenge_id,
            consent=button.answer == "yes",
            now=context.rt.clock.now(),
        )
    if result.outcome is not service.Outcome.OK:
        await answer_stale(update, t)
        return
    if button.answer == "yes":
        text = t(
            "👀 Merci ! Elle pourra être montrée au groupe. Vous pouvez changer d'avis avec /defi."
        )
    else:
        text = t(
            "🙈 C'est noté : elle ne sera pas montrée au groupe. "
            "Vous pouvez changer d'avis avec /defi."
        )
    await show(update, text)


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
    if _is_staff(context):
        await staff_defi(update, context)
    elif _is_merchant(context):
        await member_defi(update, context)
    else:
        await show(update, context.t("Tapez /aide pour voir ce que je sais faire."), edit=False)


async def on_staff_step(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeStaffStep)
    if button is None or not _is_staff(context):
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
    if button is None or not _is_staff(context) or button.theme not in library.themes:
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
    if found is None or not _is_staff(context):
        await answer_stale(update, t)
        return
    context.store[DRAFT] = {"library_id": found.id}
    await _ask_audience(update, context, found.text(t.lang))


async def on_audience(update: Update, context: RelaisContext) -> None:
    t = context.t
    button = clicked(update, ChallengeAudience)
    draft = context.store.get(DRAFT)
    audience = audience_from_code(button.audience) if button else None
    if audience is None or not isinstance(draft, dict) or not _is_staff(context):
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
        or not _is_staff(context)
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
    if button is None or not isinstance(draft, dict) or not _is_staff(context):
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
    if not _is_staff(context):
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
    if button is None or not _is_staff(context):
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


# --- registration ------------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    write: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(start_write, pattern=ChallengeStaffStep.pattern(step="write"))
        ],
        states={WRITE: [MessageHandler(TYPED, typed_challenge)]},
        fallbacks=[CommandHandler("annuler", cancel_write, filters=NEW_MESSAGE)],
        name="challenge_write",
        persistent=True,
        allow_reentry=True,
    )
    return [write]


LINKISH = filters.Regex(
    r"^\s*(?:https?://|www\.|ftp://|[A-Za-z0-9-]+\.(?:com|be|net|org|eu|fr|nl)/)\S*\s*$"
)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("defi", defi, filters=NEW_MESSAGE),
        CallbackQueryHandler(on_answer_button, pattern=ChallengeAnswerButton.pattern()),
        CallbackQueryHandler(on_consent, pattern=ChallengeConsent.pattern()),
        CallbackQueryHandler(on_proof_for, pattern=ChallengeProofFor.pattern()),
        CallbackQueryHandler(on_proof_not, pattern=ChallengeProofNot.pattern()),
        CallbackQueryHandler(on_staff_step, pattern=ChallengeStaffStep.pattern()),
        CallbackQueryHandler(on_theme, pattern=ChallengeTheme.pattern()),
        CallbackQueryHandler(on_pick, pattern=ChallengePick.pattern()),
        CallbackQueryHandler(on_audience, pattern=ChallengeAudience.pattern()),
        CallbackQueryHandler(on_deadline, pattern=ChallengeDeadline.pattern()),
        CallbackQueryHandler(on_go, pattern=ChallengeGo.pattern()),
        CallbackQueryHandler(on_card, pattern=ChallengeCard.pattern()),
        CallbackQueryHandler(on_submission, pattern=SubmissionAction.pattern()),
        # Forged or stale `chal:` / `sub:` buttons: a kind "no longer valid", nothing changes.
        CallbackQueryHandler(_stale, pattern=CHAL.pattern),
        CallbackQueryHandler(_stale, pattern=SUB.pattern),
    ]


def media_handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    """Photos, voice notes and links outside a conversation (before the fallbacks)."""
    return [
        MessageHandler(NEW_MESSAGE & PRIVATE & filters.PHOTO, on_photo),
        MessageHandler(NEW_MESSAGE & PRIVATE & filters.VOICE, on_voice),
        MessageHandler(NEW_MESSAGE & PRIVATE & filters.TEXT & ~filters.COMMAND & LINKISH, on_link),
    ]


async def _stale(update: Update, context: RelaisContext) -> None:
    await answer_stale(update, context.t)
