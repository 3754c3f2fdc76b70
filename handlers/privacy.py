"""Privacy: `/privacy` (the notice), `/mesdonnees` (a copy of my data), `/oublier` (erase me).

Everyone may use them, strangers included: someone half-way through onboarding has a draft
(their answers before consent) that they may read or erase too, and a second `/oublier`
after an erasure is answered kindly ("nothing left") rather than refused.

Erasure asks first (buttons `priv:forget:confirm` / `priv:forget:cancel`). The confirmation
is only honoured on the very message that asked it (its id is kept in user_data), so a
forged or stale button erases nothing. After the erasure the in-memory state goes too:
PTB's user_data for the person and any conversation they were in, so that nothing comes
back into the database at the next persistence flush.

The retention warning's button (`priv:keep`) lands here as well: pressing it is activity,
which the access gate records before this handler runs.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from telegram import InputFile, ReplyKeyboardRemove, Update
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
)

from bot.callbacks import PRIV, Forget, KeepMyData
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.runtime import RelaisApp, RelaisContext
from bot.services import privacy
from handlers.common import answer_callback, answer_stale, drop_buttons
from handlers.onboarding.shared import NEW_MESSAGE, translator

log = logging.getLogger(__name__)

# user_data key: the id of the message that asked "erase everything?".
FORGET_PROMPT = "privacy_forget_prompt"
EXPORT_FILENAME = "relais-mes-donnees.json"


# --- /privacy --------------------------------------------------------------------------------
def privacy_notice(t: Translator, organisation: str, contact: str, retention_days: int) -> str:
    if retention_days > 0:
        how_long = t(
            "Tant que vous participez. Après {days} jours sans activité, tout est effacé "
            "automatiquement (je vous préviens une semaine avant). Vos présences restent "
            "alors comptées, sans votre nom.",
            days=retention_days,
        )
    else:
        how_long = t(
            "Tant que vous participez, et jusqu'à ce que vous demandiez leur effacement. "
            "Vos présences restent alors comptées, sans votre nom."
        )
    return (
        t(
            "🔒 <b>Vos données et vos droits</b>\n\n"
            "<b>Qui ?</b> Relais est proposé par {organisation}, responsable de vos données. "
            "Contact : {contact}\n\n"
            "<b>Quelles données ?</b> Votre prénom (et votre nom s'il figure dans votre profil "
            "Telegram), votre identifiant Telegram, le nom, le secteur et la commune de votre "
            "commerce, votre langue et vos réglages, vos objectifs et vos réponses, vos "
            "questions, vos réponses aux invitations et vos présences aux séances, les astuces "
            "reçues et votre avis sur elles.\n\n"
            "<b>Pourquoi ?</b> Pour vous accompagner entre les séances (astuces, rappels, suivi "
            "de vos objectifs) et pour que la commune puisse faire le bilan de la formation. "
            "Base légale : votre accord, donné à l'inscription.\n\n"
            "<b>Qui les voit ?</b> Seuls le formateur et la coordination de votre groupe. Rien "
            "n'est vendu ni partagé. Le texte de vos messages n'est pas écrit dans les journaux "
            "techniques. Les messages passent par Telegram, qui a ses propres règles.\n\n"
            "<b>Combien de temps ?</b> {how_long}\n\n"
            "<b>Vos droits</b>\n"
            "• /mesdonnees : recevoir une copie de toutes vos données\n"
            "• /reglages : changer vos préférences ; pour corriger votre profil, écrivez à "
            "{contact}\n"
            "• /oublier : tout effacer, à tout moment (cela retire aussi votre accord)\n"
            "• Vous pouvez aussi vous opposer à un traitement ou en demander la limitation "
            "auprès de {contact}, et introduire une plainte auprès de l'Autorité de protection "
            "des données (autoriteprotectiondonnees.be).",
            organisation=organisation,
            contact=contact,
            how_long=how_long,
        )
        + "\n\n"
        + t(
            "<b>Le point du mois</b> (abonnés, publications, clients, bonnes pratiques) : vous "
            "voyez vos chiffres avec /progres, votre formateur aussi pour vous accompagner. La "
            "commune ne voit que des chiffres d'ensemble du groupe, jamais les vôtres, et rien "
            "en dessous de 5 personnes."
        )
    )


async def show_privacy(update: Update, context: RelaisContext) -> None:
    message = context.message
    settings = context.rt.settings
    await message.reply_text(
        privacy_notice(
            translator(context),
            settings.organisation_name,
            settings.organisation_contact,
            settings.retention_days,
        )
    )


# --- /mesdonnees -----------------------------------------------------------------------------
def _summary(t: Translator, data: dict[str, Any]) -> str:
    profile = data["profile"]
    who = ", ".join(
        str(part)
        for part in (profile["first_name"], profile["business_name"], profile["commune"])
        if part
    )
    checkins = sum(len(o["checkins"]) for o in data["objectives"])
    lines = [
        t("📦 <b>Vos données</b>"),
        "",
        t("Voici tout ce que je garde sur vous, dans le fichier joint (format JSON). En bref :"),
        t("• Profil : {who}", who=who),
        t("• Groupes : {n}", n=len(data["cohorts"]) + len(data["staff_roles"])),
        t("• Réponses aux séances : {n}", n=len(data["rsvps"])),
        t("• Présences : {n}", n=len(data["attendance"])),
        t("• Objectifs : {n} (bilans : {checkins})", n=len(data["objectives"]), checkins=checkins),
        t("• Astuces reçues : {n}", n=len(data["tips"])),
        t("• Questions : {n}", n=len(data["questions"])),
        t("• Réponses au point du mois : {n}", n=len(data.get("progress_answers", []))),
        t("• Messages envoyés ou prévus : {n}", n=len(data["messages"])),
        "",
        t("Pour tout effacer : /oublier. Pour en savoir plus : /privacy."),
    ]
    return "\n".join(lines)


def _document(payload: dict[str, Any]) -> InputFile:
    data = json.dumps(payload, ensure_ascii=False, indent=2, default=str).encode()
    return InputFile(data, filename=EXPORT_FILENAME)


def _in_memory_drafts(context: RelaisContext) -> dict[str, Any]:
    """This person's user_data as PTB holds it now (fresher than the database's copy)."""
    user_data = context.user_data or {}
    return {key: value for key, value in user_data.items() if key != FORGET_PROMPT}


async def my_data(update: Update, context: RelaisContext) -> None:
    message = context.message
    rt = context.rt
    t = translator(context)
    actor = context.actor
    async with rt.db.unit_of_work() as session:
        data = (
            await privacy.export_member_data(session, actor.member_id)
            if actor.member_id is not None
            else None
        )
    drafts = _in_memory_drafts(context)
    header: dict[str, Any] = {
        "generated_at": rt.clock.now().isoformat(),
        "controller": {
            "name": rt.settings.organisation_name,
            "contact": rt.settings.organisation_contact,
        },
    }
    if data is None and not drafts:
        await message.reply_text(
            t(
                "Je n'ai aucune donnée à votre nom 🙂 "
                "Si vous rejoignez un groupe, /mesdonnees vous en donnera une copie."
            )
        )
        return
    if data is None:
        await message.reply_document(
            _document({**header, "drafts": {"user_data": drafts}}),
            caption=t(
                "Vous n'êtes pas encore inscrit(e) : je garde seulement les réponses de "
                "votre inscription en cours (fichier joint). /oublier les efface."
            ),
        )
        return
    if drafts:
        data["drafts"]["user_data"] = drafts
    await message.reply_text(_summary(t, data))
    await message.reply_document(_document({**header, **data}))


# --- /oublier --------------------------------------------------------------------------------
async def _has_anything(context: RelaisContext, telegram_user_id: int) -> bool:
    if context.actor.member_id is not None or _in_memory_drafts(context):
        return True
    async with context.rt.db.unit_of_work() as session:
        return await privacy.has_drafts(session, telegram_user_id)


def _nothing_left(t: Translator) -> str:
    return t(
        "Je n'ai aucune donnée à votre nom : il n'y a rien à effacer 🙂\n"
        "Si vous revenez un jour, il suffira d'ouvrir le lien de votre groupe."
    )


async def ask_forget(update: Update, context: RelaisContext) -> None:
    message = context.message
    user = context.sender
    t = translator(context)
    if not await _has_anything(context, user.id):
        await message.reply_text(_nothing_left(t))
        return
    prompt = await message.reply_text(
        t(
            "🗑 <b>Tout effacer ?</b>\n\n"
            "J'effacerai votre profil, vos objectifs, vos réponses, vos questions et vos "
            "réglages, et je ne vous écrirai plus. Vos présences aux séances restent comptées, "
            "sans votre nom.\n\n"
            "Cela ne peut pas être annulé. Vous pouvez d'abord demander une copie : /mesdonnees"
        ),
        reply_markup=keyboard(
            [
                [Button(t("🗑 Oui, tout effacer"), Forget("confirm").pack())],
                [Button(t("Non, je garde tout"), Forget("cancel").pack())],
            ]
        ),
    )
    context.store[FORGET_PROMPT] = prompt.message_id


def _is_the_prompt(update: Update, context: RelaisContext) -> bool:
    query = update.callback_query
    asked = context.store.get(FORGET_PROMPT)
    return (
        query is not None
        and query.message is not None
        and isinstance(asked, int)
        and query.message.message_id == asked
    )


async def _remove_buttons(update: Update, text: str) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_text(text)
    except BadRequest:
        log.debug("could not edit the erasure prompt", exc_info=True)


async def confirm_forget(update: Update, context: RelaisContext) -> None:
    user = context.sender
    t = translator(context)  # before the erasure: their language goes with them
    if not _is_the_prompt(update, context):
        await answer_stale(update, t)
        return
    rt = context.rt
    actor = context.actor
    now: datetime = rt.clock.now()
    async with rt.db.unit_of_work() as session:
        if actor.member_id is not None:
            await privacy.forget_member(session, actor.member_id, now)
        await privacy.forget_telegram_user(session, user.id)
    forget_in_memory(context.application, user.id)
    log.info("privacy: a person erased their data")
    await answer_callback(update)
    await _remove_buttons(update, t("🗑 Vos données sont effacées."))
    await context.bot.send_message(
        context.chat_id,
        t(
            "C'est fait : j'ai effacé vos données. 👋\n\n"
            "Merci d'avoir fait un bout de chemin avec Relais, et bonne continuation ! "
            "Si vous revenez un jour, il suffira d'ouvrir à nouveau le lien de votre groupe.\n\n"
            "Les messages de cette conversation restent sur votre téléphone : vous pouvez "
            "supprimer la conversation dans Telegram."
        ),
        reply_markup=ReplyKeyboardRemove(),
    )


def forget_in_memory(application: Any, telegram_user_id: int) -> None:
    """Drop PTB's user_data for the person and end every conversation they are in."""
    app: RelaisApp = application
    app.drop_user_data(telegram_user_id)
    for group in app.handlers.values():
        for handler in group:
            if isinstance(handler, ConversationHandler):
                # PTB offers no public way to end someone else's conversation; deleting the
                # key from its (tracking) dict also deletes the persisted state.
                conversations = handler._conversations
                for key in [k for k in conversations if telegram_user_id in k]:
                    del conversations[key]


