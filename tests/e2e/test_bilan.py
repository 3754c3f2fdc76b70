"""`/bilan` end to end: the coordinator (and the trainer) receive the impact report as a PDF
whose headline figures match the database; a figure over fewer than five people reads "< 5";
a merchant is refused kindly; a cohort with no observations gets its empty states; and
`relais bilan` writes the same file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from bot.cli.bilan import bilan_command
from bot.cli.common import CliError
from bot.clock import ManualClock
from bot.models import (
    Attendance,
    AttendanceMethod,
    Enrolment,
    Member,
    ObjectiveStatus,
    ObservationSource,
)
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import Room, room
from tests.e2e.snapshots import member_of
from tests.factories import build_objective, make_session, observation

DECEMBER_CHECK = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REPORT_AT = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)


def pdf_text(data: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


async def programme(relais: Harness, r: Room) -> list[Member]:
    """Six merchants (Alice, Bob, Carol and three more), a baseline for all on 25 November, a
    December check for five; two sessions (6 then 3 present); four objectives reached."""
    for name in ("Dan", "Eve", "Fay"):
        await relais.make_member(relais.user(name), r.cohort, business_name=f"Chez {name}")
    async with relais.session() as tx:
        people = list(
            (
                await tx.scalars(
                    select(Member)
                    .join(Enrolment, Enrolment.member_id == Member.id)
                    .where(Enrolment.cohort_id == r.cohort.id)
                    .order_by(Member.id)
                )
            ).all()
        )
        assert [p.first_name for p in people] == ["Alice", "Bob", "Carol", "Dan", "Eve", "Fay"]
        baseline = {
            "followers": [100, 200, 50, 80, 120, 10],
            "practice:weekly_post": [0, 0, 1, 0, 1, 0],
        }
        for metric, values in baseline.items():
            for person, value in zip(people, values, strict=True):
                await observation(
                    tx,
                    person,
                    metric,
                    value,
                    observed_at=relais.clock.now(),
                    source=ObservationSource.BASELINE,
                )
        december = {
            "followers": {0: 150, 1: 260, 2: 60, 3: 90, 4: 130},
            "practice:weekly_post": {0: 1, 1: 1, 3: 0},  # the others adopted it already
        }
        for metric, answers in december.items():
            for index, value in answers.items():
                await observation(tx, people[index], metric, value, observed_at=DECEMBER_CHECK)
        for number, day, came in ((1, 2, 6), (2, 9, 3)):
            ts = await make_session(
                tx, r.cohort, datetime(2026, 12, day, 18, tzinfo=UTC), number=number
            )
            tx.add_all(
                Attendance(
                    session_id=ts.id,
                    member_id=p.id,
                    method=AttendanceMethod.ROLL_CALL,
                    recorded_at=ts.starts_at,
                )
                for p in people[:came]
            )
        done = ObjectiveStatus.DONE.value
        tx.add_all(build_objective(p, r.cohort, status=done) for p in people[:4])
        tx.add(build_objective(people[4], r.cohort))
    return people


async def test_the_coordinator_receives_the_impact_report_as_a_pdf(relais: Harness) -> None:
    r = await room(relais)
    await programme(relais, r)
    relais.clock.set(REPORT_AT)

    await r.claire.send("/bilan")
    sent = await r.claire.expect("Le bilan du groupe", kind="document")
    assert sent.document is not None
    assert sent.document.filename == "bilan-estaimpuis-2026.pdf"
    assert sent.document.data.startswith(b"%PDF")
    text = pdf_text(sent.document.data)

    # The headline figures, as the database has them.
    async with relais.session() as tx:
        members = await tx.scalar(
            select(func.count(Enrolment.id)).where(Enrolment.cohort_id == r.cohort.id)
        )
    assert members == 6
    assert f"{members} commerçants ont rejoint le programme" in text
    assert "2 séances ont eu lieu" in text
    assert "Estaimpuis 2026 · Estaimpuis" in text
    assert "Du 25 novembre 2026 au 20 décembre 2026" in text
    # Session 1: 6 came; session 2: 3 came, and nobody answered yes: "< 5".
    assert "1 2 déc. 2026 Vidéo et live 6 < 5" in text
    assert "2 9 déc. 2026 Vidéo et live < 5 < 5" in text
    # Objectives: 5 set, 4 reached (by 4 people: hidden).
    assert "Fixés 5 5" in text
    assert "Atteints < 5 < 5" in text
    # The same five members, at their first answer and now.
    assert "Je publie au moins une fois par semaine 40 % 80 %" in text
    assert "Abonnés de la page (médiane) 100 130" in text
    # Aggregates only: no merchant is named.
    for name in ("Alice", "Bob", "Carol", "Dan", "Eve", "Fay"):
        assert name not in text

    # A trainer may ask too.
    await r.tom.send("/bilan")
    by_trainer = await r.tom.expect("Le bilan du groupe", kind="document")
    assert by_trainer.document is not None
    assert "6 commerçants ont rejoint le programme" in pdf_text(by_trainer.document.data)


async def test_a_merchant_asking_for_the_bilan_is_refused_kindly(relais: Harness) -> None:
    r = await room(relais)
    await r.alice.send("/bilan")
    await r.alice.expect("Cette commande est réservée à l'équipe de la formation.")
    await r.alice.expect_nothing()
    assert not [m for m in r.alice.messages if m.kind == "document"]


async def test_a_cohort_without_observations_gets_a_report_with_empty_states(
    relais: Harness,
) -> None:
    r = await room(relais)
    await r.tom.send("/bilan")
    sent = await r.tom.expect("Le bilan du groupe", kind="document")
    assert sent.document is not None
    text = pdf_text(sent.document.data)
    # Three merchants: fewer than five people.
    assert "< 5 commerçants ont rejoint le programme" in text
    assert "0 séances ont eu lieu" in text
    assert "Aucune séance n'a encore eu lieu pour ce groupe." in text
    assert "Personne n'a encore répondu au point mensuel" in text
    assert "Pas encore assez d'avis sur les astuces" in text


async def test_relais_bilan_writes_the_pdf(relais: Harness, tmp_path: Path) -> None:
    r = await room(relais)
    await programme(relais, r)
    alice = await member_of(relais, r.alice.id)
    assert alice is not None
    out = tmp_path / "bilan.pdf"
    code = await asyncio.to_thread(
        bilan_command,
        relais.settings,
        r.cohort.join_code,
        out,
        lang="nl",
        clock=ManualClock(REPORT_AT),
    )
    assert code == 0
    text = pdf_text(out.read_bytes())
    assert "Resultaten van het programma" in text
    assert "6 handelaars namen deel aan het programma" in text
    by_id = await asyncio.to_thread(
        bilan_command, relais.settings, str(r.cohort.id), out, clock=ManualClock(REPORT_AT)
    )
    assert by_id == 0
    assert "Bilan du programme" in pdf_text(out.read_bytes())
    with pytest.raises(CliError, match="no cohort"):
        await asyncio.to_thread(bilan_command, relais.settings, "NOPE", out)
    with pytest.raises(CliError, match="does not exist"):
        await asyncio.to_thread(bilan_command, relais.settings, "NOPE", tmp_path / "x" / "b.pdf")


async def test_stats_show_this_months_check_as_counts(relais: Harness) -> None:
    r = await room(relais)
    await r.claire.send("/stats")
    first = await r.claire.expect("Participation entre les séances")
    assert "Point du mois" not in first.text  # nobody ever answered one: nothing to say
    await programme(relais, r)
    relais.clock.set(REPORT_AT)

    await r.claire.send("/stats")
    await r.claire.expect("2 séances, 9 présences au total", kind="photo")
    table = await r.claire.expect("Point du mois (décembre 2026)")
    # Five of six answered in December (Fay did not); five moved since their first answer.
    assert "📝 Ont répondu : 5 sur 6 · pas encore : < 5" in table.text
    assert "(un chiffre ou une pratique en hausse) : 5" in table.text
    for name in ("Alice", "Bob", "Fay"):
        assert name not in table.text
