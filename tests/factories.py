"""The one place that builds test data: cohorts, members, enrolments, staff roles, training
sessions, RSVPs and objectives (one builder per model, as in FastAPI's full-stack template).

Builders take the open unit of work (`tx`), add and flush, and never commit: the test owns
the transaction. Telegram ids, chat ids and join codes are unique within a test run.
"""

from __future__ import annotations

from functools import cache

from bot.content import ContentLibrary, load_for_bot


@cache
def content_library() -> ContentLibrary:
    """The real tips library and curriculum, read once per test run (it is immutable)."""
    return load_for_bot()
