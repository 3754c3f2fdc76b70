"""Operations of trust: `relais audit`, `relais purge`, and invitations bound to one cohort and
one role, used once even when two people race for the same link."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.db import Database
from bot.models import Member, Role
from bot.services import cohorts, privacy, staff
from bot.services.staff import InviteOutcome
from tests.conftest import TEST_DATABASE_URL, truncate_all
from tests.factories import build_cohort, build_member, enrol


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """`relais ...` run in an empty folder against the test database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST-TOKEN")
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    return database_url


async def _fresh(url: str) -> Database:
    db = Database(url)
    if TEST_DATABASE_URL:
        await truncate_all(db)
    return db


async def _staff_story(url: str) -> str:
    """Claire creates a cohort and invites Tom, who accepts; Zoé is then erased."""
    db = await _fresh(url)
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    try:
        async with db.unit_of_work() as session:
            claire, tom = build_member("Claire", user_id=1), build_member("Tom", user_id=2)
            zoe = build_member("Zoé", user_id=3, business_name="Chez Zoé")
            session.add_all([claire, tom, zoe])
            await session.flush()
            cohort = await cohorts.create_cohort(
                session,
                name="Estaimpuis 2026",
                commune="Estaimpuis",
                timezone="Europe/Brussels",
                language="fr",
                now=now,
                created_by_id=claire.id,
            )
            invitation = await staff.create_invitation(
                session,
                cohort_id=cohort.id,
                role=Role.TRAINER,
                created_by_id=claire.id,
                now=now,
                ttl=timedelta(hours=72),
            )
            await staff.accept_invitation(session, invitation.token, member_id=tom.id, now=now)
            await privacy.forget_member(session, zoe.id, now + timedelta(minutes=5))
            return cohort.join_code
    finally:
        await db.dispose()


def test_relais_audit_lists_staff_actions_and_erasures(
    cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = asyncio.run(_staff_story(cli_env))

    assert main(["audit"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6
    assert "#1 Claire" in out[0]
    assert "cohort.create" in out[0]
    assert "Zoé" not in "\n".join(out)  # the erasure is anonymous

    assert main(["audit", "--json"]) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions == [
        "cohort.create",
        "staff.grant",
        "staff.invite",
        "staff.grant",
        "staff.accept",
        "privacy.forget",
    ]

    assert main(["audit", "--cohort", code, "--action", "staff.", "--json", "--limit", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["action"], r["actor"], r["cohort"]) for r in rows] == [
        ("staff.grant", "#1 Claire", "Estaimpuis 2026"),
        ("staff.accept", "#2 Tom", "Estaimpuis 2026"),
    ]
    assert rows[0]["details"]["role"] == "trainer"

    assert main(["audit", "--since", "2030-01-01"]) == 0
    assert "no entry" in capsys.readouterr().out
    assert main(["audit", "--cohort", "NOPE"]) == 2
    assert main(["audit", "--since", "hier"]) == 2


async def _forgotten_by_everyone(url: str) -> int:
    """Someone added by name at a roll call, three years ago: nobody to warn."""
    db = await _fresh(url)
    then = datetime.now(UTC) - timedelta(days=1100)
    try:
        async with db.unit_of_work() as session:
            cohort = build_cohort("2023", commune="Pecq", join_code="OLD2023", created_at=then)
            person = build_member("Gaston", user_id=None, created_at=then, last_seen_at=then)
            session.add_all([cohort, person])
            await session.flush()
            await enrol(session, cohort, person, joined_at=then)
            return person.id
    finally:
        await db.dispose()


async def _exists(url: str, member_id: int) -> bool:
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            return await session.get(Member, member_id) is not None
    finally:
        await db.dispose()


def test_relais_purge_counts_then_erases(
    cli_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    member_id = asyncio.run(_forgotten_by_everyone(cli_env))
    assert main(["purge", "--dry-run"]) == 0
    assert "would erase 1 member(s)" in capsys.readouterr().out
    assert asyncio.run(_exists(cli_env, member_id))
    assert main(["purge"]) == 0
    assert "erased 1 member(s), queued 0 warning(s)" in capsys.readouterr().out
    assert not asyncio.run(_exists(cli_env, member_id))
    monkeypatch.setenv("RETENTION_DAYS", "0")
    assert main(["purge"]) == 0
    assert "automatic erasure is off" in capsys.readouterr().out


# --- invitations: one cohort, one role, once -------------------------------------------------


async def test_an_invitation_grants_its_role_in_its_cohort_only(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        claire, tom = build_member("Claire", user_id=1), build_member("Tom", user_id=2)
        session.add_all([claire, tom])
        await session.flush()
        made = []
        for name in ("Estaimpuis", "Pecq"):
            made.append(
                await cohorts.create_cohort(
                    session,
                    name=name,
                    commune=name,
                    timezone="Europe/Brussels",
                    language="fr",
                    now=clock.now(),
                    created_by_id=claire.id,
                )
            )
        first, second = made
        invitation = await staff.create_invitation(
            session,
            cohort_id=first.id,
            role=Role.TRAINER,
            created_by_id=claire.id,
            now=clock.now(),
            ttl=timedelta(hours=72),
        )
        result = await staff.accept_invitation(
            session, invitation.token, member_id=tom.id, now=clock.now()
        )
        assert result.outcome is InviteOutcome.ACCEPTED
        assert await staff.roles_in(session, tom.id, first.id) == {Role.TRAINER}
        assert await staff.roles_in(session, tom.id, second.id) == frozenset()


async def test_two_people_racing_for_one_invitation_get_one_role(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        claire = build_member("Claire", user_id=1)
        racers = [build_member(f"Racer{n}", user_id=10 + n) for n in range(4)]
        session.add_all([claire, *racers])
        await session.flush()
        cohort = await cohorts.create_cohort(
            session,
            name="Estaimpuis",
            commune="Estaimpuis",
            timezone="Europe/Brussels",
            language="fr",
            now=clock.now(),
            created_by_id=claire.id,
        )
        invitation = await staff.create_invitation(
            session,
            cohort_id=cohort.id,
            role=Role.COORDINATOR,
            created_by_id=claire.id,
            now=clock.now(),
            ttl=timedelta(hours=72),
        )
        token, cohort_id, ids = invitation.token, cohort.id, [r.id for r in racers]

    async def accept(member_id: int) -> InviteOutcome:
        async with db.unit_of_work() as session:
            result = await staff.accept_invitation(
                session, token, member_id=member_id, now=clock.now()
            )
            return result.outcome

    outcomes = await asyncio.gather(*(accept(member_id) for member_id in ids))
    assert sorted(outcomes) == sorted(
        [InviteOutcome.ACCEPTED] + [InviteOutcome.USED] * (len(ids) - 1)
    )
    async with db.unit_of_work() as session:
        holders = [m for m in ids if await staff.roles_in(session, m, cohort_id)]
    assert len(holders) == 1
