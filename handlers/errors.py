"""The error handler: log the whole context, apologise to the user, tell the admins.

Admins get at most one message per `ADMIN_ALERT_INTERVAL` (a burst of errors must not
become a burst of messages); the token never appears in what is logged or sent.
"""

from __future__ import annotations

import html
import json
import logging
import traceback
from datetime import datetime, timedelta

from telegram import Update
from telegram.error import Forbidden, NetworkError, TelegramError

from bot.i18n import Translator, normalise_language
from bot.logs import redact
from bot.runtime import RelaisContext

log = logging.getLogger(__name__)
ADMIN_ALERT_INTERVAL = timedelta(minutes=5)


async def on_error(update: object, context: RelaisContext) -> None:
    error = context.error
    if update is None and context.job is None and isinstance(error, TelegramError):
        # A failed getUpdates, which PTB's polling loop reports here each time: the Bot API
        # watch (bot/health.py) logs the outage once, with a count, and /healthz reports it.
        log.debug("polling: %s: %s", type(error).__name__, error)
        return
    token = context.rt.settings.token
    trace = redact("".join(traceback.format_exception(error)) if error else "", [token])
    update_repr = update.to_dict() if isinstance(update, Update) else repr(update)
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("unhandled error update_id=%s\n%s", update_id, trace)

    if (
        isinstance(update, Update)
        and update.effective_chat
        and update.effective_chat.type == "private"
    ):
        t = _translator(update, context)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer()
            await context.bot.send_message(
                update.effective_chat.id,
                t("Oups, quelque chose s'est mal passé de mon côté. Réessayez dans un moment."),
            )
        except TelegramError:
            log.warning("could not tell the user about the error", exc_info=True)

    if isinstance(error, NetworkError | Forbidden):
        return  # Telegram trouble, not ours: the admins cannot act on it.
    await _alert_admins(context, update_repr, trace)


def _translator(update: Update, context: RelaisContext) -> Translator:
    """The person's language, even when the error came before we knew who they are."""
    if context.has_actor:
        return context.t
    settings = context.rt.settings
    user = update.effective_user
    code = user.language_code if user is not None else None
    return context.rt.i18n(normalise_language(code, settings.default_language))


async def _alert_admins(context: RelaisContext, update_repr: object, trace: str) -> None:
    rt = context.rt
    now: datetime = rt.clock.now()
    last = rt.last_admin_alert
    if last is not None and now - last < ADMIN_ALERT_INTERVAL:
        return
    rt.last_admin_alert = now
    details = redact(json.dumps(update_repr, default=str, ensure_ascii=False), [rt.settings.token])
    text = (
        "⚠️ Relais error\n"
        f"<pre>{html.escape(details[:1200])}</pre>\n"
        f"<pre>{html.escape(trace[-2400:])}</pre>"
    )
    for admin_id in rt.settings.admin_ids:
        try:
            await context.bot.send_message(admin_id, text)
        except TelegramError:
            log.warning("could not alert admin %s", admin_id)
