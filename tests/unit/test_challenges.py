"""The challenges service (bot/services/challenges.py): links, the coaching loop (a challenge
done ends a silence and counts for the streak), the figures other features read, and the
library challenge the booster phase starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import load
from bot.db import Database
from bot.models import (
    Challenge,
    ChallengeAnswer,
    Cohort,
    Delivery,
    Member,
    ObjectiveCheckin,
    ProofKind,
)
from bot.services import challenges, checkins
from bot.services import objectives as objs
from tests.factories import make_cohort, make_member, make_objective

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BRUSSELS = ZoneInfo("Europe/Brussels")
LIBRARY = load()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.facebook.com/salon/posts/1", "https://www.facebook.com/salon/posts/1"),
        ("  http://example.be/x  ", "http://example.be/x"),
        ("ftp://example.com/file", challenges.LinkProblem.SCHEME),
        ("www.facebook.com/salon", challenges.LinkProblem.SCHEME),
        ("javascript:alert(1)", challenges.LinkProblem.SCHEME),
        ("https://" + "a" * 995 + ".be", challenges.LinkProblem.TOO_LONG),
    ],
)
def test_a_proof_link_is_http_or_https_and_at_most_1000_characters(
    text: str, expected: str | challenges.LinkProblem
) -> None:
    assert challenges.clean_link(text) == expected


async def _sent_challenge(
    tx: AsyncSession,
    cohort: Cohort,
    members: list[Member],
    settings: Settings,
    now: datetime = NOW,
) -> int:
    created = await challenges.create(
        tx,
        cohort_id=cohort.id,
        author_id=None,
        title="Vitrine",
        text="Une photo",
        proof="photo",
        audience="all",
        timing="now",
        deadline_at=now + timedelta(days=5),
        now=now,
        settings=settings,
    )
    # As the dispatcher would: the challenge reached everyone.
    await tx.execute(
        update(Delivery)
        .where(Delivery.dedup_key == challenges.challenge_key(created.challenge_id))
        .values(status="sent", sent_at=now)
    )
    assert created.recipients == len(members)
    return created.challenge_id


async def test_a_challenge_done_ends_a_silence_and_counts_for_the_streak(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx)
        alice = await make_member(tx, cohort, "Alice")
        bob = await make_member(tx, cohort, "Bob")
        for member in (alice, bob):
            objective = await make_objective(tx, member, cohort, now=NOW - timedelta(days=30))
            for weeks in (3, 2, 1):
                tx.add(
                    ObjectiveCheckin(
                        objective_id=objective.id, asked_at=NOW - timedelta(weeks=weeks)
                    )
                )
        await tx.flush()
        challenge_id = await _sent_challenge(tx, cohort, [alice, bob], settings)
        now = NOW + timedelta(hours=1)
        assert len(await checkins.member_silence(tx, alice.id, now)) == 3
        await challenges.answer(
            tx,
            member_id=alice.id,
            challenge_id=challenge_id,
            answer=ChallengeAnswer.PROOF,
            proof_kind=ProofKind.PHOTO,
            file_id="AgACx",
            now=now,
        )
        await challenges.answer(
            tx, member_id=bob.id, challenge_id=challenge_id, answer=ChallengeAnswer.SKIP, now=now
        )
        assert await checkins.member_silence(tx, alice.id, now) == []
        # "Not this time" is no sign of life for the silence rule, nor a week of the streak.
        assert len(await checkins.member_silence(tx, bob.id, now)) == 3
        assert await objs.member_streak(tx, alice.id, cohort.id, now, BRUSSELS) == 1
        assert await objs.member_streak(tx, bob.id, cohort.id, now, BRUSSELS) == 0


async def test_figures_for_progress_reports_and_trios(db: Database, settings: Settings) -> None:
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx)
        people = [await make_member(tx, cohort, name) for name in ("Alice", "Bob", "Carla")]
        alice, bob, carla = people
        first = await _sent_challenge(tx, cohort, people, settings)
        second = await _sent_challenge(tx, cohort, people, settings, NOW + timedelta(days=7))
        at = NOW + timedelta(hours=2)
        await challenges.answer(
            tx, member_id=alice.id, challenge_id=first, answer=ChallengeAnswer.DONE, now=at
        )
        # Two answers for one challenge: the last one counts.
        await challenges.answer(
            tx, member_id=bob.id, challenge_id=first, answer=ChallengeAnswer.SKIP, now=at
        )
        later = NOW + timedelta(days=7, hours=1)
        await challenges.answer(
            tx,
            member_id=bob.id,
            challenge_id=second,
            answer=ChallengeAnswer.PROOF,
            proof_kind=ProofKind.LINK,
            link="https://x.be/p",
            now=later,
        )
        await challenges.answer(
            tx, member_id=alice.id, challenge_id=second, answer=ChallengeAnswer.DONE, now=later
        )

        assert await challenges.member_challenge_figures(
            tx, alice.id
        ) == challenges.MemberChallengeFigures(received=2, answered=2, done=2)
        assert await challenges.member_challenge_figures(
            tx, carla.id
        ) == challenges.MemberChallengeFigures(received=2, answered=0, done=0)
        whole = await challenges.cohort_challenge_figures(tx, cohort.id)
        assert whole == challenges.CohortChallengeFigures(
            challenges=2, sent=6, answered=4, done=3, with_proof=1
        )
        first_week = await challenges.cohort_challenge_figures(
            tx, cohort.id, since=NOW, until=NOW + timedelta(days=7)
        )
        assert (first_week.challenges, first_week.answered, first_week.done) == (1, 2, 1)
        activity = await challenges.members_challenge_activity(
            tx, [alice.id, bob.id, carla.id], NOW + timedelta(days=6), NOW + timedelta(days=8)
        )
        assert {m: (a.answered, a.done) for m, a in activity.items()} == {
            alice.id: (1, 1),
            bob.id: (1, 1),
            carla.id: (0, 0),
        }


async def test_the_booster_starts_a_library_challenge_not_used_yet(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as tx:
        cohort = await make_cohort(tx)
        await make_member(tx, cohort, "Alice")
        picked = []
        for month in range(3):
            created = await challenges.start_library_challenge(
                tx,
                cohort.id,
                NOW + timedelta(days=30 * month),
                library=LIBRARY,
                settings=settings,
                theme="live",
            )
            assert created is not None
            challenge = await tx.get(Challenge, created.challenge_id)
            assert challenge is not None
            picked.append(challenge.library_id)
        # The theme's challenges first (easiest first), then the others; never twice.
        live = sorted(LIBRARY.challenges_for("live"), key=lambda c: (c.level, c.id))
        assert picked[:2] == [c.id for c in live]
        assert len(set(picked)) == 3
        # Queued at the member's tip time (Tuesday/Friday 09:30), with its reminder.
        kinds = (await tx.scalars(select(Delivery.kind).order_by(Delivery.id))).all()
        assert kinds.count("challenge") == 3
        assert kinds.count("chal_reminder") == 3


def test_the_showcase_caption_stays_under_telegrams_limit_with_many_names() -> None:
    from bot.i18n import I18n
    from bot.telegram_html import inspect_html

    t = I18n()("fr")
    items = [
        challenges.ShowcaseItem(f"Prénom{n} & <Cie>", "Commerce « très » long " * 3, None)
        for n in range(80)
    ]
    caption = challenges.showcase_caption(t, "Vitrine", 80, 90, items)
    result = inspect_html(caption)
    assert result.error is None
    assert len(result.visible) <= 1024
    assert "80 sur 90 ont relevé le défi 👏" in caption
    assert "&amp; &lt;Cie&gt;" in caption
    assert caption.rstrip(" !").endswith(")")  # "(+N)" for the names that did not fit