async def cancel_forget(update: Update, context: RelaisContext) -> None:
    t = translator(context)
    context.store.pop(FORGET_PROMPT, None)
    await answer_callback(update)
    await _remove_buttons(update, t("D'accord, je ne touche à rien 🙂"))


# --- the retention warning's button ------------------------------------------------------------
async def keep_me(update: Update, context: RelaisContext) -> None:
    """`priv:keep`: the access gate already recorded the activity; say thanks."""
    t = translator(context)
    if context.actor.member_id is None:
        await answer_stale(update, t)
        return
    await answer_callback(update)
    await drop_buttons(update)
    await context.bot.send_message(
        context.chat_id, t("Merci ! Je garde vos données et je reste à vos côtés 🙂")
    )


async def stale(update: Update, context: RelaisContext) -> None:
    await answer_stale(update, translator(context))


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("privacy", show_privacy, filters=NEW_MESSAGE),
        CommandHandler("mesdonnees", my_data, filters=NEW_MESSAGE),
        CommandHandler("oublier", ask_forget, filters=NEW_MESSAGE),
        CallbackQueryHandler(confirm_forget, pattern=Forget.pattern(answer="confirm")),
        CallbackQueryHandler(cancel_forget, pattern=Forget.pattern(answer="cancel")),
        CallbackQueryHandler(keep_me, pattern=KeepMyData.pattern()),
        CallbackQueryHandler(stale, pattern=PRIV.pattern),
    ]
