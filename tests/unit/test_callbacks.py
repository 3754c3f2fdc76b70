"""The callback-data codec (bot/callbacks.py): one shape per button, the same bytes for weeks.

Buttons sent by the outbox are pressed days later, so the wire format is pinned here; every
shape packs and parses back, no two shapes read the same data, and untrusted data — ids
beyond PostgreSQL's int4, signs, non-ASCII digits, more than 64 bytes — parses to None.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot import callbacks
from bot.callbacks import (
    AREAS,
    MAX_BYTES,
    MAX_ID,
    Callback,
    ClockTime,
    Day,
    Instant,
    Number,
    Token,
)
from bot.services.access import Access, callback_access

ROOT = Path(__file__).resolve().parents[2]

# One example value per kind of field.
TOKENS = {
    "[A-Za-z0-9_-]{1,48}": "time_protection",
    "[a-z0-9]+(?:-[a-z0-9]+)*": "avis-01-au-bon-moment",
    "[a-z]{2}": "fr",
    "[a-z]{3}": "mon",
    "20[0-9]{2}(?:0[1-9]|1[0-2])": "202612",
    "[a-z][a-z0-9_]{0,23}": "reads_statistics",
}


def examples(kind: Any) -> list[Any]:
    if isinstance(kind, Number):
        return [kind.low, kind.high]
    if isinstance(kind, callbacks.Choice):
        return list(kind.words)
    if isinstance(kind, Token):
        return [TOKENS[kind.shape]]
    if isinstance(kind, Day):
        return [date(2026, 12, 2)]
    if isinstance(kind, ClockTime):
        return [time(19, 30), time(0, 0)]
    if isinstance(kind, Instant):
        return [datetime(2026, 12, 2, 18, 0, tzinfo=UTC)]
    raise AssertionError(kind)


def instances(shape: type[Callback]) -> list[Callback]:
    """A few instances of a shape: every word of a choice, both ends of a number range."""
    fields = [(name, kind) for name, kind in shape.segments if kind is not None]
    found: list[dict[str, Any]] = [{}]
    for name, kind in fields:
        found = [{**values, name: value} for values in found for value in examples(kind)]
    return [shape(**values) for values in found]


SHAPES = callbacks.shapes()
ALL = [(shape.__name__, item) for shape in SHAPES for item in instances(shape)]


@pytest.mark.parametrize(("name", "item"), ALL, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ALL)])
def test_every_shape_packs_and_parses_back_to_itself_alone(name: str, item: Callback) -> None:
    data = item.pack()
    assert len(data.encode()) <= MAX_BYTES
    assert type(item).parse(data) == item
    assert type(item).pattern().fullmatch(data), name
    assert item.area.pattern.match(data)
    # No other shape, of any area, reads the same data.
    readers = [shape.__name__ for shape in SHAPES if shape.parse(data) is not None]
    assert readers == [name]
    assert item.area.parse(data) == item


# The wire format of buttons already sent: it must never change.
WIRE = [
    (callbacks.Rsvp(42, "yes"), "rsvp:42:yes"),
    (callbacks.CalendarFile(42), "ics:42"),
    (callbacks.ObjectiveAction(7, "stuck"), "obj:7:stuck"),
    (callbacks.ObjectiveNumber(7, 3), "obj:7:n:3"),
    (callbacks.ObjectiveStep("resume"), "objset:resume"),
    (callbacks.ObjectiveDue(date(2026, 12, 9)), "objset:due:20261209"),
    (callbacks.ObjectiveOtherCount(), "objset:n:other"),
    (callbacks.TipVote("avis-01-au-bon-moment", "down"), "tip:avis-01-au-bon-moment:down"),
    (callbacks.TipTime(time(9, 30)), "set:time:0930"),
    (callbacks.Pause("pause"), "set:pause"),
    (callbacks.AnswerQuestion(5), "qa:5"),
    (callbacks.AnswerStep(5, "send"), "qa:5:send"),
    (callbacks.KeepMyData(), "priv:keep"),
    (callbacks.Forget("confirm"), "priv:forget:confirm"),
    (callbacks.StaffInvite(3, "coordinator"), "inv:staff:3:coordinator"),
    (callbacks.BoosterLever(3, "endok"), "inv:boost:3:endok"),
    (callbacks.CohortPickToInvite(3), "cohort:3:inv"),
    (callbacks.SessionCard(9, "summary"), "sess:9:summary"),
    (callbacks.PlanTime(time(19, 0)), "newsess:t:1900"),
    (callbacks.PlanCapacity(0), "newsess:c:0"),
    (callbacks.RollPage(9, 1), "roll:9:p:1"),
    (callbacks.RollToggle(9, 12), "roll:9:12"),
    (callbacks.GroupOpen(), "grp:open"),
    (callbacks.DraftAudience(4, "s-beauty"), "bc:4:a:s-beauty"),
    (callbacks.DraftTime(4, datetime(2026, 12, 2, 18, tzinfo=UTC)), "bc:4:at:1796234400"),
    (callbacks.PushTipCancel(), "bc:pushx"),
    (callbacks.Language("nl"), "lang:nl"),
    (callbacks.OnboardingConsent("yes"), "onb:consent:yes"),
    (callbacks.Presences(9), "pres:9"),
]


@pytest.mark.parametrize(("item", "data"), WIRE, ids=[data for _, data in WIRE])
def test_the_wire_format_of_sent_buttons_stays_the_same(item: Callback, data: str) -> None:
    assert item.pack() == data
    assert type(item).parse(data) == item


@pytest.mark.parametrize(
    "data",
    [
        f"rsvp:{MAX_ID + 1}:yes",  # beyond int4: a database error, not a "not found"
        "rsvp:99999999999:yes",
        "rsvp:0:yes",  # ids start at 1
        "rsvp:-1:yes",
        "rsvp:+1:yes",
        "rsvp:١٢:yes",  # Arabic-Indic digits pass str.isdigit()
        "rsvp:1:maybe",
        "rsvp:1:yes:",
        "rsvp:1",
        "rsvp::yes",
        "RSVP:1:yes",
        "roll:1:p:1000000",
        "newsess:d:20261399",  # no such day
        "newsess:t:2460",
        "bc:1:at:99999999999",  # beyond what a datetime can hold safely
        "tip:Avis-01:up",
        "tip:" + "a" * 58 + ":up",  # 65 bytes: never from Telegram
        "tip:" + "é" * 29 + ":up",
        "",
        ":",
    ],
)
def test_forged_or_oversized_data_parses_to_nothing(data: str) -> None:
    assert [shape.__name__ for shape in SHAPES if shape.parse(data) is not None] == []


def test_the_largest_id_fits_and_packing_past_the_limits_is_refused() -> None:
    assert callbacks.Rsvp.parse(f"rsvp:{MAX_ID}:no") == callbacks.Rsvp(MAX_ID, "no")
    longest = callbacks.TipVote("a" * 57, "up")
    assert len(longest.pack().encode()) == MAX_BYTES
    assert callbacks.TipVote.parse(longest.pack()) == longest
    with pytest.raises(ValueError, match="out of range"):
        callbacks.Rsvp(MAX_ID + 1, "yes").pack()
    with pytest.raises(ValueError, match="64 bytes"):
        callbacks.PushTipConfirm("a" * 60).pack()
    with pytest.raises(ValueError, match="is not one of"):
        callbacks.Rsvp(1, "maybe").pack()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not match"):
        callbacks.LibraryTheme("thème").pack()


def test_a_pattern_can_pin_a_word_and_refuses_unknown_fields() -> None:
    stuck = callbacks.ObjectiveAction.pattern(action="stuck")
    assert stuck.pattern == "^obj:[0-9]{1,10}:stuck$"
    assert stuck.match("obj:7:stuck")
    assert not stuck.match("obj:7:done")
    with pytest.raises(TypeError):
        callbacks.ObjectiveAction.pattern(verb="stuck")


def test_every_area_has_an_access_and_the_gate_reads_it_from_the_codec() -> None:
    assert {shape.area.name for shape in SHAPES} == set(AREAS)
    for name, area in AREAS.items():
        assert area.pattern.pattern == f"^{name}:"
        assert callback_access(f"{name}:anything") is area.access
    assert callback_access("bc:1:now") is Access.TRAINER
    assert callback_access("lang:fr") is Access.ANYONE
    assert callback_access("zzz:1") is None
    assert callback_access("") is None


def test_only_the_codec_builds_callback_data_or_writes_handler_patterns() -> None:
    """Callback data is packed by bot/callbacks.py and handler patterns come from it."""
    written = re.compile(r"""callback_data=f["']|pattern=r?f?["']\^""")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("bot", "handlers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "bot" / "callbacks.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if written.search(line)
    ]
    assert found == []
