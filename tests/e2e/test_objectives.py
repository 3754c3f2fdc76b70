"""The coaching loop end to end, with a moving clock: a merchant sets an objective with buttons,
is asked about it on their tip days at their tip time (never in quiet hours, never twice, not
after pausing or after done), answers each way, reaches done or not-reached, goes silent and
resumes; a merchant who blocked the bot costs one failed send, not an error storm."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.models import (
    Delivery,
    MeasureKind,
    Member,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
)
from bot.sandbox.simulator import SimUser
from bot.services import objectives as objs
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click
from tests.factories import make_objective

BRUSSELS = ZoneInfo("Europe/Brussels")
BIG_STEP = timedelta(hours=12)  # well within the planner's 12-hour catch-up tolerance


@pytest.fixture(autouse=True)
def no_chat_pacing(relais: Harness) -> None:
    """A tip and a check-in often share a moment: the engine's 1-second pacing per chat (proved
    by its own tests) would make these tests wait for real between the two."""
    dispatcher = relais.engine.dispatcher
    dispatcher.limits = replace(dispatcher.limits, chat_interval=0.0)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS)


# The drip, and the monthly progress check and its reminder, which come on tip days too.
TIP = re.compile(
    r"^(💡 Astuce|👋 Voici votre première astuce|Bonjour .*point du mois|Petit rappel, .*point)"
)


async def nothing_but_tips(user: SimUser) -> None:
    """Nothing from the bot except tips (and the monthly progress check): the drip runs on the
    same days, at the same time."""
    while True:
        try:
            await user.expect(TIP, timeout=0)
        except AssertionError:
            break
    await user.expect_nothing(within=0)


async def merchant(relais: Harness, name: str = "Alice", **kwargs: object) -> tuple[SimUser, int]:
    cohort = await relais.make_cohort()
    user = relais.user(name)
    await relais.make_member(user, cohort, **kwargs)  # type: ignore[arg-type]
    return user, cohort.id


async def set_objective_with_buttons(alice: SimUser) -> None:
    """Wednesday 25 November, 10:00: "take appointments through my page", 3 a week, 2 weeks."""
    await alice.send("🎯 Nouvel objectif")  # the main-menu button
    await alice.expect("Un nouvel objectif")
    await alice.click("Prendre des rendez-vous via ma page")
    await alice.expect("Comment saurez-vous que c'est réussi ?")
    await alice.click("🔢 Un nombre par semaine")
    await alice.expect("Combien de fois par semaine ?")
    await alice.click("3")
    when = await alice.expect("Pour quand ?")
    # Without a session planned, the default is in two weeks, shown as a date.
    assert when.buttons[0] == ["Dans 2 semaines (mer. 9 déc.)"]
    await alice.click("Dans 2 semaines (mer. 9 déc.)")
    await alice.expect(
        "Je récapitule : « Prendre des rendez-vous via ma page », 3 fois par semaine, "
        "d'ici mercredi 9 décembre."
    )
    await alice.click("✅ C'est parti !")
    done = await alice.expect("C'est noté !")
    assert "Je vous demanderai où vous en êtes mardi 1 décembre" in done.text


async def objective_of(relais: Harness, user: SimUser) -> Objective:
    async with relais.session() as session:
        objective = await session.scalar(
            select(Objective)
            .join(Member, Member.id == Objective.member_id)
            .where(Member.telegram_user_id == user.id)
            .order_by(Objective.id.desc())
        )
    assert objective is not None
    return objective


async def checkin_keys(relais: Harness, objective_id: int) -> list[tuple[str, str]]:
    async with relais.session() as session:
        rows = await session.execute(
            select(Delivery.dedup_key, Delivery.status)
            .where(Delivery.dedup_key.startswith(f"checkin:{objective_id}:"))
            .order_by(Delivery.id)
        )
        return [(key, status) for key, status in rows]


async def test_set_an_objective_answer_each_way_then_reach_it(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    await set_objective_with_buttons(alice)
    objective = await objective_of(relais, alice)
    assert (objective.text, objective.measure_kind, objective.target_per_week) == (
        "Prendre des rendez-vous via ma page",
        MeasureKind.COUNT.value,
        3,
    )
    assert objective.due_on == date(2026, 12, 9)
    assert objective.theme == "appointments_messages"

    # Nothing before the first moment: Tuesday 1 December at 09:30 (her tip day and time).
    await relais.advance_to(local(2026, 12, 1, 9, 29), step=BIG_STEP)
    await nothing_but_tips(alice)
    await relais.advance(minutes=1)
    checkin = await alice.expect("Où en êtes-vous avec votre objectif ?")
    assert relais.clock.now() == local(2026, 12, 1, 9, 30)
    assert "Prendre des rendez-vous via ma page" in checkin.text
    assert "3 fois par semaine" in checkin.text
    assert checkin.buttons == [
        ["✅ C'est fait", "🚧 En cours"],
        ["😕 Je bloque", "➕ Ajouter un nombre"],
    ]
    # Planning again (every tick) never sends it twice.
    await relais.advance(minutes=30)
    await relais.advance(hours=6)
    await nothing_but_tips(alice)

    # In progress, with a number.
    await alice.click("🚧 En cours")
    await alice.expect("On continue sur « Prendre des rendez-vous via ma page »")
    assert checkin.message_id in {m.message_id for m in alice.messages if not m.inline_keyboard}
    await alice.click("➕ Ajouter un nombre")
    await alice.expect("Combien de fois cette semaine ?")
    await alice.click("4")
    await alice.expect("Noté : 4 cette semaine (votre cible : 3). 🎯 Cible atteinte, bravo !")

    # Stuck: one optional question, a tip on the objective's theme, flagged for the trainer.
    await relais.advance_to(local(2026, 12, 8, 9, 30), step=BIG_STEP)
    await alice.expect("Où en êtes-vous avec votre objectif ?")
    await alice.click("😕 Je bloque")
    await alice.expect("Qu'est-ce qui vous bloque ?")
    await alice.send("Les clientes préfèrent téléphoner")
    helped = await alice.expect("Merci, c'est noté : votre formateur le verra.")
    assert "Une piste pour avancer" in helped.text
    async with relais.session() as session:
        stuck = await session.scalar(
            select(ObjectiveCheckin).where(ObjectiveCheckin.answer == "stuck")
        )
        assert stuck is not None
        assert (stuck.flagged, stuck.blocker) == (True, "Les clientes préfèrent téléphoner")

    # Done: a congratulation and the offer to set the next one; no check-in after that.
    await relais.advance(days=1)  # the next day: a new report, not a correction
    await alice.send("/objectifs")
    await alice.expect("Vos objectifs")
    await alice.click("Des nouvelles de")
    await alice.expect("Où en êtes-vous ?")
    await alice.click("✅ C'est fait")
    bravo = await alice.expect(
        "Bravo Alice ! « Prendre des rendez-vous via ma page » : c'est fait."
    )
    assert bravo.buttons == [["🎯 Fixer le prochain objectif"]]
    answered = await alice.expect("Où en êtes-vous ?")  # the card, edited: no buttons left
    assert answered.inline_keyboard == []
    await relais.advance_to(local(2027, 1, 15), step=BIG_STEP)
    await nothing_but_tips(alice)
    assert await checkin_keys(relais, objective.id) == [
        (f"checkin:{objective.id}:2026-12-01", "sent"),
        (f"checkin:{objective.id}:2026-12-08", "sent"),
    ]
    assert (await objective_of(relais, alice)).status == ObjectiveStatus.DONE.value

    # /objectifs shows the history with dates and numbers, and the streak.
    await alice.send("/objectifs")
    mine = await alice.expect("Vos objectifs")
    assert "✅ Prendre des rendez-vous via ma page — atteint" in mine.text
    assert "mar. 1 déc. : 🚧 en cours (4)" in mine.text

    # The "next objective" button opens the guided conversation again.
    await alice.click("🎯 Un nouvel objectif")
    await alice.expect("Un nouvel objectif")


async def test_check_ins_are_held_during_quiet_hours(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        assert member is not None
        member.tip_time = time(22, 0)  # inside QUIET_HOURS (21:00-08:00)
    await set_objective_with_buttons(alice)
    await relais.advance_to(local(2026, 12, 1, 21, 59), step=BIG_STEP)
    await nothing_but_tips(alice)
    for _ in range(19):  # every half hour through the night, until 07:30: held
        await relais.advance(minutes=30)
        await nothing_but_tips(alice)  # each tick waited for the bot to be idle
    await relais.advance_to(local(2026, 12, 2, 8, 0), step=timedelta(minutes=30))
    await alice.expect("Où en êtes-vous avec votre objectif ?")
    async with relais.session() as session:
        sent = await session.scalar(
            select(Delivery.sent_at).where(Delivery.dedup_key.startswith("checkin:"))
        )
    assert sent == local(2026, 12, 2, 8, 0)


async def test_no_news_after_the_due_date_means_not_reached_and_carry_over(
    relais: Harness,
) -> None:
    alice, _cohort_id = await merchant(relais)
    await set_objective_with_buttons(alice)
    await relais.advance_to(local(2026, 12, 1, 9, 30), step=BIG_STEP)
    await alice.expect("Où en êtes-vous avec votre objectif ?")
    await alice.click("🚧 En cours")
    await alice.expect("On continue")
    await relais.advance_to(local(2026, 12, 8, 9, 30), step=BIG_STEP)
    await alice.expect("Où en êtes-vous avec votre objectif ?")  # left unanswered
    # Due Wednesday 9 December: one gentle check on the 10th, then nothing for three days.
    await relais.advance_to(local(2026, 12, 10, 9, 30), step=BIG_STEP)
    await alice.expect("Votre objectif « Prendre des rendez-vous via ma page » arrivait à échéance")
    await relais.advance_to(local(2026, 12, 13, 9, 30), step=BIG_STEP)
    missed = await alice.expect("n'est pas marqué comme atteint")
    assert "Ce n'est pas grave" in missed.text
    assert "Voulez-vous le reconduire jusqu'au dimanche 27 décembre ?" in missed.text
    assert missed.buttons[0] == ["🔁 Oui, je le reconduis"]
    objective = await objective_of(relais, alice)
    assert objective.status == ObjectiveStatus.NOT_REACHED.value

    await alice.click("🔁 Oui, je le reconduis")
    again = await alice.expect("C'est reparti : « Prendre des rendez-vous via ma page »")
    assert "dimanche 27 décembre" in again.text  # two weeks on, no session planned
    carried = await objective_of(relais, alice)
    assert carried.carried_from_id == objective.id
    assert carried.status == ObjectiveStatus.ACTIVE.value
    edited = await alice.expect("n'est pas marqué comme atteint")  # its buttons are gone
    assert edited.inline_keyboard == []
    await relais.advance(hours=1)
    await nothing_but_tips(alice)
    # A second tap (say, from another device that still shows the buttons) carries nothing.
    await forge_click(relais, alice, missed, f"obj:{objective.id}:carry")
    await alice.expect("C'est déjà fait : « Prendre des rendez-vous via ma page » continue")
    assert await checkin_keys(relais, objective.id) == [
        (f"checkin:{objective.id}:2026-12-01", "sent"),
        (f"checkin:{objective.id}:2026-12-08", "sent"),
        (f"checkin:{objective.id}:due", "sent"),
        (f"checkin:{objective.id}:missed", "sent"),
    ]


async def test_silence_pauses_check_ins_until_the_member_resumes(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        assert member is not None
        cohort_id = member.active_cohort_id
        assert cohort_id is not None
        await make_objective(
            session,
            member,
            cohort_id,
            "Publier une vidéo",
            measure_kind=MeasureKind.BINARY,
            due_on=date(2027, 1, 20),
            now=relais.clock.now(),
        )
    for day in (1, 8, 15):
        await relais.advance_to(local(2026, 12, day, 9, 30), step=BIG_STEP)
        await alice.expect("Où en êtes-vous avec votre objectif ?")
    # The fourth is replaced by one message saying how to resume; then nothing more.
    await relais.advance_to(local(2026, 12, 22, 9, 30), step=BIG_STEP)
    pause = await alice.expect("je mets mes questions en pause")
    assert "Vos astuces continuent" in pause.text
    assert pause.buttons == [["🔔 Reprendre les relances"]]
    await relais.advance_to(local(2027, 1, 12, 12), step=BIG_STEP)
    await nothing_but_tips(alice)

    await alice.click("🔔 Reprendre les relances")
    await alice.expect("C'est reparti : je vous redemanderai où vous en êtes")
    await relais.advance_to(local(2027, 1, 15, 9, 30), step=BIG_STEP)
    await alice.expect("Où en êtes-vous avec votre objectif ?")  # Friday, her next tip day


async def test_a_merchant_who_blocked_the_bot_costs_one_failed_send(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    await set_objective_with_buttons(alice)
    alice.block()
    before = len(alice.messages)
    await relais.advance_to(local(2027, 1, 20), step=BIG_STEP)
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        assert member is not None
        rows = (
            await session.execute(
                select(Delivery.kind, Delivery.status, Delivery.attempts).where(
                    Delivery.member_id == member.id
                )
            )
        ).all()
    # The first send (a tip or a check-in, whichever came first) failed once, without retry;
    # she is unreachable, so nothing else was planned for her, and nothing reached her.
    assert [(status, attempts) for _, status, attempts in rows if status != "skipped"] == [
        ("failed", 1)
    ]
    assert not any(kind == "checkin" and status == "sent" for kind, status, _ in rows)
    assert not member.reachable
    assert len(alice.messages) == before
    objective = await objective_of(relais, alice)
    assert objective.status == ObjectiveStatus.ACTIVE.value  # not "not reached" behind her back


async def test_someone_elses_or_garbage_buttons_change_nothing(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    await set_objective_with_buttons(alice)
    objective = await objective_of(relais, alice)
    bob = relais.user("Bob")
    cohort = await relais.make_cohort("Ailleurs", "Dottignies")
    await relais.make_member(bob, cohort, business_name="Chez Bob")
    await bob.send("/objectifs")
    card = await bob.expect("pas encore d'objectif")
    for data in (
        f"obj:{objective.id}:done",
        f"obj:{objective.id}:stuck",
        f"obj:{objective.id}:n:5",
        f"obj:{objective.id}:carry",
        f"obj:{objective.id}:closeok",
        "obj:abc:done",
        "obj:99999999999999999999:done",
        "obj:1",
        "objset:close:1",
        "objset:due:20261231",
    ):
        record = await forge_click(relais, bob, card, data)
        assert record.answered, data
    await bob.expect_nothing()
    fresh = await objective_of(relais, alice)
    assert fresh.status == ObjectiveStatus.ACTIVE.value
    async with relais.session() as session:
        assert (await session.scalars(select(ObjectiveCheckin))).all() == []


async def test_a_fourth_objective_asks_which_one_to_close(relais: Harness) -> None:
    alice, cohort_id = await merchant(relais)
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        assert member is not None
        for text in ("Objectif A", "Objectif B", "Objectif C"):
            await make_objective(
                session,
                member,
                cohort_id,
                text,
                measure_kind=MeasureKind.BINARY,
                due_on=date(2026, 12, 20),
                now=relais.clock.now(),
            )
    await alice.send("/objectif")
    ask = await alice.expect("Vous avez déjà 3 objectifs en cours")
    assert ask.buttons == [
        ["✖ Objectif A"],
        ["✖ Objectif B"],
        ["✖ Objectif C"],
        ["Garder mes objectifs"],
    ]
    await alice.click("✖ Objectif B")
    await alice.expect("« Objectif B » est clôturé")
    await alice.expect("Un nouvel objectif")
    await alice.click("✍️ Autre : je l'écris")
    await alice.expect("Écrivez votre objectif")
    await alice.send("Tourner une vidéo de mon atelier")
    await alice.expect("Comment saurez-vous")
    await alice.click("✅ Fait ou pas fait")
    await alice.expect("Pour quand ?")
    await alice.send("18/12")
    await alice.expect("Je récapitule : « Tourner une vidéo de mon atelier », d'ici vendredi 18")
    await alice.click("✏️ Modifier")
    await alice.click("📅 La date")
    await alice.send("31/02")
    await alice.expect("Je n'ai pas compris cette date")
    await alice.send("19/12")
    await alice.expect("d'ici samedi 19 décembre")
    await alice.click("✅ C'est parti !")
    await alice.expect("C'est noté !")
    async with relais.session() as session:
        active = await objs.active_objectives(session, member.id, cohort_id)
    assert sorted(o.text for o in active) == [
        "Objectif A",
        "Objectif C",
        "Tourner une vidéo de mon atelier",
    ]


@pytest.mark.parametrize("language", ["nl", "en"])
async def test_check_ins_speak_the_merchants_language(relais: Harness, language: str) -> None:
    cohort = await relais.make_cohort()
    anna = relais.user("Anna", language_code=language)
    await relais.make_member(anna, cohort, language=language)
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == anna.id))
        assert member is not None
        await make_objective(
            session,
            member,
            cohort,
            "Foto's posten",
            due_on=date(2026, 12, 20),
            target_per_week=2,
            now=relais.clock.now(),
        )
    await relais.advance_to(local(2026, 12, 1, 9, 30), step=BIG_STEP)
    checkin = await anna.expect("Foto's posten")
    expected = {"nl": "2 keer per week", "en": "2 times a week"}[language]
    assert expected in checkin.text


async def test_the_guided_conversation_survives_a_restart(relais: Harness) -> None:
    alice, _ = await merchant(relais, sector="lodging")
    await alice.send("/objectif")
    offered = await alice.expect("Un nouvel objectif")
    assert ["Répondre à chaque avis en moins de 48 h"] in offered.buttons
    await alice.click("Répondre à chaque avis en moins de 48 h")
    await alice.expect("Comment saurez-vous que c'est réussi ?")
    await relais.restart()
    await alice.click("✅ Fait ou pas fait")
    await alice.expect("Pour quand ?")
    await alice.send("16/12")
    await alice.expect(
        "Je récapitule : « Répondre à chaque avis en moins de 48 h », d'ici mercredi 16 décembre."
    )
    await alice.click("✅ C'est parti !")
    await alice.expect("C'est noté !")
    objective = await objective_of(relais, alice)
    assert (objective.template_code, objective.theme) == ("reviews_48h", "comments_reviews")
