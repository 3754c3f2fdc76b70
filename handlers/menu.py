"""The persistent main menu (a reply keyboard), one for merchants and one for staff.

Menu buttons stand for commands: `menu_button("objectif")` is a filter that matches the
button in any language, for use in the entry points of the feature that owns the command,
and `command_for_text` lets the access gate apply the command's rule to the button.
"""

from __future__ import annotations

from telegram import KeyboardButton, Message, ReplyKeyboardMarkup
from telegram.ext import filters

from bot.i18n import LANGUAGES, N_, I18n, Translator

# (label, command) in display order; two buttons per row.
MERCHANT_MENU: tuple[tuple[str, str], ...] = (
    (N_("🎯 Nouvel objectif"), "objectif"),
    (N_("📋 Mes objectifs"), "objectifs"),
    (N_("💡 Une astuce"), "astuce"),
    (N_("📅 Séances"), "seances"),
    (N_("❓ Poser une question"), "question"),
    (N_("⚙️ Réglages"), "reglages"),
    (N_("ℹ️ Aide"), "aide"),
)
STAFF_MENU: tuple[tuple[str, str], ...] = (
    (N_("📅 Séances"), "seances"),
    (N_("➕ Nouvelle séance"), "nouvelle_seance"),
    (N_("👥 Le groupe"), "groupe"),
    (N_("✅ Présences"), "presences"),
    (N_("📣 Diffuser"), "diffuser"),
    (N_("✉️ Inviter"), "inviter"),
    (N_("ℹ️ Aide"), "aide"),
)

_LABELS: dict[str, str] = {}


def load_labels(i18n: I18n) -> None:
    """Index every menu label in every language (called once at start-up)."""
    for label, command in (*MERCHANT_MENU, *STAFF_MENU):
        for lang in LANGUAGES:
            _LABELS[i18n(lang)(label)] = command


def command_for_text(text: str | None) -> str | None:
    if not text:
        return None
    return _LABELS.get(text.strip())


class _MenuButton(filters.MessageFilter):
    def __init__(self, command: str) -> None:
        super().__init__(name=f"menu_button({command})")
        self.command = command

    def filter(self, message: Message) -> bool:
        return command_for_text(message.text) == self.command


def menu_button(command: str) -> filters.MessageFilter:
    """Matches the main-menu button that stands for `command`, in any language."""
    return _MenuButton(command)


class _AnyMenuButton(filters.MessageFilter):
    def filter(self, message: Message) -> bool:
        return command_for_text(message.text) is not None


ANY_MENU_BUTTON = _AnyMenuButton(name="any_menu_button")
"""Matches any main-menu button: guided flows exclude it from the free text they expect."""


def main_menu(t: Translator, *, staff: bool) -> ReplyKeyboardMarkup:
    items = STAFF_MENU if staff else MERCHANT_MENU
    labels = [KeyboardButton(t(label)) for label, _ in items]
    rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)
