"""Trios: small peer groups of merchants in a cohort who encourage each other.

Two halves:

- **The rule** (`group_sizes`, `form_groups`, `smallest_group`): pure functions on plain
  candidates, no database. Groups of `TRIO_SIZE` where possible, never a group of one
  (4 → 2+2, 5 → 3+2); mixed sectors first (a hairdresser, a carpenter and a bookseller do
  not compete), the same commune when possible; a seed makes "reshuffle" deterministic.
- **The cohort's trios** in the database: a draft the trainer previews (`preview`), moves
  people in (`move`) and confirms (`confirm`); late joiners go to the smallest trio
  (`add_late_joiner`); a member can leave theirs (`leave`). Who may be in a trio: enrolled,
  onboarded, not paused, reachable, and not someone who left their trio.

The trio's week (digest, encouragements) is bot/services/trio_week.py.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import enqueue
from bot.delivery.registry import Planned
from bot.models import (
    DeliveryKind,
    Enrolment,
    Member,
    StaffRole,
    Trio,
    TrioMembership,
)

TRIO_KIND = DeliveryKind.TRIO.value


class LeftReason(StrEnum):
    """Why a membership ended (only LEFT keeps the member out of later reshuffles)."""

    LEFT = "left"  # the member left their trio
    RESHUFFLED = "reshuffled"  # a new set of trios replaced this one
    MOVED = "moved"  # the trainer moved them to another trio


# -- the rule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    member_id: int
    sector: str | None = None
    commune: str | None = None


def group_sizes(count: int, size: int) -> list[int]:
    """How many people in each group: as even as possible, none of one (4 → 2+2, 5 → 3+2)."""
    if count < 2:
        return []
    groups = min(-(-count // size), count // 2)
    base, extra = divmod(count, groups)
    return [base + 1] * extra + [base] * (groups - extra)


def _fit(group: Sequence[Candidate], person: Candidate) -> tuple[int, int, int]:
    """How well `person` fits `group` (lower is better): sector clash, other commune, size."""
    same_sector = sum(1 for other in group if person.sector and other.sector == person.sector)
    other_commune = sum(1 for other in group if other.commune != person.commune)
    return (same_sector, other_commune, len(group))


def form_groups(candidates: Sequence[Candidate], size: int, seed: int = 0) -> list[list[Candidate]]:
    """Split `candidates` into groups (see `group_sizes`), sectors spread, communes together.

    People of the most common sector are placed first, each in the group where their sector
    is least present, then the group of their commune, then the emptiest group. `seed`
    orders people within a sector (and sectors of equal size): another seed, another set.
    """
    sizes = group_sizes(len(candidates), size)
    if not sizes:
        return []
    rng = random.Random(seed)
    people = sorted(candidates, key=lambda person: person.member_id)
    rng.shuffle(people)
    counts = Counter(person.sector for person in people)
    sector_rank = {sector: index for index, sector in enumerate(counts)}
    # Most common sector first (their spread is the hardest); ties in the seeded order.
    people.sort(key=lambda person: (-counts[person.sector], sector_rank[person.sector]))
    groups: list[list[Candidate]] = [[] for _ in sizes]
    for person in people:
        open_groups = [index for index, group in enumerate(groups) if len(group) < sizes[index]]
        best = min(open_groups, key=lambda index: (_fit(groups[index], person), index))
        groups[best].append(person)
    return groups


def smallest_group(groups: Sequence[Sequence[Candidate]], newcomer: Candidate) -> int | None:
    """The index of the group a late joiner goes to: the smallest, then the best fit."""
    if not groups:
        return None
    return min(range(len(groups)), key=lambda index: (_fit(groups[index], newcomer), index))


# -- the cohort's trios ---------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    member_id: int
    first_name: str
    business_name: str | None
    sector: str | None


@dataclass(frozen=True)
class TrioView:
    trio_id: int
    number: int
    confirmed: bool
    peers: tuple[Peer, ...]


async def eligible(session: AsyncSession, cohort_id: int) -> list[Candidate]:
    """Who may be in a trio of the cohort (enrolled, onboarded, not paused, reachable,
    not staff, and not someone who chose to leave their trio)."""
    left_by_choice = exists().where(
        TrioMembership.member_id == Member.id,
        TrioMembership.left_at.is_not(None),
        TrioMembership.trio_id == Trio.id,
        Trio.cohort_id == cohort_id,
        TrioMembership.left_reason == LeftReason.LEFT.value,
    )
    is_staff = exists().where(StaffRole.member_id == Member.id, StaffRole.cohort_id == cohort_id)
    rows = await session.execute(
        select(Member.id, Member.sector, Member.commune)
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(
            Enrolment.cohort_id == cohort_id,
            Enrolment.left_at.is_(None),
            Member.onboarded_at.is_not(None),
            Member.paused.is_(False),
            Member.reachable.is_(True),
            Member.chat_id.is_not(None),
            ~left_by_choice,
            ~is_staff,
        )
        .order_by(Member.id)
    )
    return [Candidate(member_id, sector, commune) for member_id, sector, commune in rows]


async def trios_of(
    session: AsyncSession, cohort_id: int, *, confirmed: bool = True
) -> list[TrioView]:
    """The cohort's current trios (or its draft), with their present members."""
    condition = Trio.confirmed_at.is_not(None) if confirmed else Trio.confirmed_at.is_(None)
    rows = await session.execute(
        select(Trio.id, Trio.number, Member.id, Member.first_name, Member.business_name)
        .add_columns(Member.sector)
        .join(TrioMembership, TrioMembership.trio_id == Trio.id)
        .join(Member, Member.id == TrioMembership.member_id)
        .where(
            Trio.cohort_id == cohort_id,
            Trio.dissolved_at.is_(None),
            condition,
            TrioMembership.left_at.is_(None),
        )
        .order_by(Trio.number, TrioMembership.id)
    )
    views: dict[int, tuple[int, list[Peer]]] = {}
    for trio_id, number, member_id, first_name, business, sector in rows:
        views.setdefault(trio_id, (number, []))[1].append(
            Peer(member_id, first_name, business, sector)
        )
    return [
        TrioView(trio_id, number, confirmed, tuple(peers))
        for trio_id, (number, peers) in views.items()
    ]


