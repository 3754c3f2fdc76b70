"""The progress check end to end ("Does it pay?", issue 12, merchant side): the baseline at
the end of onboarding (and "later", offered again with the first tips), the monthly check on
the right day through the outbox (across a month end and a DST change) with one reminder then
silence, `/point` by hand, typed numbers and forged buttons, `/progres` (the PNG decoded and
its drawn series read back), milestones, the silence rule, erasure, nl and en."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import func, select

from bot.models import Member, Objective, ObjectiveCheckin, ObjectiveStatus, Observation
from bot.reports.progress_chart import SERIES_KEY
from bot.sandbox.simulator import SimUser
from bot.services import checkins
from tests import factories
from tests.e2e.harness import BOT_USERNAME, Harness
from tests.e2e.session_helpers import deliveries, forge_click

BRUSSELS = ZoneInfo("Europe/Brussels")
PRACTICES = 10  # content/practices.yaml
START = "📈 C'est parti (1 min)"


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


async def observations(relais: Harness, user: SimUser) -> list[Observation]:
    async with relais.session() as session:
        rows = await session.scalars(
            select(Observation)
            .join(Member, Member.id == Observation.member_id)
            .where(Member.telegram_user_id == user.id)
            .order_by(Observation.id)
        )
        return list(rows.all())


async def member_row(relais: Harness, user: SimUser) -> Member:
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == user.id))
        assert member is not None
        return member


async def onboard(relais: Harness, user: SimUser) -> None:
    cohort = await relais.make_cohort()
    await user.follow(f"https://t.me/{BOT_USERNAME}?start=join_{cohort.join_code}")
    await user.click(f"Oui, « {user.first_name} »")
    await user.send("Salon " + user.first_name)
    await user.click("💇 Coiffure, beauté")
    await user.click("📍 Estaimpuis")
    await user.click("🇫🇷 Français")
    await user.click("✅ J'accepte")
    await user.expect("Bienvenue dans le groupe")


async def test_baseline_after_onboarding_in_under_a_minute_with_buttons_and_a_typed_number(
    relais: Harness,
) -> None:
    alice = relais.user("Alice")
    await onboard(relais, alice)
    offer = await alice.expect("Une dernière minute, Alice ?")
    assert offer.buttons == [[START, "Plus tard"]]

    await alice.click(START)
    first = await alice.expect("Question 1 sur 13")
    assert "abonnés" in first.text
    assert first.buttons[:2] == [["0–49", "50–99", "100–249"], ["250–499", "500–999", "1000+"]]
    await alice.send("environ 200")  # typed: understood as 200
    await alice.expect("Question 2 sur 13")
    await alice.click("2–3")
    await alice.expect("Question 3 sur 13")
    await alice.click("1–5")
    practice = await alice.expect("Question 4 sur 13")
    assert "Je publie au moins une fois par semaine" in practice.text
    assert practice.buttons[0] == ["✅ Oui", "Pas encore"]
    await alice.click("✅ Oui")
    for number in range(5, 14):
        await alice.expect(f"Question {number} sur 13")
        await alice.click("Pas encore")
    done = await alice.expect("voilà votre point de départ")
    assert done.inline_keyboard == []

    rows = await observations(relais, alice)
    assert [(r.metric, r.value) for r in rows[:4]] == [
        ("followers", 200),
        ("posts_7d", 2),  # the range 2–3 stores its midpoint, rounded down
        ("customers_month", 3),  # 1–5 -> 3
        ("practice:weekly_post", 1),
    ]
    assert len(rows) == 3 + PRACTICES
    assert {r.source for r in rows} == {"baseline"}
    assert {r.period for r in rows} == {"2026-11"}
    assert sum(r.value for r in rows if r.metric.startswith("practice:")) == 1
    # Asking again this month changes nothing.
    await alice.send("/point")
    await alice.expect("Vous avez déjà fait le point ce mois-ci")
    assert len(await observations(relais, alice)) == 3 + PRACTICES


async def test_a_skipped_baseline_is_offered_again_with_the_first_tip(relais: Harness) -> None:
    alice = relais.user("Alice")
    await onboard(relais, alice)
    await alice.expect("Une dernière minute")
    await alice.click("Plus tard")
    await alice.expect("Je vous le proposerai à nouveau avec vos premières astuces")
    assert await observations(relais, alice) == []

    relais.clock.set(local(2026, 11, 27, 9, 30))  # Friday: her first tip
    await relais.tick()
    tip = await alice.expect("Voici votre première astuce")
    assert "Et votre point de départ ?" in tip.text
    assert tip.buttons[-1] == [START, "Plus tard"]
    await alice.click(START)
    await alice.expect("Question 1 sur 13")
    await alice.click("100–249")
    await alice.expect("Question 2 sur 13")
    rows = await observations(relais, alice)
    assert [(r.metric, r.value, r.source) for r in rows] == [("followers", 174, "baseline")]


async def merchant_since(relais: Harness, name: str = "Alice", **kwargs: object) -> SimUser:
    """A merchant who joined on 2 November 2026 and gave their baseline that month."""
    now = relais.clock.now()
    relais.clock.set(local(2026, 11, 2, 10))
    cohort = await relais.make_cohort()
    user = relais.user(name, language_code=str(kwargs.pop("language_code", "fr")))
    member = await relais.make_member(user, cohort, **kwargs)  # type: ignore[arg-type]
    async with relais.session() as session:
        await factories.make_observations(
            session,
            member,
            "2026-11",
            {
                "followers": 90,
                "posts_7d": 1,
                "customers_month": 2,
                "practice:weekly_post": 1,
                "practice:short_video": 0,
            },
            source="baseline",
        )
    relais.clock.set(now)
    return user


async def test_the_monthly_check_comes_on_the_first_tip_day_then_one_reminder_then_silence(
    relais: Harness,
) -> None:
    alice = await merchant_since(relais)
    await relais.tick()
    # Tuesday 1 December is a tip day: the check comes at her tip time, across the month end.
    relais.clock.set(local(2026, 11, 30, 23, 0))
    await relais.tick()
    assert await deliveries(relais, "progress:") == []
    relais.clock.set(local(2026, 12, 1, 9, 30))
    await relais.tick()
    check = await alice.expect("C'est le moment du point du mois")
    assert check.buttons == [[START, "Plus tard"]]

    # No answer: one gentle reminder on the first tip day three days later (Friday)...
    relais.clock.set(local(2026, 12, 4, 9, 30))
    await relais.tick()
    await alice.expect("Petit rappel, Alice")
    # ... then nothing more this month.
    for day in (8, 11, 15, 18, 22, 29):
        relais.clock.set(local(2026, 12, day, 9, 30))
        await relais.tick()
    sent = [d for d in await deliveries(relais, "progress:") if d.status == "sent"]
    assert [(d.dedup_key, d.sent_at) for d in sent] == [
        ("progress:2026-12", local(2026, 12, 1, 9, 30)),
        ("progress:2026-12:reminder", local(2026, 12, 4, 9, 30)),
    ]

    # January: 1 January 2027 is a Friday, a tip day. She answers this time.
    relais.clock.set(local(2027, 1, 1, 9, 30))
    await relais.tick()
    await alice.expect("C'est le moment du point du mois")
    await alice.click(START)
    await alice.expect("Question 1 sur 12")  # 3 numbers + 9 practices not adopted yet
    await alice.click("0–49")
    relais.clock.set(local(2027, 1, 5, 9, 30))  # the reminder's day: she answered, it is skipped
    await relais.tick()
    reminder = (await deliveries(relais, "progress:2027-01:reminder"))[0]
    assert reminder.status == "skipped"

    # Across the change to summer time (28 March 2027): still 09:30 on her wall clock.
    relais.clock.set(local(2027, 3, 2, 9, 30))  # Tuesday, winter time: 08:30 UTC
    await relais.tick()
    relais.clock.set(local(2027, 4, 2, 9, 30))  # Friday (1 April is a Thursday): 07:30 UTC
    await relais.tick()
    march, april = (
        (await deliveries(relais, "progress:2027-03"))[0],
        (await deliveries(relais, "progress:2027-04"))[0],
    )
    assert march.sent_at == datetime(2027, 3, 2, 8, 30, tzinfo=UTC)
    assert april.sent_at == datetime(2027, 4, 2, 7, 30, tzinfo=UTC)


async def test_point_by_hand_asks_only_practices_not_adopted_and_congratulates_milestones(
    relais: Harness,
) -> None:
    alice = await merchant_since(relais)
    relais.clock.set(local(2026, 12, 9, 14))
    await alice.send("/point")
    await alice.expect("Question 1 sur 12")  # weekly_post was adopted in November
    await alice.send("120 abonnés")
    await alice.expect("Question 2 sur 12")
    await alice.click("4–7")
    await alice.expect("Question 3 sur 12")
    await alice.send("9")
    video = await alice.expect("Question 4 sur 12")
    assert "vidéo courte" in video.text
    await alice.click("✅ Oui")
    congrats = await alice.expect("Question 5 sur 12")
    assert "Votre première vidéo courte" in congrats.text
    await alice.click("⏸ On arrête là")
    await alice.expect("vos réponses sont gardées")
    rows = [r for r in await observations(relais, alice) if r.period == "2026-12"]
    assert [(r.metric, r.value, r.source) for r in rows] == [
        ("followers", 120, "monthly"),
        ("posts_7d", 5, "monthly"),
        ("customers_month", 9, "monthly"),
        ("practice:short_video", 1, "monthly"),
    ]
    # Resumed later: the next question where she left off.
    await alice.send("/point")
    await alice.expect("Question 5 sur 12")


async def test_typed_bad_inputs_get_a_kind_reask_and_forged_buttons_change_nothing(
    relais: Harness,
) -> None:
    alice = await merchant_since(relais)
    relais.clock.set(local(2026, 12, 9, 14))
    await alice.send("/point")
    question = await alice.expect("Question 1 sur 12")
    for text, answer in (
        ("beaucoup", "Je n'ai pas trouvé de nombre"),
        ("-5", "Un nombre à partir de 0"),
        ("9999999999", "Ce nombre me paraît bien grand"),
    ):
        await alice.send(text)
        reask = await alice.expect(answer)
        assert "Question 1 sur 12" in reask.text
        assert reask.buttons[0] == ["0–49", "50–99", "100–249"]
    assert [r.period for r in await observations(relais, alice)].count("2026-12") == 0

    await alice.send("1.200")
    await alice.expect("Question 2 sur 12")
    before = len(await observations(relais, alice))
    for data in (
        "pt:202611:f:r:1",  # last month's button
        "pt:202612:f:r:2",  # this month, already answered
        "pt:202612:c:r:9",  # no such range
        "pt:202612:q:weekly_post:no",  # adopted already: never asked again
        "pt:202612:q:nothing_here:yes",  # no such practice
        "pt:203001:p:r:1",  # a month to come
    ):
        record = await forge_click(relais, alice, question, data)
        assert record.text == "Ce bouton n'est plus valable.", data
    rows = await observations(relais, alice)
    assert len(rows) == before
    assert [(r.metric, r.value) for r in rows if r.period == "2026-12"] == [("followers", 1200)]


async def test_progres_draws_the_months_with_gaps_and_says_the_change(relais: Harness) -> None:
    alice = relais.user("Alice")
    await alice.send("/progres")  # a stranger: the access gate answers
    cohort = await relais.make_cohort()
    member = await relais.make_member(alice, cohort)
    await alice.send("/progres")
    await alice.expect("Pas encore de chiffres")

    async with relais.session() as session:
        await factories.make_observations(
            session,
            member,
            "2026-08",
            {"followers": 80, "posts_7d": 1, "customers_month": 2, "practice:weekly_post": 0},
            source="baseline",
        )
    await alice.send("/progres")
    start = await alice.expect("Votre point de départ")
    assert "Le mois prochain" in start.text

    async with relais.session() as session:
        # September without an answer; October and November answered.
        await factories.make_observations(
            session, member, "2026-10", {"followers": 110, "customers_month": 5}
        )
        await factories.make_observations(
            session,
            member,
            "2026-11",
            {"followers": 130, "posts_7d": 3, "customers_month": 9, "practice:weekly_post": 1},
        )
        session.add(
            Objective(
                member_id=member.id,
                cohort_id=cohort.id,
                text="Publier deux fois",
                measure_kind="binary",
                due_on=datetime(2026, 11, 20).date(),
                status=ObjectiveStatus.DONE.value,
            )
        )
    await alice.send("/progres")
    chart = await alice.expect(kind="photo")
    assert "Depuis août : 2 → 9 clients venus grâce à la page par mois" in chart.text
    assert "Bonnes pratiques : 0 → 1 sur 10" in chart.text
    assert "Objectifs atteints : 1" in chart.text
    assert chart.photo is not None
    assert chart.photo.data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(BytesIO(chart.photo.data))
    assert image.format == "PNG"
    assert image.size[0] == 800
    drawn = json.loads(image.info[SERIES_KEY])
    assert drawn == {
        "periods": ["2026-08", "2026-09", "2026-10", "2026-11"],
        "followers": [80, None, 110, 130],
        "posts_7d": [1, None, None, 3],
        "customers_month": [2, None, 5, 9],
    }


async def test_an_answer_to_the_check_counts_for_the_silence_rule(relais: Harness) -> None:
    alice = await merchant_since(relais)
    member = await member_row(relais, alice)
    relais.clock.set(local(2026, 12, 9, 14))
    async with relais.session() as session:
        objective = await factories.make_objective(session, member, member.active_cohort_id or 0)
        for days in (21, 14, 7):
            session.add(
                ObjectiveCheckin(
                    objective_id=objective.id, asked_at=relais.clock.now() - timedelta(days=days)
                )
            )
    async with relais.session() as session:
        silent = await checkins.member_silence(session, member.id, relais.clock.now())
    assert len(silent) == checkins.SILENCE_LIMIT
    await alice.send("/point")
    await alice.click("0–49")
    async with relais.session() as session:
        assert await checkins.member_silence(session, member.id, relais.clock.now()) == []


async def test_forgetting_erases_the_observations_and_my_data_lists_them(relais: Harness) -> None:
    alice = await merchant_since(relais)
    await alice.send("/mesdonnees")
    summary = await alice.expect("Vos données")
    assert "Réponses au point du mois : 5" in summary.text
    document = await alice.expect(kind="document")
    assert document.document is not None
    data = json.loads(document.document.data)
    assert {row["metric"] for row in data["progress_answers"]} >= {"followers", "posts_7d"}
    await alice.send("/privacy")
    notice = await alice.expect("Vos données et vos droits")
    assert "La commune ne voit que des chiffres d'ensemble du groupe" in notice.text

    await alice.send("/oublier")
    await alice.expect("Tout effacer ?")
    await alice.click("🗑 Oui, tout effacer")
    await alice.expect("j'ai effacé vos données")
    async with relais.session() as session:
        assert await session.scalar(select(func.count(Observation.id))) == 0


async def test_the_check_and_the_chart_speak_dutch_and_english(relais: Harness) -> None:
    joost = await merchant_since(relais, "Joost", language="nl", language_code="nl")
    relais.clock.set(local(2026, 12, 9, 14))
    await joost.send("/point")
    question = await joost.expect("Vraag 1 van 12")
    assert "volgers" in question.text
    await joost.send("ongeveer 150")
    await joost.expect("Vraag 2 van 12")

    emma = await merchant_since(relais, "Emma", language="en", language_code="en")
    await emma.send("/point")
    await emma.expect("Question 1 of 12")
    await emma.click("⏸ Stop here")
    await emma.expect("your answers are kept")
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == emma.id))
        assert member is not None
        await factories.make_observations(session, member, "2026-12", {"customers_month": 6})
    await emma.send("/progres")
    chart = await emma.expect(kind="photo")
    assert "Since November: 2 → 6 customers a month thanks to the page" in chart.text

    # The monthly message from the outbox, in each one's language.
    relais.clock.set(local(2027, 1, 1, 9, 30))
    await relais.tick()
    dutch = await joost.expect("Tijd voor de maandelijkse stand van zaken")
    assert dutch.buttons == [["📈 Aan de slag (1 min)", "Later"]]
    await emma.expect("Time for the monthly check")


async def test_a_check_due_in_the_quiet_hours_waits_and_a_paused_member_gets_none(
    relais: Harness,
) -> None:
    alice = await merchant_since(relais)
    bob = await merchant_since(relais, "Bob")
    async with relais.session() as session:
        early = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        paused = await session.scalar(select(Member).where(Member.telegram_user_id == bob.id))
        assert early is not None
        assert paused is not None
        early.tip_time = datetime(2026, 1, 1, 7, 0).time()  # an old default: no button offers it
        early.next_progress_at = None
        paused.paused = True
    relais.clock.set(local(2026, 12, 1, 7, 0))
    await relais.tick()
    await alice.expect_nothing()
    relais.clock.set(local(2026, 12, 1, 8, 0))  # QUIET_HOURS=21:00-08:00
    await relais.tick()
    await alice.expect("C'est le moment du point du mois")
    relais.clock.set(local(2026, 12, 1, 9, 30))
    await relais.tick()
    await bob.expect_nothing()
    (sent,) = [d for d in await deliveries(relais, "progress:") if d.status == "sent"]
    assert sent.sent_at == local(2026, 12, 1, 8, 0)


async def test_the_demo_cohort_draws_three_months_of_progress(relais: Harness) -> None:
    from bot.devtools.demo import seed_demo

    async with relais.session() as session:
        demo = await seed_demo(session, relais.settings, relais.clock.now())
    curves = {}
    for index in (0, 10):
        person = relais.sim.user(demo.merchant_telegram_ids[index], f"Demo{index}")
        relais.sandbox.mark_started(person.id)
        await person.send("/progres")
        chart = await person.expect(kind="photo")
        assert chart.photo is not None
        curves[index] = json.loads(Image.open(BytesIO(chart.photo.data)).info[SERIES_KEY])
        assert "Depuis septembre" in chart.text
    assert curves[0]["periods"] == ["2026-09", "2026-10", "2026-11"]
    assert None not in curves[0]["customers_month"]
    assert curves[0]["customers_month"][0] < curves[0]["customers_month"][-1]
    assert curves[10]["followers"][1] is None  # the month Pierre skipped: a gap, not a zero


async def test_a_text_typed_long_after_a_check_left_half_way_is_not_an_answer(
    relais: Harness,
) -> None:
    alice = await merchant_since(relais)
    relais.clock.set(local(2026, 12, 9, 14))
    await alice.send("/point")
    await alice.expect("Question 1 sur 12")
    relais.clock.set(local(2026, 12, 9, 18))  # four hours later, about something else
    await alice.send("J'ai 3 questions pour la séance")
    await alice.expect("Je n'ai pas bien compris")
    assert [r for r in await observations(relais, alice) if r.period == "2026-12"] == []
    await alice.send("/point")  # the check is still there when she wants it
    await alice.expect("Question 1 sur 12")
    await alice.send("3")
    await alice.expect("Question 2 sur 12")
    rows = [r for r in await observations(relais, alice) if r.period == "2026-12"]
    assert [(r.metric, r.value) for r in rows] == [("followers", 3)]
