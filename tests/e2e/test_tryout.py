"""`relais try`: the terminal chat runs the real bot on the sandbox with a demo cohort."""

from __future__ import annotations

import asyncio
import io

import pytest

from bot.devtools.tryout import parse_duration, run


async def _session(role: str, lines: list[str], empty: bool = False) -> str:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    for line in [*lines, ":quit"]:
        queue.put_nowait(line)
    out = io.StringIO()
    assert await asyncio.wait_for(run(role=role, empty=empty, lines=queue, out=out), 60) == 0
    return out.getvalue()


async def test_a_merchant_starts_onboarding_in_the_demo_cohort_and_taps_by_number() -> None:
    out = await _session("merchant", ["1"])
    assert "Bienvenue dans le groupe Commerçants connectés (démo)" in out
    assert "[1] ✅ Oui, « Camille »" in out
    # Tapping [1] kept the first name and moved on to the next question.
    assert out.count("── Relais") >= 2


async def test_a_number_without_a_button_on_screen_is_sent_as_text() -> None:
    # [1] keeps the first name; the next question (the business name) has no buttons, so
    # the second "1" is the business name, not a tap on the button answered just before.
    out = await _session("merchant", ["1", "1"])
    assert "Quel est le nom de votre commerce ?" in out
    assert "Dans quel secteur travaillez-vous ?" in out


async def test_a_number_after_the_buttons_were_answered_is_text_and_the_menu_taps_by_m_number() -> (
    None
):
    # First name, business name, sector, commune, language, consent: onboarding is done.
    onboarding = ["1", "Boulangerie Camille", "2", "1", "1", "1"]
    # [2] answers the progress baseline's offer with "Plus tard".
    out = await _session("merchant", [*onboarding, "2", "1", "m3"])
    assert "C'est fait, Camille !" in out
    assert "Je vous le proposerai à nouveau" in out
    # Every button was answered: "1" is a message the bot does not understand.
    assert "Je n'ai pas bien compris" in out
    menu = "menu : [m1] 🎯 Nouvel objectif | [m2] 📋 Mes objectifs | [m3] 💡 Une astuce"
    assert menu in out
    # m3 pressed "💡 Une astuce": a tip came, with its own numbered buttons.
    assert "💡 Astuce ·" in out.split("Je n'ai pas bien compris", 1)[1]
    assert "[1] 👍 Utile" in out


async def test_a_coordinator_sees_real_attendance_and_objectives_at_once() -> None:
    out = await _session("coordinator", ["/presences", "/stats", "/groupe"])
    assert "Sophie" in out  # /presences lists the demo merchants
    assert "Tendance" in out
    assert "+3" in out
    assert "Julien (Menuiserie Vandenberghe)" in out  # /groupe: stuck first
    assert "presences.png" in out  # the chart was sent and saved


async def test_empty_starts_without_a_cohort() -> None:
    out = await _session("merchant", [], empty=True)
    assert "lien d'invitation" in out


@pytest.mark.parametrize(
    ("text", "hours"),
    [("+2h", 2), ("3d", 72), ("+90m", 1.5), ("2 h", 2)],
)
def test_time_jumps_parse(text: str, hours: float) -> None:
    delta = parse_duration(text)
    assert delta is not None
    assert delta.total_seconds() == hours * 3600


@pytest.mark.parametrize("text", ["", "soon", "+2y", "-3d"])
def test_bad_time_jumps_are_refused(text: str) -> None:
    assert parse_duration(text) is None
