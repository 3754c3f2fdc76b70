"""`/defi`: weekly challenges — the member answers with a proof, the trainer sets and follows.

Member (merchant): the challenge arrives through the outbox with "📷 Envoyer ma preuve",
"✅ C'est fait", "⏭ Pas cette fois" (`chal:<id>:proof|done|skip`). A photo, a voice note or a
link sent while a challenge is open is its proof: at once after "📷", otherwise after "Is this
for the challenge …?" (`chal:<id>:this`, `chal:notthis`). Then one question, "May I show it
to the group?" (`chal:<id>:show:yes|no`), changeable from `/defi`, which shows the open
challenge. A photo or voice note with no challenge open gets a kind answer offering
/question and /defi.

Staff (trainer, coordinator): `/defi` lists the challenges with their figures; "➕" picks from
the library by theme (the last session's first) or "✍️" writes one (a small persistent
conversation), then the audience and the timing (now, or each member's tip time; both through
the outbox). A challenge's card shows its submissions — a photo or voice note re-sent by its
`file_id` (never downloaded) — with 👏 bravo (`sub:<id>:bravo`: the member receives a word from
the trainer in their own language) and ⭐ (`sub:<id>:star`, only with the member's consent),
and "📣" to send the showcase now.

The `chal` area is open to members and staff; each handler re-checks the role and the
service re-checks that the challenge reached this member or belongs to this cohort.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.callbacks import (
    CHAL,
    SUB,
    ChallengeAnswerButton,
    ChallengeAudience,
    ChallengeCard,
    ChallengeConsent,
    ChallengeDeadline,
    ChallengeGo,
    ChallengePick,
    ChallengeProofFor,
    ChallengeProofNot,
    ChallengeStaffStep,
    ChallengeTheme,
    SubmissionAction,
)
from bot.runtime import RelaisContext
from handlers.challenges.member import (
    on_answer_button,
    on_consent,
    on_link,
    on_photo,
    on_proof_for,
    on_proof_not,
    on_voice,
)
from handlers.challenges.shared import NEW_MESSAGE, PRIVATE, TYPED, WRITE, stale_chal
from handlers.challenges.staff import (
    cancel_write,
    defi,
    on_audience,
    on_card,
    on_deadline,
    on_go,
    on_pick,
    on_staff_step,
    on_submission,
    on_theme,
    start_write,
    typed_challenge,
)

# --- registration ------------------------------------------------------------------------------


def conversations() -> list[BaseHandler[Update, RelaisContext, Any]]:
    write: ConversationHandler[RelaisContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(start_write, pattern=ChallengeStaffStep.pattern(step="write"))
        ],
        states={WRITE: [MessageHandler(TYPED, typed_challenge)]},
        fallbacks=[CommandHandler("annuler", cancel_write, filters=NEW_MESSAGE)],
        name="challenge_write",
        persistent=True,
        allow_reentry=True,
    )
    return [write]


LINKISH = filters.Regex(
    r"^\s*(?:https?://|www\.|ftp://|[A-Za-z0-9-]+\.(?:com|be|net|org|eu|fr|nl)/)\S*\s*$"
)


def handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    return [
        CommandHandler("defi", defi, filters=NEW_MESSAGE),
        CallbackQueryHandler(on_answer_button, pattern=ChallengeAnswerButton.pattern()),
        CallbackQueryHandler(on_consent, pattern=ChallengeConsent.pattern()),
        CallbackQueryHandler(on_proof_for, pattern=ChallengeProofFor.pattern()),
        CallbackQueryHandler(on_proof_not, pattern=ChallengeProofNot.pattern()),
        CallbackQueryHandler(on_staff_step, pattern=ChallengeStaffStep.pattern()),
        CallbackQueryHandler(on_theme, pattern=ChallengeTheme.pattern()),
        CallbackQueryHandler(on_pick, pattern=ChallengePick.pattern()),
        CallbackQueryHandler(on_audience, pattern=ChallengeAudience.pattern()),
        CallbackQueryHandler(on_deadline, pattern=ChallengeDeadline.pattern()),
        CallbackQueryHandler(on_go, pattern=ChallengeGo.pattern()),
        CallbackQueryHandler(on_card, pattern=ChallengeCard.pattern()),
        CallbackQueryHandler(on_submission, pattern=SubmissionAction.pattern()),
        # Forged or stale `chal:` / `sub:` buttons: a kind "no longer valid", nothing changes.
        CallbackQueryHandler(stale_chal, pattern=CHAL.pattern),
        CallbackQueryHandler(stale_chal, pattern=SUB.pattern),
    ]


def media_handlers() -> list[BaseHandler[Update, RelaisContext, Any]]:
    """Photos, voice notes and links outside a conversation (before the fallbacks)."""
    return [
        MessageHandler(NEW_MESSAGE & PRIVATE & filters.PHOTO, on_photo),
        MessageHandler(NEW_MESSAGE & PRIVATE & filters.VOICE, on_voice),
        MessageHandler(NEW_MESSAGE & PRIVATE & filters.TEXT & ~filters.COMMAND & LINKISH, on_link),
    ]
