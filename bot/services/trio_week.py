"""The trio's week: the digest of what one's peers did, and one-tap encouragements.

- **Facts** are typed items (`TrioFact`) made by producers (`FACT_PRODUCERS`): who set or
  reached an objective, who said they are stuck. Another feature adds its own producer
  (`add_fact_producer`, e.g. "took the challenge") and its text in `FACT_TEXTS`. Only the
  facts of peers who share their progress (`members.share_with_trio`) and are reachable.
- **The digest** goes through the outbox on each member's first tip day of the week (once
  a month, on the first such day of the month, in the booster phase), planned by stored
  due time (`trio_memberships.next_digest_at`, bot/delivery/due.py). `/trio` shows the same.
- **Encouragements**: fixed words only (nothing to moderate), relayed through the outbox in
  the recipient's language, at most one per sender, recipient and day (`encourage`).
- The "here is your trio" notice (`what: formed`) is rendered here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import ContentLibrary
from bot.delivery.due import AnyRow, Rows, idle_until, plan_due
from bot.delivery.outbox import enqueue
from bot.delivery.registry import (
    Button,
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.i18n import N_, Translator, escape
from bot.models import (
    Challenge,
    ChallengeAnswer,
    ChallengeSubmission,
    Cohort,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Encouragement,
    EncouragementChoice,
    Member,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
    Sector,
    Trio,
    TrioMembership,
)
from bot.reports.trios import RetentionPoint, TrioFigures
from bot.services import booster
from bot.services.booster import Phase
from bot.services.trios import Peer, TrioView, trio_of_member

TRIO_KIND = DeliveryKind.TRIO.value
ENCOURAGEMENT_KIND = DeliveryKind.ENCOURAGEMENT.value
# A digest not sent within this long after its moment is skipped (the next one comes).
STALE_AFTER = timedelta(hours=18)
LATE_TOLERANCE = timedelta(hours=6)
# A left or dissolved membership is looked at again after this long (a guard).
FAR = timedelta(days=365)
DETAIL_LIMIT = 80

# The sector names of the onboarding (handlers/onboarding/shared.py, onboarding.po): not
# marked here, so that their ids stay in that catalog.
SECTOR_LABELS: dict[str, str] = {
    Sector.BEAUTY: "💇 Coiffure, beauté",
    Sector.FOOD: "🥖 Alimentation",
    Sector.BOOKS: "📚 Librairie, cadeaux",
    Sector.CLOTHING: "👗 Vêtements",
    Sector.CRAFTS: "🔨 Artisanat, construction",
    Sector.PHOTO: "📷 Photographie",
    Sector.LODGING: "🏡 Hébergement, tourisme",
    Sector.HORECA: "☕ Restaurant, café",
    Sector.OTHER: "✳️ Autre",
}

CHOICE_BUTTONS: dict[str, str] = {
    EncouragementChoice.BRAVO: "👏",
    EncouragementChoice.COURAGE: "💪",
    EncouragementChoice.TALK: "☕",
}
CHOICE_TEXTS: dict[str, str] = {
    EncouragementChoice.BRAVO: N_("👏 Bravo !"),
    EncouragementChoice.COURAGE: N_("💪 Tu vas y arriver !"),
    EncouragementChoice.TALK: N_("☕ On en parle à la prochaine séance ?"),
}


# -- facts ------------------------------------------------------------------------------------


class FactKind(StrEnum):
    OBJECTIVE_SET = "objective_set"
    OBJECTIVE_REACHED = "objective_reached"
    STUCK = "stuck"
    CHALLENGE_TAKEN = "challenge_taken"  # produced by the challenges feature (issue 13)


@dataclass(frozen=True)
class TrioFact:
    member_id: int
    kind: str
    at: datetime
    detail: str | None = None  # the member's own words (an objective), escaped when shown


FACT_TEXTS: dict[str, str] = {
    FactKind.OBJECTIVE_SET: N_("🎯 {name} s'est fixé un objectif : {detail}"),
    FactKind.OBJECTIVE_REACHED: N_("🏆 {name} a atteint son objectif : {detail}"),
    FactKind.STUCK: N_("🧱 {name} bloque sur : {detail}"),
    FactKind.CHALLENGE_TAKEN: N_("🏁 {name} a relevé le défi : {detail}"),
}

# (session, member ids, since, until) -> facts of those members in [since, until).
FactProducer = Callable[
    [AsyncSession, Sequence[int], datetime, datetime], Awaitable[list[TrioFact]]
]


def _short(text: str | None) -> str:
    text = (text or "").strip()
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


async def objective_facts(
    session: AsyncSession, member_ids: Sequence[int], since: datetime, until: datetime
) -> list[TrioFact]:
    facts: list[TrioFact] = []
    set_rows = await session.execute(
        select(Objective.member_id, Objective.created_at, Objective.text).where(
            Objective.member_id.in_(member_ids),
            Objective.created_at >= since,
            Objective.created_at < until,
        )
    )
    for member_id, at, text in set_rows:
        facts.append(TrioFact(member_id, FactKind.OBJECTIVE_SET, at, _short(text)))
    done_rows = await session.execute(
        select(Objective.member_id, Objective.closed_at, Objective.text).where(
            Objective.member_id.in_(member_ids),
            Objective.status == ObjectiveStatus.DONE.value,
            Objective.closed_at >= since,
            Objective.closed_at < until,
        )
    )
    for member_id, closed_at, text in done_rows:
        if closed_at is not None:
            facts.append(TrioFact(member_id, FactKind.OBJECTIVE_REACHED, closed_at, _short(text)))
    return facts


async def stuck_facts(
    session: AsyncSession, member_ids: Sequence[int], since: datetime, until: datetime
) -> list[TrioFact]:
    rows = await session.execute(
        select(Objective.member_id, ObjectiveCheckin.answered_at, Objective.text)
        .join(Objective, Objective.id == ObjectiveCheckin.objective_id)
        .where(
            Objective.member_id.in_(member_ids),
            ObjectiveCheckin.answer == "stuck",
            ObjectiveCheckin.answered_at >= since,
            ObjectiveCheckin.answered_at < until,
        )
    )
    return [
        TrioFact(member_id, FactKind.STUCK, at, _short(text))
        for member_id, at, text in rows
        if at is not None
    ]


async def challenge_facts(
    session: AsyncSession, member_ids: Sequence[int], since: datetime, until: datetime
) -> list[TrioFact]:
    """A challenge taken up (a proof or "done"; "not this time" is not news), by its title."""
    rows = await session.execute(
        select(ChallengeSubmission.member_id, ChallengeSubmission.submitted_at, Challenge.title)
        .join(Challenge, Challenge.id == ChallengeSubmission.challenge_id)
        .where(
            ChallengeSubmission.member_id.in_(member_ids),
            ChallengeSubmission.current.is_(True),
            ChallengeSubmission.answer.in_(
                (ChallengeAnswer.PROOF.value, ChallengeAnswer.DONE.value)
            ),
            ChallengeSubmission.submitted_at >= since,
            ChallengeSubmission.submitted_at < until,
        )
    )
    return [
        TrioFact(member_id, FactKind.CHALLENGE_TAKEN, at, _short(title))
        for member_id, at, title in rows
    ]


FACT_PRODUCERS: list[FactProducer] = [objective_facts, stuck_facts, challenge_facts]


def add_fact_producer(producer: FactProducer) -> None:
    """For another feature's facts (the challenge taken): one more producer."""
    if producer not in FACT_PRODUCERS:
        FACT_PRODUCERS.append(producer)