async def _drop_drafts(session: AsyncSession, cohort_id: int) -> None:
    drafts = await session.scalars(
        select(Trio).where(Trio.cohort_id == cohort_id, Trio.confirmed_at.is_(None))
    )
    for draft in drafts:
        await session.delete(draft)
    await session.flush()


async def preview(
    session: AsyncSession, cohort_id: int, *, size: int, seed: int, now: datetime
) -> list[TrioView]:
    """A new draft of the cohort's trios (replacing any earlier draft); nothing is told yet."""
    await _drop_drafts(session, cohort_id)
    groups = form_groups(await eligible(session, cohort_id), size, seed)
    for number, group in enumerate(groups, start=1):
        trio = Trio(cohort_id=cohort_id, number=number, created_at=now)
        trio.memberships = [
            TrioMembership(member_id=person.member_id, joined_at=now) for person in group
        ]
        session.add(trio)
    await session.flush()
    return await trios_of(session, cohort_id, confirmed=False)


class MoveOutcome(StrEnum):
    MOVED = "moved"
    UNCHANGED = "unchanged"  # already in that trio
    LONELY = "lonely"  # it would leave someone alone in their trio (no trio of one)
    REFUSED = "refused"  # not a member or trio of this cohort (forged or stale)


async def _open_membership(
    session: AsyncSession, cohort_id: int, member_id: int, *, confirmed: bool
) -> TrioMembership | None:
    condition = Trio.confirmed_at.is_not(None) if confirmed else Trio.confirmed_at.is_(None)
    return await session.scalar(
        select(TrioMembership)
        .join(Trio, Trio.id == TrioMembership.trio_id)
        .where(
            Trio.cohort_id == cohort_id,
            Trio.dissolved_at.is_(None),
            condition,
            TrioMembership.member_id == member_id,
            TrioMembership.left_at.is_(None),
        )
    )


async def move(
    session: AsyncSession, cohort_id: int, member_id: int, trio_id: int, now: datetime
) -> MoveOutcome:
    """Move one person to another trio of the same set (the draft, or the confirmed trios).

    Both the person and the trio must belong to `cohort_id` (callback data is untrusted)."""
    trio = await session.get(Trio, trio_id)
    if trio is None or trio.cohort_id != cohort_id or trio.dissolved_at is not None:
        return MoveOutcome.REFUSED
    confirmed = trio.confirmed_at is not None
    current = await _open_membership(session, cohort_id, member_id, confirmed=confirmed)
    if current is None:
        return MoveOutcome.REFUSED
    if current.trio_id == trio_id:
        return MoveOutcome.UNCHANGED
    staying = await session.scalar(
        select(func.count(TrioMembership.id)).where(
            TrioMembership.trio_id == current.trio_id, TrioMembership.left_at.is_(None)
        )
    )
    if staying == 2:  # one would stay alone (a trio of one already may be emptied)
        return MoveOutcome.LONELY
    if confirmed:
        current.left_at, current.left_reason = now, LeftReason.MOVED.value
    else:
        await session.delete(current)
    await session.flush()
    # A person moved back to a trio they were in before gets that membership again.
    again = await session.scalar(
        select(TrioMembership).where(
            TrioMembership.trio_id == trio_id, TrioMembership.member_id == member_id
        )
    )
    if again is not None:
        again.left_at, again.left_reason, again.next_digest_at = None, None, None
    else:
        session.add(TrioMembership(trio_id=trio_id, member_id=member_id, joined_at=now))
    await session.flush()
    if confirmed:
        await _tell_trio(session, member_id, trio_id, now)
    return MoveOutcome.MOVED


