"""/defi, the member's side: the open challenge, the answer buttons, a photo, a voice note
or a link taken as proof, and "may I show it to the group?"."""

from __future__ import annotations

import logging

from telegram import Update

from bot.callbacks import (
    ChallengeAnswerButton,
    ChallengeConsent,
    ChallengeProofFor,
    ChallengeProofNot,
)
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.models import ChallengeAnswer, ProofKind
from bot.runtime import RelaisContext
from bot.services import challenges as service
from handlers import fallback
from handlers.challenges.shared import (
    AWAITING,
    PENDING,
    is_merchant,
)
from handlers.common import answer_callback, answer_stale, clicked, show
from handlers.menu import main_menu

log = logging.getLogger(__name__)

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
    if button is None or not is_merchant(context):
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
    if not is_merchant(context) or not message.photo:
        await fallback.on_media(update, context)
        return
    await _proof_arrived(update, context, ProofKind.PHOTO, message.photo[-1].file_id, None)


async def on_voice(update: Update, context: RelaisContext) -> None:
    message = context.message
    if not is_merchant(context) or message.voice is None:
        await fallback.on_media(update, context)
        return
    await _proof_arrived(update, context, ProofKind.VOICE, message.voice.file_id, None)


async def on_link(update: Update, context: RelaisContext) -> None:
    t = context.t
    if not is_merchant(context):
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
    if button is None or not is_merchant(context) or not isinstance(pending, dict):
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
    if button is None or not is_merchant(context):
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