async def shared_facts(
    session: AsyncSession, peers: Sequence[Peer], since: datetime, until: datetime
) -> list[TrioFact]:
    """The facts of the peers who share their progress, oldest first."""
    if not peers:
        return []
    sharing = list(
        await session.scalars(
            select(Member.id).where(
                Member.id.in_([peer.member_id for peer in peers]),
                Member.share_with_trio.is_(True),
            )
        )
    )
    if not sharing:
        return []
    facts: list[TrioFact] = []
    for producer in FACT_PRODUCERS:
        facts += await producer(session, sharing, since, until)
    return sorted(facts, key=lambda fact: (fact.at, fact.member_id, fact.kind))


# -- the member's trio, as they see it ----------------------------------------------------------


@dataclass(frozen=True)
class TrioWeek:
    trio: TrioView
    peers: tuple[Peer, ...]  # the others, reachable
    facts: tuple[TrioFact, ...]
    since: datetime


async def reachable_peers(
    session: AsyncSession, trio: TrioView, member_id: int
) -> tuple[Peer, ...]:
    others = [peer for peer in trio.peers if peer.member_id != member_id]
    if not others:
        return ()
    reachable = set(
        await session.scalars(
            select(Member.id).where(
                Member.id.in_([peer.member_id for peer in others]),
                Member.reachable.is_(True),
            )
        )
    )
    return tuple(peer for peer in others if peer.member_id in reachable)


