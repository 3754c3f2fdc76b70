"""The merchant's progress: the monthly check (`/point`, `pt:` buttons) and `/progres`.

The check is a persistent conversation "progress" with one state, ASKING, so that a number
typed while a number is asked ("environ 200") answers that question and nothing else. Its
questions come from the observations themselves (bot/services/progress.py): the handler asks
the first one of this month without an answer, each button or typed number stores one row,
and the same message moves on to the next question. Entry points: `/point`, the invitation's
"📈 C'est parti" (`pt:start`, sent at the end of onboarding, with the first tips and by the
monthly message), and any answer button (a button of an earlier message: the service says
whether it still counts).

    /point | pt:start -> ASKING --(range | yes/no | typed number)--> ASKING ... -> thanks, END
                         ASKING --(pt:stop | /annuler)--> END (answers so far are kept)
    pt:later (the invitation) -> "later", END

`/progres` sends the chart (bot/reports/progress_chart.py) with one warm sentence on the
change, the practices adopted before -> now and the objectives reached; with a single month of
answers, a kind "next month you will see the curve".

Callback data: `pt:start|later|stop`, `pt:<YYYYMM>:f|p|c:r:<range>`,
`pt:<YYYYMM>:q:<practice id>:yes|no` (untrusted: the month, the question and the member are
re-checked by the service).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
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

from bot.callbacks import PT, ProgressPractice, ProgressRange, ProgressStep
from bot.delivery.registry import Button
from bot.i18n import N_, Translator
from bot.keyboards import keyboard
from bot.models import ObservationSource
from bot.reports import progress_chart
from bot.runtime import RelaisContext
from bot.services import members
from bot.services import progress as pg
from handlers import fallback
from handlers.common import answer_callback, answer_stale, drop_buttons, send, show
from handlers.menu import ANY_MENU_BUTTON

ASKING = "asking"
END = ConversationHandler.END
# user_data: when the last question was shown. A text typed long after (the member left the
# check half-way) is not taken as an answer: the conversation ends and the text is answered
# as any other text would be.
ASKED_AT = "progress_asked_at"
ANSWER_WINDOW = timedelta(hours=2)
NEW_MESSAGE = filters.UpdateType.MESSAGE
TYPED = NEW_MESSAGE & filters.TEXT & ~filters.COMMAND & ~ANY_MENU_BUTTON

MILESTONES = {
    pg.Milestone.FIRST_VIDEO: N_("🎬 Votre première vidéo courte : bravo, c'est un vrai cap !"),
    pg.Milestone.FIRST_LIVE: N_("🔴 Votre premier direct : chapeau, il fallait oser !"),
    pg.Milestone.PRACTICES_DOUBLED: N_(
        "🌱 Vous avez doublé vos bonnes pratiques depuis le début. Superbe progression !"
    ),
    pg.Milestone.FOLLOWERS_100: N_("🎉 100 abonnés ! Votre page prend sa place."),
    pg.Milestone.FOLLOWERS_500: N_("🎉 500 abonnés ! Quel chemin parcouru."),
    pg.Milestone.FOLLOWERS_1000: N_("🏆 1 000 abonnés ! Votre page compte dans le quartier."),
}
METRIC_TITLES = {
    pg.FOLLOWERS: N_("Abonnés de la page"),
    pg.POSTS: N_("Publications sur 7 jours"),
    pg.CUSTOMERS: N_("Clients venus grâce à la page, par mois"),
}


def _asking(context: RelaisContext) -> str:
    context.store[ASKED_AT] = context.rt.clock.now().isoformat()
    return ASKING


def _ended(context: RelaisContext) -> int:
    context.store.pop(ASKED_AT, None)
    return END


def _answer_window_open(context: RelaisContext) -> bool:
    asked = context.store.get(ASKED_AT)
    try:
        asked_at = datetime.fromisoformat(asked) if isinstance(asked, str) else None
    except ValueError:
        asked_at = None
    return asked_at is not None and context.rt.clock.now() - asked_at <= ANSWER_WINDOW


def _zone(context: RelaisContext) -> ZoneInfo:
    return ZoneInfo(context.actor.zone)


def _period(context: RelaisContext) -> str:
    return pg.period_of(context.rt.clock.now(), _zone(context))


def month_name(t: Translator, period: str) -> str:
    """ "septembre" (standalone month name in the reader's language)."""
    return format_date(pg.period_start(period), "LLLL", locale=t.locale)


def month_tick(t: Translator, period: str) -> str:
    start: date = pg.period_start(period)
    return format_date(start, "LLL yy", locale=t.locale)


# --- the check ----------------------------------------------------------------------------


async def _edit_or_send(
    update: Update, context: RelaisContext, text: str, rows: Sequence[Sequence[Button]]
) -> None:
    """Replace the pressed message (a button) or answer with a new message (typed text)."""
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=keyboard(rows))
            return
        except BadRequest:
            pass
    await show(update, text, rows, edit=False)


