"""Attendance: the check-in QR code, the roll call, and `/presences`.

- `/qr` (staff): for the current or next session, a QR code of
  `https://t.me/<bot>?start=checkin_<token>` and the link itself.
- `/start checkin_<token>`: records the scanner's presence (method: qr), once, within the
  session's check-in window; outside it, it says so kindly. This handler is registered
  before the onboarding's `/start` handlers (see handlers/__init__.py).
- `/appel [n]` (trainer): everyone who could be in the room as toggle buttons
  (`roll:<session_id>:<member_id>`), pages of `ROLL_PAGE` (`roll:<session_id>:p:<page>`),
  and "add a name" (`roll:<session_id>:add`) for someone who never joined the bot: a short
  persistent conversation asks for the name.
- `/presences [n]` (staff; `pres:<session_id>` from a card): present (with method), said yes
  but absent, said no, waiting list, no answer.

Every callback re-reads the session within the actor's active cohort: ids are untrusted.
"""

from __future__ import annotations

import logging
import re
from html import escape
from typing import Any

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.helpers import create_deep_linked_url

from bot.callbacks import ROLL, Presences, RollAdd, RollPage, RollToggle
from bot.content import ContentLibrary
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.keyboards import keyboard
from bot.models import AttendanceMethod, RsvpAnswer, TrainingSession
from bot.qr import qr_png
from bot.runtime import RelaisContext
from bot.services import attendance, reminders, sessions
from bot.services.attendance import CheckinStatus, PresenceReport, RollEntry
from bot.services.cohorts import JOIN_PREFIX
from bot.services.validation import InvalidValue
from handlers.common import answer_callback, answer_stale, clicked, clicked_in, send, typed_number
from handlers.menu import ANY_MENU_BUTTON, menu_button

log = logging.getLogger(__name__)

NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON
CHECKIN_PREFIX = "checkin_"
_CHECKIN = re.compile(rf"^/start(@\w+)?\s+{CHECKIN_PREFIX}([A-Za-z0-9_-]{{1,56}})\s*$")
_CHECKIN_ANY = re.compile(rf"^/start(@\w+)?\s+{CHECKIN_PREFIX}")

# Buttons per page of the roll call (Telegram allows 100; a phone screen shows ~20).
ROLL_PAGE = 20
NAME_SHOWN = 40
# State of the add-a-name conversation, and its context.user_data key.
ROLL_NAME = "roll_name"
ADDING = "roll_add"
# Names listed per group in /presences before "… and n others" (stays under 4096).
LISTED = 60

METHOD_LABELS = {
    AttendanceMethod.QR: N_("QR"),
    AttendanceMethod.ROLL_CALL: N_("appel"),
    AttendanceMethod.MANUAL: N_("ajouté par nom"),
}


def checkin_link(bot_username: str, ts: TrainingSession) -> str:
    return create_deep_linked_url(bot_username, f"{CHECKIN_PREFIX}{ts.checkin_token}")


def _moment(t: Translator, instant: Any, reference: Any) -> str:
    """ "19 h 00" on the same day as `reference`, else the date and the time."""
    same_day = t.local(instant).date() == t.local(reference).date()
    return t.time(instant) if same_day else t.when(instant)


# --- /start checkin_<token> -------------------------------------------------------------------


async def check_in(update: Update, context: RelaisContext) -> None:
    message = context.message
    t = context.t
    rt = context.rt
    now = rt.clock.now()
    match = _CHECKIN.match(context.text)
    async with rt.db.unit_of_work() as session:
        outcome = await attendance.check_in(
            session,
            token=match.group(2) if match else "",
            member_id=context.actor.member_id,
            now=now,
            settings=rt.settings,
        )
        zone = (
            await sessions.cohort_zone(session, outcome.session.cohort_id, rt.settings.timezone)
            if outcome.session
            else None
        )
    ts = outcome.session
    if ts is None or outcome.status is CheckinStatus.UNKNOWN:
        await message.reply_text(
            t(
                "🤔 Ce code de présence n'est pas valable. Demandez au formateur de montrer "
                "à nouveau le QR code."
            )
        )
        return
    t = reminders.in_cohort_zone(t, zone)
    status = outcome.status
    if status is CheckinStatus.RECORDED:
        text = t(
            "✅ Présence enregistrée pour la séance {number} « {theme} ». Bonne séance !",
            number=ts.number,
            theme=reminders.theme_of(ts, t.lang, context.rt.content),
        )
    elif status is CheckinStatus.ALREADY:
        text = t(
            "👍 Votre présence à la séance {number} est déjà enregistrée. Bonne séance !",
            number=ts.number,
        )
    elif status is CheckinStatus.TOO_EARLY:
        assert outcome.opens_at is not None
        text = t(
            "⏳ C'est un peu tôt : la séance {number} commence {when}. L'enregistrement ouvre "
            "à {opens} : scannez à nouveau à ce moment-là 🙂",
            number=ts.number,
            when=t.when(ts.starts_at),
            opens=_moment(t, outcome.opens_at, ts.starts_at),
        )
    elif status is CheckinStatus.TOO_LATE:
        assert outcome.closes_at is not None
        text = t(
            "⌛ L'enregistrement de la séance {number} est fermé depuis {closes}. Si vous étiez "
            "là, dites-le au formateur : il peut vous ajouter.",
            number=ts.number,
            closes=_moment(t, outcome.closes_at, now),
        )
    elif status is CheckinStatus.CANCELLED:
        text = t("Cette séance a été annulée.")
    elif status is CheckinStatus.STAFF:
        text = t(
            "Le lien fonctionne ✅ Vous faites partie de l'équipe : votre présence n'est pas "
            "comptée."
        )
    else:
        text = t(
            "Pour enregistrer votre présence, rejoignez d'abord le groupe avec le bouton "
            "ci-dessous, puis scannez à nouveau le QR code."
        )
        bot_username = context.bot.username
        if outcome.join_code and bot_username:
            url = create_deep_linked_url(bot_username, f"{JOIN_PREFIX}{outcome.join_code}")
            markup = keyboard([[Button(t("👋 Rejoindre le groupe"), url=url)]])
            await message.reply_text(text, reply_markup=markup)
            return
    await message.reply_text(text)


