"""The inline buttons that both the outbox and the handlers send, as plain data.

A button is a `Button` (bot/delivery/registry.py): a label in the reader's language and
callback data packed by the codec (bot/callbacks.py). Services return plain data and never
build buttons; the outbox renderers and the handlers build them here, so that a check-in
sent by the outbox and the same card shown by `/objectifs` offer the very same buttons.
bot/keyboards.py turns rows of them into Telegram's keyboard.

Buttons that only one handler shows stay in that handler.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from bot.callbacks import (
    AnswerQuestion,
    GroupOpen,
    KeepMyData,
    Library,
    ObjectiveAction,
    ObjectiveStep,
    Rsvp,
    SessionCard,
    TipVote,
)
from bot.content import Tip
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.models import MeasureKind

Rows = list[list[Button]]

LABEL_DONE = N_("✅ C'est fait")
LABEL_DOING = N_("🚧 En cours")
LABEL_STUCK = N_("😕 Je bloque")
LABEL_NUMBER = N_("➕ Ajouter un nombre")
LABEL_RESUME = N_("🔔 Reprendre les relances")
LABEL_CARRY = N_("🔁 Oui, je le reconduis")
LABEL_NEW = N_("🎯 Un nouvel objectif")
LABEL_DROP = N_("Non merci")
LABEL_REPLY_TO = N_("✍️ Répondre à {name}")
LABEL_GROUP = N_("👥 Voir le groupe")


def label(t: Translator, message: str, **values: object) -> str:
    """A button label: translated and filled *without* HTML escaping (labels are plain text)."""
    return t.raw(message).format(**values)


# --- objectives and check-ins -----------------------------------------------------------------


def checkin_answers(t: Translator, objective_id: int, measure_kind: str) -> Rows:
    """done / doing / stuck (+ "add a number" for a weekly number)."""
    rows = [
        [
            Button(t(LABEL_DONE), ObjectiveAction(objective_id, "done").pack()),
            Button(t(LABEL_DOING), ObjectiveAction(objective_id, "doing").pack()),
        ],
        [Button(t(LABEL_STUCK), ObjectiveAction(objective_id, "stuck").pack())],
    ]
    if measure_kind == MeasureKind.COUNT.value:
        rows[1].append(add_number(t, objective_id))
    return rows


def add_number(t: Translator, objective_id: int) -> Button:
    return Button(t(LABEL_NUMBER), ObjectiveAction(objective_id, "num").pack())


def carry_over(t: Translator, objective_id: int) -> Rows:
    """An objective past its date: carry it over, set a new one, or leave it."""
    return [
        [Button(t(LABEL_CARRY), ObjectiveAction(objective_id, "carry").pack())],
        [new_objective(t), Button(t(LABEL_DROP), ObjectiveAction(objective_id, "drop").pack())],
    ]


def new_objective(t: Translator) -> Button:
    return Button(t(LABEL_NEW), ObjectiveStep("new").pack())


def resume_checkins(t: Translator) -> Button:
    return Button(t(LABEL_RESUME), ObjectiveStep("resume").pack())


# --- questions and the trainer's digest ------------------------------------------------------


def reply_to(t: Translator, question_id: int, name: str) -> Button:
    """For a trainer: answer this merchant's question."""
    return Button(label(t, LABEL_REPLY_TO, name=name), AnswerQuestion(question_id).pack())


def trainer_digest(t: Translator, questions: Iterable[tuple[int, str]]) -> Rows:
    """Reply to each (question id, first name), then see the group."""
    rows = [[reply_to(t, question_id, name)] for question_id, name in questions]
    rows.append([Button(t(LABEL_GROUP), GroupOpen().pack())])
    return rows


# --- sessions ---------------------------------------------------------------------------------


# Marks the answer given on RSVP buttons (their labels already start with ✅ and ❌).
CHOSEN_MARK = "👉 "


def rsvp(t: Translator, session_id: int, chosen: Literal["yes", "no"] | None = None) -> Rows:
    """✅ I'll be there / ❌ I can't come, the answer given (if any) pointed at."""
    yes, no = t("✅ Je serai là"), t("❌ Je ne peux pas venir")
    if chosen == "yes":
        yes = CHOSEN_MARK + yes
    elif chosen == "no":
        no = CHOSEN_MARK + no
    return [
        [Button(yes, Rsvp(session_id, "yes").pack()), Button(no, Rsvp(session_id, "no").pack())]
    ]


def write_summary(t: Translator, session_id: int) -> Rows:
    """For the trainer after a session: the one-line summary."""
    return [[Button(t("✍️ Écrire le résumé"), SessionCard(session_id, "summary").pack())]]


# --- tips -------------------------------------------------------------------------------------


def tip_votes(t: Translator, tip: Tip, chosen: Literal["up", "down"] | None = None) -> Rows:
    """👍 / 👎 (the chosen one ticked), and the tip's link if it has one."""
    up, down = t("👍 Utile"), t("👎 Pas pour moi")
    if chosen == "up":
        up = "✅ " + up
    elif chosen == "down":
        down = "✅ " + down
    rows = [
        [Button(up, TipVote(tip.id, "up").pack()), Button(down, TipVote(tip.id, "down").pack())]
    ]
    link = tip.link_for(t.lang)
    if link:
        rows.append([Button(t("🔗 En savoir plus"), url=link)])
    return rows


def tips_library(t: Translator) -> Rows:
    """For a trainer, under a broadcast's report."""
    return [[Button(t("📚 Envoyer une astuce de la bibliothèque"), Library().pack())]]


# --- privacy ----------------------------------------------------------------------------------


def keep_my_data(t: Translator) -> Rows:
    """The retention warning's "I want to stay"."""
    return [[Button(t("✋ Je veux continuer"), KeepMyData().pack())]]
