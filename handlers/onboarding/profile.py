"""The join link's guided profile: FIRST_NAME → BUSINESS → SECTOR → COMMUNE → LANGUAGE →
CONSENT. Nothing reaches the database before consent: the answers wait in user_data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler

from bot.callbacks import Language, OnboardingConsent, OnboardingSector, OnboardingStep
from bot.delivery.registry import Button
from bot.i18n import LANGUAGES, N_, normalise_language
from bot.keyboards import keyboard
from bot.models import Sector
from bot.runtime import RelaisContext
from bot.services import cohorts, members, progress
from bot.services.members import (
    BUSINESS_NAME_MAX,
    COMMUNE_MAX,
    FIRST_NAME_MAX,
    JoinOutcome,
    Profile,
)
from bot.services.validation import InvalidValue, clean_text
from handlers.common import answer_callback, answer_stale, clicked, drop_buttons, send
from handlers.menu import main_menu
from handlers.onboarding.shared import (
    _JOIN,
    BUSINESS,
    CHOSEN_LANGUAGE,
    COMMUNE,
    CONSENT,
    DRAFT,
    FIRST_NAME,
    LANGUAGE,
    SECTOR,
    SECTOR_LABELS,
    identity_of,
    language_keyboard,
    rhythm,
    translator,
)


def _draft(context: RelaisContext) -> dict[str, Any] | None:
    if context.user_data is None:
        return None
    draft = context.user_data.get(DRAFT)
    return draft if isinstance(draft, dict) else None


# --- the questions -----------------------------------------------------------------------
async def ask_first_name(update: Update, context: RelaisContext) -> str:
    t = translator(context)
    draft = _draft(context) or {}
    telegram_name = draft.get("telegram_first_name") or ""
    # A button label is plain text (not HTML): format it without escaping.
    keep = t.raw(N_("✅ Oui, « {name} »")).format_map({"name": telegram_name})
    buttons = [[Button(keep[:64], OnboardingStep("keep").pack())]]
    await send(
        context,
        t(
            "Bienvenue dans le groupe <b>{cohort}</b> ! 🎉\n\n"
            "Quelques questions rapides pour faire connaissance (1 minute).\n\n"
            "D'abord : je vous appelle <b>{name}</b> ? "
            "Sinon, écrivez-moi le prénom que vous préférez.",
            cohort=draft.get("cohort_name", ""),
            name=telegram_name,
        ),
        reply_markup=keyboard(buttons) if telegram_name else None,
    )
    return FIRST_NAME


async def ask_business(update: Update, context: RelaisContext) -> str:
    t = translator(context)
    await send(
        context,
        t(
            "Merci {name} ! Quel est <b>le nom de votre commerce</b> ?",
            name=_get(context, "first_name"),
        ),
    )
    return BUSINESS


async def ask_sector(update: Update, context: RelaisContext) -> str:
    t = translator(context)
    labels = [
        Button(t(label), OnboardingSector(sector.value).pack())
        for sector, label in SECTOR_LABELS.items()
    ]
    rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
    await send(
        context,
        t("Dans quel <b>secteur</b> travaillez-vous ?"),
        reply_markup=keyboard(rows),
    )
    return SECTOR


async def ask_commune(update: Update, context: RelaisContext) -> str:
    t = translator(context)
    commune = _get(context, "cohort_commune")
    await send(
        context,
        t(
            "Dans quelle <b>commune</b> se trouve votre commerce ?\n"
            "Appuyez sur le bouton, ou écrivez le nom de votre commune."
        ),
        reply_markup=(
            keyboard([[Button(("📍 " + commune)[:64], OnboardingStep("commune").pack())]])
            if commune
            else None
        ),
    )
    return COMMUNE


async def ask_language(update: Update, context: RelaisContext) -> str:
    t = translator(context)
    await send(
        context,
        t("Dans quelle <b>langue</b> préférez-vous que je vous écrive ?"),
        reply_markup=language_keyboard(),
    )
    return LANGUAGE


async def ask_consent(update: Update, context: RelaisContext) -> str:
    t = translator(context)
    settings = context.rt.settings
    await send(
        context,
        t(
            "Dernière étape : <b>vos données</b> 🔒\n\n"
            "{organisation} garde votre prénom, le nom, le secteur et la commune de votre "
            "commerce, ainsi que vos réponses, <b>uniquement</b> pour vous accompagner pendant "
            "la formation. Seuls le formateur et la coordination de votre groupe les voient. "
            "Rien n'est vendu ni partagé.\n\n"
            "À tout moment : /mesdonnees pour en recevoir une copie, /oublier pour tout effacer. "
            "Détails : /privacy\n\n"
            "Êtes-vous d'accord ?",
            organisation=settings.organisation_name,
        ),
        reply_markup=keyboard(
            [
                [Button(t("✅ J'accepte"), OnboardingConsent("yes").pack())],
                [Button(t("Non merci"), OnboardingConsent("no").pack())],
            ]
        ),
    )
    return CONSENT


ASK: dict[str, Callable[[Update, RelaisContext], Awaitable[str]]] = {
    FIRST_NAME: ask_first_name,
    BUSINESS: ask_business,
    SECTOR: ask_sector,
    COMMUNE: ask_commune,
    LANGUAGE: ask_language,
    CONSENT: ask_consent,
}


def _get(context: RelaisContext, key: str) -> str:
    value = (_draft(context) or {}).get(key)
    return value if isinstance(value, str) else ""


def _set(context: RelaisContext, **values: Any) -> None:
    draft = _draft(context)
    if draft is not None:
        draft.update(values)


async def _next(update: Update, context: RelaisContext, state: str) -> str:
    _set(context, step=state)
    return await ASK[state](update, context)


async def _lost(update: Update, context: RelaisContext) -> int:
    """The draft is gone (e.g. data deleted meanwhile): start again from the link."""
    t = translator(context)
    await answer_callback(update)
    await send(
        context,
        t("Oups, j'ai perdu le fil 😅 Ouvrez à nouveau le lien d'invitation pour recommencer."),
    )
    return ConversationHandler.END


# --- entry: the join link ----------------------------------------------------------------
async def start_join(update: Update, context: RelaisContext) -> str | int:
    """`/start join_<code>`: a stranger starts onboarding; a merchant joins one more cohort."""
    message = context.message
    match = _JOIN.match(context.text)
    code = match.group(2) if match else ""
    t = translator(context)
    actor = context.actor
    rt = context.rt
    async with rt.db.unit_of_work() as session:
        cohort = await cohorts.find_by_code(session, code)
        if cohort is None:
            outcome: JoinOutcome | None = None
        elif actor.member_id is None:
            outcome = JoinOutcome.NEEDS_PROFILE
        else:
            outcome = await members.join_cohort(session, actor.member_id, cohort.id, rt.clock.now())
    if cohort is None or outcome is None:
        await message.reply_text(
            t(
                "Ce lien d'invitation ne fonctionne pas (ou plus) 🤔\n"
                "Vérifiez-le auprès de votre formateur ou de la commune : ils vous en donneront "
                "un nouveau."
            )
        )
        return ConversationHandler.END
    if outcome is JoinOutcome.STAFF:
        await message.reply_text(
            t(
                "Vous faites déjà partie de l'équipe du groupe <b>{cohort}</b>. "
                "Ce lien est celui des participants : partagez-le avec eux !",
                cohort=cohort.name,
            ),
            reply_markup=main_menu(t, staff=True),
        )
        return ConversationHandler.END
    if outcome is JoinOutcome.ALREADY:
        await message.reply_text(
            t(
                "Vous faites déjà partie du groupe <b>{cohort}</b> 👍 "
                "Le menu est en bas de l'écran.",
                cohort=cohort.name,
            ),
            reply_markup=main_menu(t, staff=False),
        )
        return ConversationHandler.END
    if outcome is JoinOutcome.JOINED:
        await message.reply_text(
            t(
                "C'est fait : vous avez rejoint aussi le groupe <b>{cohort}</b> 🎉\n"
                "Je vous parle maintenant de ce groupe-là. Pour changer : /cohorte",
                cohort=cohort.name,
            ),
            reply_markup=main_menu(t, staff=False),
        )
        return ConversationHandler.END

    user = context.sender
    context.store[DRAFT] = {
        "cohort_id": cohort.id,
        "cohort_name": cohort.name,
        "cohort_commune": cohort.commune,
        "telegram_first_name": _fit_name(user.first_name),
        "language": (context.store.get(CHOSEN_LANGUAGE) or actor.language),
    }
    return await _next(update, context, FIRST_NAME)


def _fit_name(name: str) -> str:
    try:
        return clean_text(name, max_length=10_000)[:FIRST_NAME_MAX]
    except InvalidValue:
        return ""


# --- the answers -------------------------------------------------------------------------
async def keep_first_name(update: Update, context: RelaisContext) -> str | int:
    await answer_callback(update)
    if _draft(context) is None:
        return await _lost(update, context)
    await drop_buttons(update)
    _set(context, first_name=_get(context, "telegram_first_name") or "?")
    return await _next(update, context, BUSINESS)


async def typed_first_name(update: Update, context: RelaisContext) -> str | int:
    return await _typed(update, context, "first_name", FIRST_NAME_MAX, FIRST_NAME, BUSINESS)


async def typed_business(update: Update, context: RelaisContext) -> str | int:
    return await _typed(update, context, "business_name", BUSINESS_NAME_MAX, BUSINESS, SECTOR)


async def typed_commune(update: Update, context: RelaisContext) -> str | int:
    return await _typed(update, context, "commune", COMMUNE_MAX, COMMUNE, LANGUAGE)


async def _typed(
    update: Update, context: RelaisContext, key: str, limit: int, here: str, then: str
) -> str | int:
    """Store a typed answer if it is fit, else say why kindly and stay on the question."""
    message = context.message
    if _draft(context) is None:
        return await _lost(update, context)
    t = translator(context)
    try:
        value = clean_text(message.text or "", max_length=limit)
    except InvalidValue as problem:
        if problem.too_long:
            await message.reply_text(
                t(
                    "C'est un peu long 🙂 {limit} caractères au maximum, s'il vous plaît. "
                    "Pouvez-vous raccourcir ?",
                    limit=limit,
                )
            )
        else:
            await message.reply_text(t("Je n'ai rien reçu : pouvez-vous l'écrire à nouveau ?"))
        return here
    _set(context, **{key: value})
    return await _next(update, context, then)


async def chose_sector(update: Update, context: RelaisContext) -> str | int:
    button = clicked(update, OnboardingSector)
    sector = members.parse_sector(button.sector) if button is not None else None
    if sector is None:
        await answer_stale(update, translator(context))
        return SECTOR
    await answer_callback(update)
    if _draft(context) is None:
        return await _lost(update, context)
    await drop_buttons(update)
    _set(context, sector=sector.value)
    return await _next(update, context, COMMUNE)


async def chose_commune(update: Update, context: RelaisContext) -> str | int:
    await answer_callback(update)
    if _draft(context) is None:
        return await _lost(update, context)
    await drop_buttons(update)
    _set(context, commune=_get(context, "cohort_commune"))
    return await _next(update, context, LANGUAGE)


async def chose_language(update: Update, context: RelaisContext) -> str | int:
    button = clicked(update, Language)
    if button is None or button.code not in LANGUAGES:
        await answer_stale(update, translator(context))
        return LANGUAGE
    await answer_callback(update)
    if _draft(context) is None:
        return await _lost(update, context)
    await drop_buttons(update)
    _set(context, language=button.code)
    return await _next(update, context, CONSENT)


async def consent(update: Update, context: RelaisContext) -> str | int:
    button = clicked(update, OnboardingConsent)
    if button is None:
        await answer_stale(update, translator(context))
        return CONSENT
    await answer_callback(update)
    draft = _draft(context)
    if draft is None:
        return await _lost(update, context)
    t = translator(context)
    if button.answer == "no":
        await send(
            context,
            t(
                "Je comprends. Sans votre accord, je ne garde rien et je ne peux pas vous "
                "accompagner. Si vous changez d'avis, appuyez sur « J'accepte » ci-dessus. "
                "Pour arrêter ici : /annuler"
            ),
        )
        return CONSENT
    await drop_buttons(update)
    language = normalise_language(str(draft.get("language")), context.rt.settings.default_language)
    try:
        profile = Profile(
            first_name=str(draft["first_name"]),
            business_name=str(draft["business_name"]),
            sector=Sector(str(draft["sector"])),
            commune=str(draft["commune"]),
            language=language,
        )
    except (KeyError, ValueError):
        # A step is missing (an old draft): ask it again rather than fail.
        missing = next((step for step, key in _STEP_KEYS if key not in draft), FIRST_NAME)
        return await _next(update, context, missing)
    rt = context.rt
    try:
        async with rt.db.unit_of_work() as session:
            member = await members.register(
                session,
                identity_of(context, language),
                profile,
                cohort_id=int(draft["cohort_id"]),
                now=rt.clock.now(),
                rhythm=rhythm(context),
            )
            first_name = member.first_name
    except LookupError:
        context.store.pop(DRAFT, None)
        await send(
            context,
            t("Ce groupe n'accepte plus d'inscriptions. Demandez un nouveau lien à la commune."),
        )
        return ConversationHandler.END
    context.store.pop(DRAFT, None)
    context.store.pop(CHOSEN_LANGUAGE, None)
    t = rt.i18n(language, context.actor.zone)
    await send(
        context,
        t(
            "C'est fait, {name} ! Bienvenue dans le groupe <b>{cohort}</b> 🎉\n\n"
            "Entre les séances, je vous enverrai de petites astuces et je vous aiderai à "
            "avancer sur vos objectifs.\n\n"
            "Tout se fait avec <b>les boutons en bas de l'écran</b> 👇 "
            "Pour commencer, pourquoi pas « 🎯 Nouvel objectif » ?",
            name=first_name,
            cohort=str(draft.get("cohort_name", "")),
        ),
        reply_markup=main_menu(t, staff=False),
    )
    # The baseline of the progress check: skippable, offered again with the first tips.
    await send(
        context,
        progress.invitation_text(t, name=first_name, baseline=True),
        reply_markup=keyboard(progress.invitation_buttons(t)),
    )
    return ConversationHandler.END


_STEP_KEYS = (
    (FIRST_NAME, "first_name"),
    (BUSINESS, "business_name"),
    (SECTOR, "sector"),
    (COMMUNE, "commune"),
)


# --- inside the conversation: leaving, repeating, stray input ----------------------------
async def cancel(update: Update, context: RelaisContext) -> int:
    await answer_callback(update)
    context.store.pop(DRAFT, None)
    t = translator(context)
    await send(
        context,
        t(
            "D'accord, on s'arrête là : je n'ai rien gardé. "
            "Pour reprendre, ouvrez à nouveau le lien d'invitation."
        ),
    )
    return ConversationHandler.END


async def repeat_question(update: Update, context: RelaisContext) -> str | int:
    """Anything else during onboarding (a sticker, `/start`, text where a button is expected)."""
    step = _get(context, "step")
    if _draft(context) is None or step not in ASK:
        return await _lost(update, context)
    t = translator(context)
    if update.callback_query is not None:
        # A button of an earlier question: the current one is still waiting below.
        await answer_stale(update, t)
        return step
    await send(context, t("Reprenons 🙂"))
    return await ASK[step](update, context)
