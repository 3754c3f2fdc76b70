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