# --- /qr --------------------------------------------------------------------------------------


async def show_qr(update: Update, context: RelaisContext) -> None:
    message = context.message
    t = context.t
    rt = context.rt
    cohort_id = context.actor.active_cohort_id
    ts = None
    if cohort_id is not None:
        async with rt.db.unit_of_work() as session:
            ts = await sessions.current_or_next(session, cohort_id, rt.clock.now(), rt.settings)
    if ts is None:
        await message.reply_text(
            t("Aucune séance n'est prévue. Planifiez-en une avec /nouvelle_seance.")
        )
        return
    link = checkin_link(context.bot.username, ts)
    opens, closes = sessions.checkin_window(ts, rt.settings)
    caption = t(
        "📱 <b>Présence à la séance {number}</b>\n{when}\n\n"
        "Scannez ce QR code avec l'appareil photo de votre téléphone. "
        "Il fonctionne de {opens} à {closes}.\n{link}",
        number=ts.number,
        when=t.when(ts.starts_at),
        opens=t.time(opens),
        closes=t.time(closes),
        link=link,
    )
    await context.bot.send_photo(
        context.chat_id,
        InputFile(qr_png(link), filename=f"presence-{ts.number}.png"),
        caption=caption,
    )


# --- /appel -----------------------------------------------------------------------------------