async def start_check(update: Update, context: RelaisContext) -> str | int:
    """`/point` or "📈 C'est parti": the first question of this month without an answer."""
    await answer_callback(update)
    me = context.merchant
    period = _period(context)
    async with context.rt.db.unit_of_work() as session:
        question = await pg.current_question(session, context.rt.content, me.member_id, period)
    t = context.t
    if question is None:
        await _edit_or_send(
            update,
            context,
            t(
                "Vous avez déjà fait le point ce mois-ci ✅ Merci ! "
                "On se retrouve le mois prochain. Vos progrès : /progres"
            ),
            [],
        )
        return _ended(context)
    await _edit_or_send(
        update,
        context,
        pg.question_text(t, context.rt.content, question),
        pg.question_buttons(t, question),
    )
    return _asking(context)


async def _record(
    update: Update, context: RelaisContext, metric: str, value: int, period: str
) -> str | int:
    me = context.merchant
    t = context.t
    async with context.rt.db.unit_of_work() as session:
        outcome = await pg.record_answer(
            session,
            context.rt.content,
            member_id=me.member_id,
            cohort_id=me.cohort_id,
            period=period,
            metric=metric,
            value=value,
            now=context.rt.clock.now(),
            zone=_zone(context),
        )
        member = await members.get(session, me.member_id) if outcome.following is None else None
    if outcome.status is pg.AnswerStatus.STALE:
        await answer_stale(update, t)
        return _asking(context) if outcome.following is not None else _ended(context)
    await answer_callback(update)
    lines = [t(MILESTONES[milestone]) for milestone in outcome.milestones]
    if outcome.following is not None:
        text = pg.question_text(t, context.rt.content, outcome.following)
        if lines:
            text = "\n".join(lines) + "\n\n" + text
        await _edit_or_send(update, context, text, pg.question_buttons(t, outcome.following))
        return _asking(context)
    name = member.first_name if member is not None else ""
    if outcome.source is ObservationSource.BASELINE:
        lines.append(
            t(
                "Merci {name}, voilà votre point de départ ✅\n"
                "Le mois prochain, je vous reposerai ces questions (une minute) : "
                "vous verrez votre courbe se dessiner 📈",
                name=name,
            )
        )
    else:
        lines.append(
            t(
                "Merci {name}, c'est noté ✅ Rendez-vous le mois prochain.\n"
                "Votre courbe de progrès : /progres",
                name=name,
            )
        )
    await _edit_or_send(update, context, "\n\n".join(lines), [])
    return _ended(context)


async def chose_range(update: Update, context: RelaisContext) -> str | int:
    query = update.callback_query
    button = ProgressRange.parse(query.data if query else None)
    metric = pg.METRIC_OF_SHORT.get(button.metric) if button is not None else None
    value = pg.range_value(metric, button.index) if button is not None and metric else None
    if button is None or metric is None or value is None:
        await answer_stale(update, context.t)
        return ASKING
    period = f"{button.period[:4]}-{button.period[4:]}"
    return await _record(update, context, metric, value, period)


async def chose_practice(update: Update, context: RelaisContext) -> str | int:
    query = update.callback_query
    button = ProgressPractice.parse(query.data if query else None)
    if button is None:
        await answer_stale(update, context.t)
        return ASKING
    period = f"{button.period[:4]}-{button.period[4:]}"
    metric = pg.practice_metric(button.practice)
    return await _record(update, context, metric, 1 if button.answer == "yes" else 0, period)