async def _tell_trio(session: AsyncSession, member_id: int, trio_id: int, now: datetime) -> None:
    """Through the outbox: who is in your trio and why (rendered in bot/services/trio_week.py)."""
    await enqueue(
        session,
        [
            Planned(
                member_id=member_id,
                kind=TRIO_KIND,
                dedup_key=f"trio:formed:{trio_id}",
                due_at=now,
                payload={"what": "formed", "trio_id": trio_id},
            )
        ],
    )


async def confirm(session: AsyncSession, cohort_id: int, now: datetime) -> list[TrioView]:
    """The draft becomes the cohort's trios; the earlier trios are dissolved; everyone in a
    trio is told (outbox). Returns the new trios (empty when there was no draft)."""
    drafts = list(
        await session.scalars(
            select(Trio).where(
                Trio.cohort_id == cohort_id,
                Trio.confirmed_at.is_(None),
                Trio.dissolved_at.is_(None),
            )
        )
    )
    if not drafts:
        return []
    old = select(Trio.id).where(
        Trio.cohort_id == cohort_id,
        Trio.confirmed_at.is_not(None),
        Trio.dissolved_at.is_(None),
    )
    await session.execute(
        update(TrioMembership)
        .where(TrioMembership.trio_id.in_(old), TrioMembership.left_at.is_(None))
        .values(left_at=now, left_reason=LeftReason.RESHUFFLED.value)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Trio)
        .where(Trio.id.in_(old.scalar_subquery()))
        .values(dissolved_at=now)
        .execution_options(synchronize_session=False)
    )
    for draft in drafts:
        draft.confirmed_at = now
    await session.flush()
    views = await trios_of(session, cohort_id)
    for view in views:
        for peer in view.peers:
            await _tell_trio(session, peer.member_id, view.trio_id, now)
    return views


async def add_late_joiner(
    session: AsyncSession, cohort_id: int, member_id: int, now: datetime
) -> int | None:
    """A merchant who joined after the trios were formed goes to the smallest trio.

    Returns the trio's id, or None (no trios yet, already in one, or they left theirs)."""
    views = await trios_of(session, cohort_id)
    if not views:
        return None
    if any(peer.member_id == member_id for view in views for peer in view.peers):
        return None
    member = await session.get(Member, member_id)
    if member is None:
        return None
    left = await session.scalar(
        select(TrioMembership.id)
        .join(Trio, Trio.id == TrioMembership.trio_id)
        .where(
            Trio.cohort_id == cohort_id,
            TrioMembership.member_id == member_id,
            TrioMembership.left_reason == LeftReason.LEFT.value,
        )
    )
    if left is not None:
        return None
    groups = [[Candidate(peer.member_id, peer.sector) for peer in view.peers] for view in views]
    smallest = min(len(group) for group in groups)
    # The smallest trios only; among them the best fit.
    candidates = [index for index, group in enumerate(groups) if len(group) == smallest]
    newcomer = Candidate(member_id, member.sector, member.commune)
    best = candidates[smallest_group([groups[index] for index in candidates], newcomer) or 0]
    trio_id = views[best].trio_id
    session.add(TrioMembership(trio_id=trio_id, member_id=member_id, joined_at=now))
    await session.flush()
    await _tell_trio(session, member_id, trio_id, now)
    return trio_id


async def trio_of_member(session: AsyncSession, member_id: int) -> TrioView | None:
    """The confirmed trio the member is in now (in their active cohort), if any."""
    cohort_id = await session.scalar(
        select(Trio.cohort_id)
        .join(TrioMembership, TrioMembership.trio_id == Trio.id)
        .join(Member, Member.id == TrioMembership.member_id)
        .where(
            TrioMembership.member_id == member_id,
            TrioMembership.left_at.is_(None),
            Trio.confirmed_at.is_not(None),
            Trio.dissolved_at.is_(None),
            Trio.cohort_id == Member.active_cohort_id,
        )
    )
    if cohort_id is None:
        return None
    for view in await trios_of(session, cohort_id):
        if any(peer.member_id == member_id for peer in view.peers):
            return view
    return None


async def leave(session: AsyncSession, member_id: int, now: datetime) -> bool:
    """The member leaves their trio (and is not put in one again by a reshuffle). Someone
    left alone in it joins the smallest other trio (no trio of one)."""
    trio = await trio_of_member(session, member_id)
    if trio is None:
        return False
    await session.execute(
        update(TrioMembership)
        .where(
            TrioMembership.member_id == member_id,
            TrioMembership.trio_id == trio.trio_id,
            TrioMembership.left_at.is_(None),
        )
        .values(left_at=now, left_reason=LeftReason.LEFT.value)
        .execution_options(synchronize_session=False)
    )
    others = [peer for peer in trio.peers if peer.member_id != member_id]
    if len(others) == 1:
        cohort_id = await session.scalar(select(Trio.cohort_id).where(Trio.id == trio.trio_id))
        views = [
            view for view in await trios_of(session, cohort_id or 0) if view.trio_id != trio.trio_id
        ]
        if views:
            target = min(views, key=lambda view: (len(view.peers), view.number))
            await move(session, cohort_id or 0, others[0].member_id, target.trio_id, now)
    return True
