"""What onboarding shares with the rest of the bot: its states and user_data keys, the sector
and language labels, the texts in the person's language (`translator`), who they are
(`identity_of`) and their default tip rhythm."""

from __future__ import annotations

import re

from telegram import InlineKeyboardMarkup
from telegram.ext import filters

from bot.callbacks import Language
from bot.delivery.registry import Button
from bot.i18n import LANGUAGES, N_, Translator
from bot.keyboards import keyboard
from bot.models import Role, Sector
from bot.runtime import RelaisContext
from bot.services.cohorts import JOIN_PREFIX
from bot.services.members import Identity, Rhythm
from bot.services.staff import STAFF_PREFIX
from handlers.menu import ANY_MENU_BUTTON

# Conversation states (strings: they are stored as they are, and readable in the database).
FIRST_NAME = "first_name"
BUSINESS = "business"
SECTOR = "sector"
COMMUNE = "commune"
LANGUAGE = "language"
CONSENT = "consent"

# Keys of context.user_data.
DRAFT = "onboarding"
CHOSEN_LANGUAGE = "lang"  # a stranger's /langue choice, before any member row exists

# Names of languages in their own language: never translated.
LANGUAGE_NAMES = {"fr": "🇫🇷 Français", "nl": "🇳🇱 Nederlands", "en": "🇬🇧 English"}

SECTOR_LABELS: dict[Sector, str] = {
    Sector.BEAUTY: N_("💇 Coiffure, beauté"),
    Sector.FOOD: N_("🥖 Alimentation"),
    Sector.BOOKS: N_("📚 Librairie, cadeaux"),
    Sector.CLOTHING: N_("👗 Vêtements"),
    Sector.CRAFTS: N_("🔨 Artisanat, construction"),
    Sector.PHOTO: N_("📷 Photographie"),
    Sector.LODGING: N_("🏡 Hébergement, tourisme"),
    Sector.HORECA: N_("☕ Restaurant, café"),
    Sector.OTHER: N_("✳️ Autre"),
}

ROLE_LABELS: dict[Role, str] = {
    Role.TRAINER: N_("formateur ou formatrice"),
    Role.COORDINATOR: N_("coordination"),
}

_JOIN = re.compile(rf"^/start(@\w+)?\s+{JOIN_PREFIX}(\S*)\s*$")
_STAFF = re.compile(rf"^/start(@\w+)?\s+{STAFF_PREFIX}(\S*)\s*$")
_PLAIN_START = re.compile(r"^/start(@\w+)?\s*$")

# Only new messages: an edited message is not a new answer (see handlers/fallback.py).
NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED_ANSWER = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON


# --- helpers -----------------------------------------------------------------------------
def translator(context: RelaisContext) -> Translator:
    """Texts in the person's language: during onboarding the one chosen there, before any
    member row exists the one chosen with /langue, otherwise the member's."""
    actor = context.actor
    data = context.user_data
    if data is not None:
        draft = data.get(DRAFT)
        chosen = draft.get("language") if isinstance(draft, dict) else None
        if chosen is None and actor.member_id is None:
            chosen = data.get(CHOSEN_LANGUAGE)
        if isinstance(chosen, str) and chosen in LANGUAGES:
            return context.rt.i18n(chosen, actor.zone)
    return context.t


def invitation_hint(t: Translator) -> str:
    """How to get in, for someone the bot does not know yet."""
    return t(
        "Bonjour ! Je suis Relais, l'assistant de votre formation aux réseaux sociaux 👋\n\n"
        "Pour commencer, il vous faut <b>le lien d'invitation</b> de votre groupe "
        "(ou son QR code). Demandez-le à votre formateur ou à la commune, puis ouvrez-le : "
        "je m'occupe du reste."
    )


def identity_of(context: RelaisContext, language: str) -> Identity:
    """Who sent the update, as the members service records them."""
    user = context.sender
    return Identity(
        telegram_user_id=user.id,
        chat_id=context.chat_id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language=language,
    )


def rhythm(context: RelaisContext) -> Rhythm:
    settings = context.rt.settings
    return Rhythm(tuple(settings.tip_days), settings.tip_time_value)


def language_keyboard() -> InlineKeyboardMarkup | None:
    return keyboard([[Button(LANGUAGE_NAMES[lang], Language(lang).pack())] for lang in LANGUAGES])