async def typed_number(update: Update, context: RelaisContext) -> str | int:
    """A number typed where a number is asked; anything else: a kind re-ask with the buttons."""
    if not _answer_window_open(context):
        # The check was left half-way a while ago: this text is about something else.
        _ended(context)
        await fallback.on_text(update, context)
        return END
    me = context.merchant
    t = context.t
    period = _period(context)
    async with context.rt.db.unit_of_work() as session:
        question = await pg.current_question(session, context.rt.content, me.member_id, period)
    if question is None:
        await send(context, t("Ce point est terminé ✅ Pour voir vos progrès : /progres"))
        return _ended(context)
    text = pg.question_text(t, context.rt.content, question)
    rows = pg.question_buttons(t, question)
    if not question.is_number:
        await show(
            update,
            t("Pour celle-ci, un bouton suffit 🙂") + "\n\n" + text,
            rows,
            edit=False,
        )
        return _asking(context)
    parsed = pg.parse_number(context.message.text or "", question.metric)
    if parsed.value is None:
        if parsed.problem is pg.NumberProblem.TOO_BIG:
            sorry = t(
                "Ce nombre me paraît bien grand 🤔 Vérifiez-le, ou touchez la tranche qui "
                "correspond (maximum {limit}).",
                limit=pg.BOUNDS[question.metric],
            )
        elif parsed.problem is pg.NumberProblem.NEGATIVE:
            sorry = t("Un nombre à partir de 0, s'il vous plaît 🙂")
        else:
            sorry = t(
                "Je n'ai pas trouvé de nombre 🙂 Un chiffre approximatif suffit, "
                "ou touchez une tranche."
            )
        await show(update, sorry + "\n\n" + text, rows, edit=False)
        return _asking(context)
    return await _record(update, context, question.metric, parsed.value, period)


async def later(update: Update, context: RelaisContext) -> int:
    """The invitation's "Plus tard": nothing is stored; the first tips offer it again."""
    await answer_callback(update)
    await drop_buttons(update)
    me = context.merchant
    async with context.rt.db.unit_of_work() as session:
        started = await pg.has_answers(session, me.member_id)
    t = context.t
    if started:
        text = t("D'accord, ce sera pour une autre fois. Quand vous voulez : /point")
    else:
        text = t(
            "D'accord ! Je vous le proposerai à nouveau avec vos premières astuces. "
            "Et quand vous voulez : /point"
        )
    await send(context, text)
    return _ended(context)


async def stop(update: Update, context: RelaisContext) -> int:
    await answer_callback(update)
    t = context.t
    await _edit_or_send(
        update,
        context,
        t("C'est noté, on s'arrête là : vos réponses sont gardées. Pour finir : /point"),
        [],
    )
    return _ended(context)


async def other_step(update: Update, context: RelaisContext) -> str:
    await answer_stale(update, context.t)
    return ASKING


# --- /progres --------------------------------------------------------------------------------


def change_sentence(t: Translator, data: pg.ProgressData) -> str | None:
    """One warm sentence on the change of the number that says the most."""
    sentences = {
        pg.CUSTOMERS: N_(
            "Depuis {month} : {before} → {after} clients venus grâce à la page par mois"
        ),
        pg.FOLLOWERS: N_("Depuis {month} : {before} → {after} abonnés sur votre page"),
        pg.POSTS: N_("Depuis {month} : {before} → {after} publications par semaine"),
    }
    changes = {metric: data.change(metric) for metric in pg.NUMBERS}
    moved = [m for m in (pg.CUSTOMERS, pg.FOLLOWERS, pg.POSTS) if (c := changes[m]) and c[2] > c[1]]
    known = [m for m in (pg.CUSTOMERS, pg.FOLLOWERS, pg.POSTS) if changes[m]]
    if not (moved or known):
        return None
    chosen = (moved or known)[0]
    change = changes[chosen]
    assert change is not None
    first, before, after = change
    icon = "📈 " if after > before else ""
    return icon + t(sentences[chosen], month=month_name(t, first), before=before, after=after)


