"""What the session handlers share: states, user_data keys, and the texts (what to fix in
a typed session, the staff's session card)."""

from __future__ import annotations

from datetime import time

from telegram.ext import filters

from bot.callbacks import CalendarFile, Presences, SessionCard
from bot.content import ContentLibrary
from bot.delivery.registry import Button
from bot.i18n import Translator
from bot.keyboards import keyboard
from bot.models import RsvpAnswer, TrainingSession
from bot.runtime import RelaisContext
from bot.services import reminders, sessions
from bot.services.sessions import ParseError, ParseProblem
from handlers.common import send
from handlers.menu import ANY_MENU_BUTTON

NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON

# States of the planning conversation (strings: stored as they are by the persistence).
DATE, TIME, PLACE, THEME, CAPACITY, CONFIRM = (
    "date",
    "time",
    "place",
    "theme",
    "capacity",
    "confirm",
)
# State of the edit conversation (move, place, summary).
EDIT = "edit"
# context.user_data keys.
DRAFT = "new_session"
EDITING = "edit_session"

DATE_BUTTONS = 12
TIME_CHOICES = (time(18, 0), time(18, 30), time(19, 0), time(19, 30), time(20, 0))
CAPACITY_CHOICES = (10, 15, 20, 25, 30)
UPCOMING_SHOWN = 5


# --- texts ------------------------------------------------------------------------------------


def explain(t: Translator, error: ParseError) -> str:
    """A precise sentence saying what to fix."""
    p = error.problem
    if p is ParseProblem.EMPTY:
        return t("Je n'ai rien reçu à enregistrer.")
    if p is ParseProblem.MISSING_TIME:
        return t("Il manque l'heure : écrivez-la après la date, par exemple 02/12/2026 19:00.")
    if p is ParseProblem.MISSING_PLACE:
        return t("Il manque le lieu : ajoutez-le après la date et l'heure, séparé par « | ».")
    if p is ParseProblem.MISSING_THEME:
        return t("Il manque le thème : ajoutez-le après le lieu, séparé par « | ».")
    if p is ParseProblem.TOO_MANY_PARTS:
        return t(
            "Il y a {count} parties séparées par « | » : j'attends la date et l'heure, le lieu, "
            "le thème, et si besoin le nombre de places.",
            count=error.value,
        )
    if p is ParseProblem.BAD_DATE:
        return t(
            "Je ne reconnais pas la date « {value} » : écrivez-la jour/mois/année, "
            "par exemple 02/12/2026 (ou 2026-12-02).",
            value=error.value,
        )
    if p is ParseProblem.IMPOSSIBLE_DATE:
        return t(
            "La date « {value} » n'existe pas dans le calendrier : vérifiez le jour et le mois.",
            value=error.value,
        )
    if p is ParseProblem.BAD_TIME:
        return t(
            "Je ne reconnais pas l'heure « {value} » : écrivez-la par exemple 19:00 ou 19h30.",
            value=error.value,
        )
    if p is ParseProblem.NONEXISTENT_TIME:
        return t(
            "{value} n'existe pas ce jour-là (passage à l'heure d'été) : choisissez une autre "
            "heure.",
            value=error.value,
        )
    if p is ParseProblem.PAST:
        return t("« {value} » est déjà passé : choisissez une date à venir.", value=error.value)
    if p is ParseProblem.TOO_FAR:
        return t("« {value} » est dans plus d'un an : vérifiez l'année.", value=error.value)
    if p is ParseProblem.BAD_CAPACITY:
        return t(
            "« {value} » ne convient pas comme nombre de places : un nombre de 1 à {limit}, "
            "ou 0 pour ne pas limiter.",
            value=error.value,
            limit=error.limit or sessions.CAPACITY_MAX,
        )
    if error.value == "place":
        return t("Le lieu est trop long : {limit} caractères au plus.", limit=error.limit or 0)
    if error.value == "summary":
        return t("Le résumé est trop long : {limit} caractères au plus.", limit=error.limit or 0)
    return t("Le thème est trop long : {limit} caractères au plus.", limit=error.limit or 0)


def one_line_example(t: Translator) -> str:
    return t(
        "Exemple : <code>/nouvelle_seance 02/12/2026 19:00 | Salle du Conseil | "
        "Vidéo et live</code> (ajoutez « | 25 » pour limiter les places)."
    )


def card_text(
    t: Translator, ts: TrainingSession, counts: dict[str, int], library: ContentLibrary
) -> str:
    """The staff's view of a session: when, where, what, and the answers so far."""
    lines = [t("<b>Séance {number}</b>", number=ts.number), reminders.describe(t, ts, library)]
    if ts.capacity:
        lines.append(t("👥 {capacity} places", capacity=ts.capacity))
    lines.append(
        t(
            "✅ {yes} oui · ❌ {no} non · ⏳ {waiting} en attente",
            yes=counts.get(RsvpAnswer.YES.value, 0),
            no=counts.get(RsvpAnswer.NO.value, 0),
            waiting=counts.get(RsvpAnswer.WAITLIST.value, 0),
        )
    )
    if ts.cancelled_at is not None:
        lines.insert(1, t("❌ <b>Annulée</b>"))
    return "\n".join(lines)


def card_buttons(t: Translator, ts: TrainingSession) -> list[list[Button]]:
    if ts.cancelled_at is not None:
        return []
    return [
        [
            Button(t("🕒 Déplacer"), SessionCard(ts.id, "move").pack()),
            Button(t("📍 Changer le lieu"), SessionCard(ts.id, "place").pack()),
        ],
        [
            Button(t("📋 Présences"), Presences(ts.id).pack()),
            Button(t("📆 Agenda (.ics)"), CalendarFile(ts.id).pack()),
        ],
        [Button(t("❌ Annuler la séance"), SessionCard(ts.id, "cancel").pack())],
    ]


def told_text(t: Translator, told: int) -> str:
    if told == 0:
        return t("Personne n'avait encore dit oui : personne à prévenir.")
    return t.plural(
        "{n} personne qui avait dit oui est prévenue.",
        "{n} personnes qui avaient dit oui sont prévenues.",
        told,
    )


async def send_card(
    context: RelaisContext, ts: TrainingSession, counts: dict[str, int], *, intro: str = ""
) -> None:
    """The staff card of a session; `intro` (a heading) opens the same message."""
    t = context.t
    text = card_text(t, ts, counts, context.rt.content)
    await send(
        context,
        f"{intro}\n\n{text}" if intro else text,
        reply_markup=keyboard(card_buttons(t, ts)),
    )