async def trio_week(
    session: AsyncSession, member_id: int, since: datetime, until: datetime
) -> TrioWeek | None:
    trio = await trio_of_member(session, member_id)
    if trio is None:
        return None
    peers = await reachable_peers(session, trio, member_id)
    facts = await shared_facts(session, peers, since, until)
    return TrioWeek(trio, peers, tuple(facts), since)


def sector_text(t: Translator, sector: str | None) -> str:
    return t(SECTOR_LABELS[sector]) if sector in SECTOR_LABELS else ""


def peer_line(t: Translator, peer: Peer) -> str:
    parts = [f"<b>{escape(peer.first_name)}</b>"]
    if peer.business_name:
        parts.append(escape(peer.business_name))
    if peer.sector in SECTOR_LABELS:
        parts.append(sector_text(t, peer.sector))
    return "• " + " — ".join(parts)


def encourage_buttons(t: Translator, peers: Sequence[Peer]) -> list[list[Button]]:
    from bot.callbacks import TrioEncourage

    return [
        [
            Button(
                f"{emoji} {peer.first_name}",
                callback_data=TrioEncourage(peer.member_id, choice).pack(),  # type: ignore[arg-type]
            )
            for choice, emoji in CHOICE_BUTTONS.items()
        ]
        for peer in peers
    ]


def week_text(t: Translator, week: TrioWeek, *, monthly: bool, first: bool) -> str:
    names = {peer.member_id: peer.first_name for peer in week.peers}
    title = (
        t("👥 <b>Votre trio ce mois-ci</b>") if monthly else t("👥 <b>Votre trio cette semaine</b>")
    )
    lines = [title, ""]
    facts = [fact for fact in week.facts if fact.member_id in names and fact.kind in FACT_TEXTS]
    if facts:
        for fact in facts:
            lines.append(
                t(FACT_TEXTS[fact.kind], name=names[fact.member_id], detail=fact.detail or "")
            )
    else:
        lines.append(
            t("Pas de nouvelles partagées pour l'instant : un petit mot fait toujours plaisir.")
        )
    lines += [
        "",
        t(
            "Un mot d'encouragement ? Touchez 👏 Bravo, 💪 Tu vas y arriver "
            "ou ☕ On en parle à la prochaine séance ?"
        ),
    ]
    if first:
        lines += [
            "",
            t(
                "ℹ️ Votre trio voit aussi vos nouvelles (objectif fixé ou atteint, point "
                "bloquant), jamais vos réponses en détail. Pour ne plus les partager : /reglages."
            ),
        ]
    return "\n".join(lines)


def trio_figures_line(t: Translator, figures: TrioFigures) -> str:
    """One line for staff: how the trios encouraged each other this month."""
    return t.plural(
        "👥 Trios ce mois-ci : {sent} % ont encouragé quelqu'un, {received} % ont été "
        "encouragés ({n} mot).",
        "👥 Trios ce mois-ci : {sent} % ont encouragé quelqu'un, {received} % ont été "
        "encouragés ({n} mots).",
        figures.encouragements,
        sent=round(100 * figures.share_encouraged),
        received=round(100 * figures.share_were_encouraged),
    )


def retention_line(t: Translator, points: Sequence[RetentionPoint]) -> str:
    """The booster phase for staff: who still answers 1, 3, 6 months after the last session."""
    shown = []
    for point in points:
        share = point.share
        shown.append(
            t("{months} mois : {share} %", months=point.months, share=round(100 * share))
            if share is not None
            else t("{months} mois : à venir", months=point.months)
        )
    return t("🌱 Répondent encore après la dernière séance — {figures}", figures=" · ".join(shown))


def formed_text(t: Translator, peers: Sequence[Peer]) -> str:
    lines = [
        t("👥 <b>Voici votre trio</b>"),
        "",
        t("Des commerçants de métiers différents, pour s'encourager entre les séances :"),
        *[peer_line(t, peer) for peer in peers],
        "",
        t(
            "Chaque semaine, je vous donne de leurs nouvelles, et vous pouvez leur envoyer un "
            "petit mot en un geste. Votre trio : /trio"
        ),
    ]
    return "\n".join(lines)


# -- encouragements -----------------------------------------------------------------------------


class EncourageOutcome(StrEnum):
    SENT = "sent"
    ALREADY_TODAY = "already_today"  # the daily cap: one per sender, recipient and day
    NOT_PEER = "not_peer"  # not in the sender's trio (forged or stale button)


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or "Europe/Brussels")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Brussels")