def summary_lines(t: Translator, data: pg.ProgressData, total_practices: int) -> list[str]:
    lines = [
        t(
            "✅ Bonnes pratiques : {before} → {now} sur {total}",
            before=len(data.practices_before),
            now=len(data.practices_now),
            total=total_practices,
        ),
        t("🎯 Objectifs atteints : {n}", n=data.objectives_reached),
    ]
    if data.challenges_done is not None:
        lines.append(t("🏅 Défis relevés : {n}", n=data.challenges_done))
    return lines


async def show_progress(update: Update, context: RelaisContext) -> None:
    me = context.merchant
    t = context.t
    period = _period(context)
    async with context.rt.db.unit_of_work() as session:
        data = await pg.member_progress(session, me.member_id, until=period)
    total = len(context.rt.content.practices)
    message = context.message
    if data.months_answered == 0:
        await message.reply_text(
            t(
                "Pas encore de chiffres pour dessiner votre courbe. "
                "Faites votre premier point, une minute suffit 🙂"
            ),
            reply_markup=_start_keyboard(t),
        )
        return
    if data.months_answered == 1:
        numbers = [
            t(
                "• {title} : {value}",
                title=t(METRIC_TITLES[metric]),
                value=next((v for v in data.series[metric] if v is not None), "–"),
            )
            for metric in pg.NUMBERS
        ]
        await message.reply_text(
            "\n".join(
                [
                    t("📍 <b>Votre point de départ</b>"),
                    *numbers,
                    t(
                        "✅ Bonnes pratiques déjà en place : {n} sur {total}",
                        n=len(data.practices_now),
                        total=total,
                    ),
                    *summary_lines(t, data, total)[1:],
                    "",
                    t(
                        "Le mois prochain, avec un deuxième point, vous verrez la courbe "
                        "se dessiner 📈"
                    ),
                ]
            )
        )
        return
    labels = progress_chart.ProgressChartLabels(
        title=t("Mes progrès"),
        metrics={metric: t(METRIC_TITLES[metric]) for metric in pg.NUMBERS},
        months={p: month_tick(t, p) for p in data.periods},
    )
    png = progress_chart.progress_chart(data.periods, data.series, labels)
    caption = [t("<b>Vos progrès</b>")]
    sentence = change_sentence(t, data)
    if sentence:
        caption.append(sentence)
    caption += summary_lines(t, data, total)
    await context.bot.send_photo(
        context.chat_id, InputFile(png, filename="progres.png"), caption="\n".join(caption)
    )


def _start_keyboard(t: Translator) -> InlineKeyboardMarkup | None:
    return keyboard([[Button(t(pg.LABEL_START), ProgressStep("start").pack())]])


# --- registration ----------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    check: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CommandHandler("point", start_check, filters=NEW_MESSAGE),
            CallbackQueryHandler(start_check, pattern=ProgressStep.pattern(step="start")),
            CallbackQueryHandler(chose_range, pattern=ProgressRange.pattern()),
            CallbackQueryHandler(chose_practice, pattern=ProgressPractice.pattern()),
        ],
        states={
            ASKING: [
                CallbackQueryHandler(chose_range, pattern=ProgressRange.pattern()),
                CallbackQueryHandler(chose_practice, pattern=ProgressPractice.pattern()),
                MessageHandler(TYPED, typed_number),
            ],
        },
        fallbacks=[
            CallbackQueryHandler(stop, pattern=ProgressStep.pattern(step="stop")),
            CallbackQueryHandler(later, pattern=ProgressStep.pattern(step="later")),
            CommandHandler("annuler", stop, filters=NEW_MESSAGE),
            CallbackQueryHandler(other_step, pattern=PT.pattern),
        ],
        name="progress",
        persistent=True,
        allow_reentry=True,
    )
    return [check]


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("progres", show_progress, filters=NEW_MESSAGE),
        CallbackQueryHandler(later, pattern=ProgressStep.pattern(step="later")),
        CallbackQueryHandler(stop, pattern=ProgressStep.pattern(step="stop")),
        CallbackQueryHandler(other_step, pattern=PT.pattern),
    ]