def roll_text(t: Translator, ts: TrainingSession, entries: list[RollEntry], page: int) -> str:
    present = sum(entry.present for entry in entries)
    text = t(
        "<b>Appel — séance {number}</b>\n{when}\n\n{present} présents sur {total}. "
        "Touchez un nom pour le cocher ou le décocher (👍 : a dit oui).",
        number=ts.number,
        when=t.when(ts.starts_at),
        present=present,
        total=len(entries),
    )
    pages = max(1, -(-len(entries) // ROLL_PAGE))
    if pages > 1:
        text += "\n" + t("Page {page} sur {pages}", page=page + 1, pages=pages)
    return text


def roll_markup(
    t: Translator, ts: TrainingSession, entries: list[RollEntry], page: int
) -> InlineKeyboardMarkup | None:
    pages = max(1, -(-len(entries) // ROLL_PAGE))
    page = min(max(page, 0), pages - 1)
    rows: list[list[Button]] = []
    for entry in entries[page * ROLL_PAGE : (page + 1) * ROLL_PAGE]:
        name = entry.name if len(entry.name) <= NAME_SHOWN else entry.name[: NAME_SHOWN - 1] + "…"
        mark = "✅" if entry.present else "⬜"
        said = " 👍" if entry.answer is RsvpAnswer.YES else ""
        rows.append([Button(f"{mark} {name}{said}", RollToggle(ts.id, entry.member_id).pack())])
    nav: list[Button] = []
    if page > 0:
        nav.append(Button("◀️", RollPage(ts.id, page - 1).pack()))
    if page < pages - 1:
        nav.append(Button("▶️", RollPage(ts.id, page + 1).pack()))
    if nav:
        rows.append(nav)
    rows.append([Button(t("➕ Ajouter un nom"), RollAdd(ts.id).pack())])
    return keyboard(rows)


def _page_of(entries: list[RollEntry], member_id: int) -> int:
    for index, entry in enumerate(entries):
        if entry.member_id == member_id:
            return index // ROLL_PAGE
    return 0


async def roll_call(update: Update, context: RelaisContext) -> None:
    message = context.message
    t = context.t
    found = await _session_from_args(update, context, default="current")
    if found is None:
        return
    async with context.rt.db.unit_of_work() as session:
        entries = await attendance.roll_call(session, found)
    await message.reply_text(
        roll_text(t, found, entries, 0), reply_markup=roll_markup(t, found, entries, 0)
    )


async def _roll_session(
    update: Update, context: RelaisContext
) -> tuple[TrainingSession, RollToggle | RollPage | RollAdd] | None:
    """The session of the pressed `roll:` button, in the actor's cohort, and the button."""
    button = clicked_in(update, ROLL)
    ts = None
    if isinstance(button, RollToggle | RollPage | RollAdd):
        async with context.rt.db.unit_of_work() as session:
            ts = await sessions.get_in_cohort(
                session, button.session_id, context.actor.active_cohort_id
            )
    if ts is None or not isinstance(button, RollToggle | RollPage | RollAdd):
        await answer_stale(update, context.t)
        return None
    return ts, button


async def on_roll_button(update: Update, context: RelaisContext) -> None:
    """`roll:<sid>:<member_id>` (toggle) or `roll:<sid>:p:<page>` (another page)."""
    found = await _roll_session(update, context)
    if found is None:
        return
    ts, button = found
    t = context.t
    rt = context.rt
    if ts.cancelled_at is not None:
        await answer_callback(update, t("Cette séance a été annulée."), alert=True)
        return
    page: int | None = None
    note: str | None = None
    async with rt.db.unit_of_work() as session:
        if isinstance(button, RollPage):
            page = button.page
        elif isinstance(button, RollToggle):
            present = await attendance.toggle(
                session,
                ts=ts,
                member_id=button.member_id,
                by_id=context.actor.member_id,
                now=rt.clock.now(),
            )
            if present is not None:
                note = t("✅ Présent") if present else t("⬜ Retiré des présents")
        entries = await attendance.roll_call(session, ts)
        if note is not None and isinstance(button, RollToggle):
            page = _page_of(entries, button.member_id)
    if page is None:
        await answer_stale(update, t)
        return
    await answer_callback(update, note)
    query = context.query
    try:
        await query.edit_message_text(
            roll_text(t, ts, entries, page), reply_markup=roll_markup(t, ts, entries, page)
        )
    except BadRequest:
        log.debug("roll call unchanged", exc_info=True)


async def ask_name(update: Update, context: RelaisContext) -> str | int:
    found = await _roll_session(update, context)
    if found is None:
        return ConversationHandler.END
    ts, _ = found
    await answer_callback(update)
    context.store[ADDING] = ts.id
    await send(
        context,
        context.t(
            "✍️ Le nom de la personne présente qui n'utilise pas le bot (prénom et nom) ? "
            "(/annuler pour arrêter)"
        ),
    )
    return ROLL_NAME


async def typed_name(update: Update, context: RelaisContext) -> str | int:
    message = context.message
    t = context.t
    rt = context.rt
    session_id = context.store.get(ADDING)
    async with rt.db.unit_of_work() as session:
        ts = (
            await sessions.get_in_cohort(session, session_id, context.actor.active_cohort_id)
            if isinstance(session_id, int)
            else None
        )
        if ts is None:
            context.store.pop(ADDING, None)
            return ConversationHandler.END
        problem: InvalidValue | None = None
        try:
            person = await attendance.add_by_name(
                session, ts=ts, name=context.text, by_id=context.actor.member_id, now=rt.clock.now()
            )
        except InvalidValue as exc:
            problem = exc
        entries = await attendance.roll_call(session, ts)
    if problem is not None:
        await message.reply_text(
            t("Ce nom est trop long : {limit} caractères au plus.", limit=problem.limit)
            if problem.too_long
            else t("Je n'ai pas reçu de nom. Réessayez, ou /annuler.")
        )
        return ROLL_NAME
    context.store.pop(ADDING, None)
    await message.reply_text(t("✅ {name} : présence enregistrée.", name=person.first_name))
    page = _page_of(entries, person.id)
    await message.reply_text(
        roll_text(t, ts, entries, page), reply_markup=roll_markup(t, ts, entries, page)
    )
    return ConversationHandler.END


async def cancel_name(update: Update, context: RelaisContext) -> int:
    context.store.pop(ADDING, None)
    await send(context, context.t("D'accord, je n'ai ajouté personne."))
    return ConversationHandler.END


# --- /presences -------------------------------------------------------------------------------


async def _session_from_args(
    update: Update, context: RelaisContext, *, default: str
) -> TrainingSession | None:
    """Session n from `/command n`, else the default one ("current" or "latest")."""
    message = context.message
    t = context.t
    rt = context.rt
    cohort_id = context.actor.active_cohort_id
    if cohort_id is None:
        await message.reply_text(t("Vous ne faites partie d'aucun groupe pour le moment."))
        return None
    parts = (message.text or "").split()
    argument = parts[1] if len(parts) > 1 and (message.text or "").startswith("/") else None
    now = rt.clock.now()
    async with rt.db.unit_of_work() as session:
        if argument is not None:
            number = typed_number(argument)
            if number is None:
                await message.reply_text(
                    t("Donnez le numéro de la séance, par exemple /presences 3.")
                )
                return None
            ts = await sessions.by_number(session, cohort_id, number)
            if ts is None:
                await message.reply_text(
                    t("Il n'y a pas de séance {number} dans ce groupe.", number=number)
                )
                return None
            return ts
        if default == "current":
            ts = await sessions.current_or_next(session, cohort_id, now, rt.settings)
            ts = ts or await sessions.latest_started(session, cohort_id, now)
        else:
            ts = await sessions.latest_started(session, cohort_id, now)
    if ts is None:
        await message.reply_text(
            t("Aucune séance n'a encore eu lieu.")
            if default == "latest"
            else t("Aucune séance n'est prévue. Planifiez-en une avec /nouvelle_seance.")
        )
    return ts


def _names(t: Translator, names: list[str]) -> str:
    # Names are typed by people: escaped, so that "Fleurs & <Cie>" cannot break the HTML.
    shown = ", ".join(escape(name) for name in names[:LISTED])
    if len(names) > LISTED:
        shown += " " + t("… et {count} autres", count=len(names) - LISTED)
    return shown


def report_text(t: Translator, report: PresenceReport, library: ContentLibrary) -> str:
    ts = report.session
    lines = [
        t("<b>Présences — séance {number}</b>", number=ts.number),
        t(
            "{when} · {theme}",
            when=t.when(ts.starts_at),
            theme=reminders.theme_of(ts, t.lang, library),
        ),
    ]
    if ts.cancelled_at is not None:
        lines.append(t("❌ <b>Annulée</b>"))
    present = [f"{name} ({t.raw(METHOD_LABELS[method])})" for name, method in report.present]
    groups = [
        (t("✅ Présents ({count})", count=len(present)), present),
        (
            t("🤷 Ont dit oui mais absents ({count})", count=len(report.yes_absent)),
            report.yes_absent,
        ),
        (t("❌ Ont dit non ({count})", count=len(report.said_no)), report.said_no),
    ]
    if report.waitlist:
        groups.append(
            (t("⏳ Liste d'attente ({count})", count=len(report.waitlist)), report.waitlist)
        )
    groups.append((t("❔ Sans réponse ({count})", count=len(report.no_answer)), report.no_answer))
    for title, names in groups:
        lines.append("")
        lines.append(f"<b>{title}</b>")
        lines.append(_names(t, names) if names else "—")
    text = "\n".join(lines)
    return text if len(text) <= 4096 else text[:4000] + "…"


async def presences(update: Update, context: RelaisContext) -> None:
    message = context.message
    ts = await _session_from_args(update, context, default="latest")
    if ts is None:
        return
    async with context.rt.db.unit_of_work() as session:
        report = await attendance.presence_report(session, ts)
    await message.reply_text(report_text(context.t, report, context.rt.content))


async def on_presences_button(update: Update, context: RelaisContext) -> None:
    button = clicked(update, Presences)
    ts = None
    async with context.rt.db.unit_of_work() as session:
        if button is not None:
            ts = await sessions.get_in_cohort(
                session, button.session_id, context.actor.active_cohort_id
            )
        report = await attendance.presence_report(session, ts) if ts else None
    if report is None:
        await answer_stale(update, context.t)
        return
    await answer_callback(update)
    await send(context, report_text(context.t, report, context.rt.content))


# --- registration -----------------------------------------------------------------------------


def checkin_handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    """`/start checkin_<token>`: must come before the onboarding's `/start` handlers."""
    return [CommandHandler("start", check_in, filters=NEW_MESSAGE & filters.Regex(_CHECKIN_ANY))]


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    adding: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[CallbackQueryHandler(ask_name, pattern=RollAdd.pattern())],
        states={ROLL_NAME: [MessageHandler(TYPED, typed_name)]},
        fallbacks=[CommandHandler("annuler", cancel_name, filters=NEW_MESSAGE)],
        name="roll_add",
        persistent=True,
        allow_reentry=True,
    )
    return [adding]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("qr", show_qr, filters=NEW_MESSAGE),
        CommandHandler("appel", roll_call, filters=NEW_MESSAGE),
        CommandHandler("presences", presences, filters=NEW_MESSAGE),
        MessageHandler(NEW_MESSAGE & menu_button("presences"), presences),
        CallbackQueryHandler(on_roll_button, pattern=ROLL.pattern),
        CallbackQueryHandler(on_presences_button, pattern=Presences.pattern()),
    ]