async def encourage(
    session: AsyncSession, sender_id: int, recipient_id: int, choice: str, now: datetime
) -> EncourageOutcome:
    """Relay a fixed word to a peer of the sender's trio (outbox), at most once a day."""
    if choice not in CHOICE_TEXTS or sender_id == recipient_id:
        return EncourageOutcome.NOT_PEER
    trio = await trio_of_member(session, sender_id)
    if trio is None or recipient_id not in {peer.member_id for peer in trio.peers}:
        return EncourageOutcome.NOT_PEER
    recipient = await session.get(Member, recipient_id)
    if recipient is None or not recipient.reachable:
        return EncourageOutcome.NOT_PEER
    zone_name = await session.scalar(
        select(Cohort.timezone)
        .join(Trio, Trio.cohort_id == Cohort.id)
        .where(Trio.id == trio.trio_id)
    )
    day = now.astimezone(_zone(zone_name)).date()
    already = await session.scalar(
        select(Encouragement.id).where(
            Encouragement.sender_id == sender_id,
            Encouragement.recipient_id == recipient_id,
            Encouragement.day == day,
        )
    )
    if already is not None:
        return EncourageOutcome.ALREADY_TODAY
    cohort_id = await session.scalar(select(Trio.cohort_id).where(Trio.id == trio.trio_id))
    row = Encouragement(
        cohort_id=cohort_id,
        sender_id=sender_id,
        recipient_id=recipient_id,
        choice=choice,
        day=day,
        sent_at=now,
    )
    session.add(row)
    await session.flush()
    await enqueue(
        session,
        [
            Planned(
                member_id=recipient_id,
                kind=ENCOURAGEMENT_KIND,
                dedup_key=f"enc:{row.id}",
                due_at=now,
                payload={"encouragement_id": row.id},
            )
        ],
    )
    return EncourageOutcome.SENT


async def render_encouragement(ctx: RenderContext) -> Rendered | Skip:
    row = await ctx.session.get(
        Encouragement, int((ctx.delivery.payload or {}).get("encouragement_id", 0))
    )
    if row is None or row.sender_id is None or row.choice not in CHOICE_TEXTS:
        return Skip("the encouragement or its sender is gone")
    sender = await ctx.session.get(Member, row.sender_id)
    if sender is None:
        return Skip("the sender is gone")
    t = ctx.t
    peer = Peer(sender.id, sender.first_name, sender.business_name, sender.sector)
    text = "\n".join(
        [
            t("💬 Un mot de {name}, de votre trio :", name=sender.first_name),
            f"<b>{t(CHOICE_TEXTS[row.choice])}</b>",
        ]
    )
    trio = await trio_of_member(ctx.session, ctx.member.id)
    in_trio = trio is not None and sender.id in {p.member_id for p in trio.peers}
    return Rendered(text=text, buttons=encourage_buttons(t, [peer]) if in_trio else ())


# -- the digest: planner and renderer -----------------------------------------------------------


def _weekdays(tip_days: str | None) -> list[int]:
    from bot.services.tips import tip_weekdays

    return sorted(tip_weekdays(tip_days))


def digest_moments(
    first_day: int, at: time, zone: tzinfo, start: datetime, end: datetime, *, monthly: bool
) -> list[tuple[date, datetime]]:
    """(local day, UTC instant) of each digest moment in [start, end]: the member's first
    tip day of each week, or (monthly) of each month. Wall time, so DST moves the instant."""
    from bot.services.tips import local_moment

    moments = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        if day.weekday() == first_day and (not monthly or day.day <= 7):
            moment = local_moment(day, at, zone)
            if start <= moment <= end:
                moments.append((day, moment))
        day += timedelta(days=1)
    return moments


def next_digest_moment(first_day: int, at: time, zone: tzinfo, after: datetime) -> datetime:
    """The next weekly moment strictly after `after` (a lower bound for the monthly one)."""
    from bot.services.tips import local_moment

    day = after.astimezone(zone).date()
    while True:
        if day.weekday() == first_day and (moment := local_moment(day, at, zone)) > after:
            return moment
        day += timedelta(days=1)


def digest_key(day: date, *, monthly: bool) -> str:
    return f"trio:m:{day:%Y-%m}" if monthly else f"trio:w:{day.isoformat()}"


