"""The coordinator's figures end to end: `/stats` (the chart decoded, the table read) and
`/export` (the workbook read back with openpyxl), plus `relais export` on the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import matplotlib.image
from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli.export import export_command
from bot.models import (
    Attendance,
    AttendanceMethod,
    AuditEntry,
    Cohort,
    ObservationSource,
    Rsvp,
    RsvpAnswer,
    TrainingSession,
)
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import Room, plan, room
from tests.e2e.snapshots import member_of
from tests.factories import make_members, observation

FIRST = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


async def three_sessions(relais: Harness, r: Room) -> list[TrainingSession]:
    """Sessions on 2, 9 and 16 December: 1, 2 then 3 present (Alice walks in the third time
    without having answered); one more planned for January."""
    held = [
        await plan(relais, r.tom, f"{day:02d}/12/2026 19:00 | Salle du Conseil | Thème {i}")
        for i, day in enumerate((2, 9, 16), start=1)
    ]
    await plan(relais, r.tom, "13/01/2027 19:00 | Salle du Conseil | Thème 4")
    alice, bob, carol = [await member_of(relais, u.id) for u in (r.alice, r.bob, r.carol)]
    assert alice
    assert bob
    assert carol
    plan_rows = [
        ({bob.id, carol.id}, {bob.id}),
        ({bob.id, carol.id}, {bob.id, carol.id}),
        ({bob.id, carol.id}, {alice.id, bob.id, carol.id}),
    ]
    async with relais.session() as session:
        for ts, (said_yes, came) in zip(held, plan_rows, strict=True):
            for member_id in sorted(said_yes):
                session.add(Rsvp(session_id=ts.id, member_id=member_id, answer=RsvpAnswer.YES))
            for member_id in sorted(came):
                session.add(
                    Attendance(
                        session_id=ts.id,
                        member_id=member_id,
                        method=AttendanceMethod.QR
                        if member_id == alice.id
                        else AttendanceMethod.ROLL_CALL,
                        recorded_at=ts.starts_at,
                    )
                )
    return held


async def test_stats_show_a_chart_and_a_table_of_attendance(relais: Harness) -> None:
    r = await room(relais)
    await r.claire.send("/stats")
    await r.claire.expect("Aucune séance n'a encore eu lieu")
    await three_sessions(relais, r)
    relais.clock.set(FIRST + timedelta(days=20))

    await r.claire.send("/stats")
    photo = await r.claire.expect("3 séances, 6 présences au total", kind="photo")
    assert photo.photo is not None
    image = matplotlib.image.imread(BytesIO(photo.photo.data), format="png")
    assert image.shape[:2] == (450, 800)
    assert image.std() > 0.05  # something is drawn
    table = await r.claire.expect("Présences par séance")
    lines = table.text.splitlines()
    rows = [line.split() for line in lines if line.strip()[:1].isdigit() and "/" in line]
    assert rows == [
        ["1", "02/12", "1", "2", "50", "%"],
        ["2", "09/12", "2", "2", "0", "%", "+1"],
        ["3", "16/12", "3", "2", "0", "%", "+1"],
    ]
    assert "Tendance : en hausse" in table.text
    assert "1 séance à venir." in table.text
    assert "Participation entre les séances" in table.text
    assert "Commerçants inscrits : 3" in table.text

    await r.tom.send("/stats")
    await r.tom.expect("réservée à la coordination")
    await r.alice.send("/stats")
    await r.alice.expect("réservée à la coordination")


async def test_export_sends_a_workbook_with_every_sheet(relais: Harness, tmp_path: Path) -> None:
    r = await room(relais)
    held = await three_sessions(relais, r)
    relais.clock.set(FIRST + timedelta(days=20))

    await r.claire.send("/export")
    document = await r.claire.expect("dans un tableur", kind="document")
    assert document.document is not None
    assert document.document.filename == "relais-estaimpuis-2026-2026-12-22.xlsx"
    book = load_workbook(BytesIO(document.document.data))
    assert book.sheetnames == [
        "Membres",
        "Séances",
        "Réponses",
        "Présences",
        "Objectifs",
        "Point du mois",
        "Pratiques",
    ]

    members = list(book["Membres"].iter_rows(values_only=True))
    assert members[0][:4] == ("N° membre", "Prénom", "Nom", "Commerce")
    assert sorted((row[1], row[6]) for row in members[1:]) == [
        ("Alice", "commerçant"),
        ("Bob", "commerçant"),
        ("Carol", "commerçant"),
        ("Claire", "coordination"),
        ("Tom", "formateur"),
    ]

    sessions = list(book["Séances"].iter_rows(values_only=True))
    assert sessions[0][:3] == ("Séance", "Début (Europe/Brussels)", "Fin (Europe/Brussels)")
    first = sessions[1]
    assert first[0] == 1
    assert first[1] == datetime(2026, 12, 2, 19, 0)  # local wall time
    assert first[3:5] == ("Salle du Conseil", "Thème 1")
    assert (first[7], first[10]) == (2, 1)  # yes, present
    assert [row[10] for row in sessions[1:]] == [1, 2, 3, 0]

    answers = list(book["Réponses"].iter_rows(values_only=True))[1:]
    assert len(answers) == 6
    assert {row[4] for row in answers} == {"oui"}
    presences = list(book["Présences"].iter_rows(values_only=True))[1:]
    assert len(presences) == 6
    assert "QR code" in {row[4] for row in presences}
    assert "appel" in {row[4] for row in presences}
    assert {row[0] for row in presences} == {ts.number for ts in held}

    async with relais.session() as session:
        exported = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "cohort.export"))
        ).all()
    assert [(e.cohort_id, e.details) for e in exported] == [(r.cohort.id, {"via": "telegram"})]

    await r.tom.send("/export")
    await r.tom.expect("réservée à la coordination")

    # The same workbook from the command line, by id or by join code.
    out = tmp_path / "groupe.xlsx"
    by_code = await asyncio.to_thread(export_command, relais.settings, r.cohort.join_code, out)
    assert by_code == 0
    assert load_workbook(out).sheetnames[1] == "Séances"
    by_id = await asyncio.to_thread(export_command, relais.settings, str(r.cohort.id), out)
    assert by_id == 0
    unknown = await asyncio.to_thread(export_command, relais.settings, "NOPE", tmp_path / "x.xlsx")
    assert unknown == 1


async def test_an_archived_cohort_exports_nothing(relais: Harness) -> None:
    r = await room(relais)
    await three_sessions(relais, r)
    async with relais.session() as session:
        cohort = await session.get(Cohort, r.cohort.id)
        assert cohort is not None
        cohort.archived_at = relais.clock.now()

    await r.claire.send("/export")
    await r.claire.expect("Vous ne faites partie d'aucun groupe pour le moment.")
    await r.claire.expect_nothing()
    assert not [m for m in r.claire.messages if m.kind == "document"]
    async with relais.session() as session:
        exported = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "cohort.export")
        )
    assert exported is None


async def test_export_shows_the_progress_check_as_aggregates_only(relais: Harness) -> None:
    """The commune sees group figures, never a merchant's own, and nothing over < 5 people."""
    r = await room(relais)
    alice, bob = [await member_of(relais, u.id) for u in (r.alice, r.bob)]
    assert alice
    assert bob
    start = relais.clock.now()
    async with relais.session() as session:
        cohort = await session.get(Cohort, alice.active_cohort_id)
        assert cohort is not None
        others = await make_members(session, cohort, 4)
        november = [(alice, 120, 0), (bob, 40, 1)] + [
            (member, followers, video)
            for member, followers, video in zip(others, (10, 20, 30, 50), (0, 0, 1, 0), strict=True)
        ]
        for member, followers, video in november:
            for metric, value in (("followers", followers), ("practice:short_video", video)):
                await observation(
                    session,
                    member,
                    metric,
                    value,
                    observed_at=start,
                    source=ObservationSource.BASELINE,
                )
        for member in (alice, bob):  # a practice only two people answered
            await observation(session, member, "practice:gone_live", 1, observed_at=start)
        await observation(session, alice, "followers", 150, observed_at=start + timedelta(days=30))
        await observation(
            session, alice, "practice:short_video", 1, observed_at=start + timedelta(days=30)
        )
    relais.clock.set(start + timedelta(days=31))

    await r.claire.send("/export")
    document = await r.claire.expect("points du mois", kind="document")
    assert document.document is not None
    book = load_workbook(BytesIO(document.document.data))
    answers = list(book["Point du mois"].iter_rows(values_only=True))
    assert answers == [
        ("Mois", "Question", "Ont répondu", "Médiane"),
        ("2026-11", "Abonnés de la page", "6", 35),
        ("2026-12", "Abonnés de la page", "< 5", "< 5"),
    ]
    practices = list(book["Pratiques"].iter_rows(values_only=True))
    assert practices == [
        ("Pratique", "Ont répondu", "Adoptée au premier point", "Adoptée au dernier point"),
        ("J'ai déjà publié une vidéo courte", "6", 2, 3),
        ("J'ai déjà fait un direct (live)", "< 5", "< 5", "< 5"),
    ]
    cells = {
        str(cell)
        for sheet in ("Point du mois", "Pratiques")
        for row in book[sheet].iter_rows(values_only=True)
        for cell in row
    }
    assert not any("Alice" in cell or "Bob" in cell for cell in cells)