def _digest_rows(sessions: int | None) -> Rows:
    return (
        select(
            TrioMembership.id,
            TrioMembership.member_id,
            TrioMembership.joined_at,
            TrioMembership.left_at,
            Trio.confirmed_at,
            Trio.dissolved_at,
            Member.tip_days,
            Member.tip_time,
            Member.paused,
            Member.reachable,
            Cohort.timezone,
            booster.end_expression(sessions),
            Cohort.booster_until,
        )
        .join(Trio, Trio.id == TrioMembership.trio_id)
        .join(Member, Member.id == TrioMembership.member_id)
        .join(Cohort, Cohort.id == Trio.cohort_id)
    )


async def _evaluate_digests(
    rows: Sequence[AnyRow], window: PlanWindow
) -> tuple[list[Planned], dict[int, datetime]]:
    planned: list[Planned] = []
    next_at: dict[int, datetime] = {}
    months = window.settings.booster_months
    for row in rows:
        membership_id, member_id, joined_at, left_at, confirmed_at, dissolved_at = row[:6]
        tip_days, at, paused, reachable, zone_name, raw_end, until = row[6:]
        if left_at is not None or dissolved_at is not None or confirmed_at is None:
            next_at[membership_id] = window.horizon + FAR
            continue
        days = _weekdays(tip_days)
        zone = _zone(zone_name)
        if not days:
            next_at[membership_id] = idle_until(window)
            continue
        end = booster.aware(raw_end)
        earliest = window.now - LATE_TOLERANCE
        if not paused and reachable:
            for day, moment in digest_moments(
                days[0], at, zone, earliest, window.horizon, monthly=False
            ):
                phase = booster.phase_at(end, until, moment, months)
                monthly = phase is Phase.BOOSTER
                if phase is Phase.AFTER or (monthly and day.day > 7) or moment <= joined_at:
                    continue
                since = booster.add_months(moment, -1) if monthly else moment - timedelta(days=7)
                planned.append(
                    Planned(
                        member_id=member_id,
                        kind=TRIO_KIND,
                        dedup_key=digest_key(day, monthly=monthly),
                        due_at=moment,
                        payload={"what": "digest", "since": since.isoformat(), "monthly": monthly},
                    )
                )
        next_at[membership_id] = next_digest_moment(days[0], at, zone, window.horizon)
    return planned, next_at


async def plan_digests(
    session: AsyncSession, window: PlanWindow, sessions: int | None = None
) -> list[Planned]:
    return await plan_due(
        session,
        window,
        rows=_digest_rows(sessions),
        due=TrioMembership.next_digest_at,
        evaluate=_evaluate_digests,
    )


async def _first_digest(session: AsyncSession, delivery: Delivery) -> bool:
    earlier = await session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.member_id == delivery.member_id,
            Delivery.kind == TRIO_KIND,
            Delivery.dedup_key.startswith("trio:w:") | Delivery.dedup_key.startswith("trio:m:"),
            Delivery.status == DeliveryStatus.SENT.value,
            Delivery.id != delivery.id,
        )
    )
    return not earlier


async def render_trio(ctx: RenderContext) -> Rendered | Skip:
    payload = ctx.delivery.payload or {}
    t = ctx.t
    if payload.get("what") == "formed":
        trio = await trio_of_member(ctx.session, ctx.member.id)
        if trio is None or trio.trio_id != payload.get("trio_id"):
            return Skip("no longer in that trio")
        peers = await reachable_peers(ctx.session, trio, ctx.member.id)
        if not peers:
            return Skip("nobody else in the trio")
        return Rendered(text=formed_text(t, peers), buttons=encourage_buttons(t, peers))
    if ctx.now - ctx.delivery.due_at > STALE_AFTER:
        return Skip("too late for this digest; the next one comes")
    since = datetime.fromisoformat(str(payload.get("since")))
    week = await trio_week(ctx.session, ctx.member.id, since, ctx.delivery.due_at)
    if week is None or not week.peers:
        return Skip("not in a trio (or nobody else reachable in it)")
    first = await _first_digest(ctx.session, ctx.delivery)
    text = week_text(t, week, monthly=bool(payload.get("monthly")), first=first)
    return Rendered(text=text, buttons=encourage_buttons(t, week.peers))


def register_deliveries(registry: DeliveryRegistry, content: ContentLibrary) -> None:
    sessions = booster.programme_of_content(content)

    async def plan(session: AsyncSession, window: PlanWindow) -> list[Planned]:
        return await plan_digests(session, window, sessions)

    registry.add_planner("trio_digests", plan)
    registry.add_renderer(TRIO_KIND, render_trio)
    registry.add_renderer(ENCOURAGEMENT_KIND, render_encouragement)
