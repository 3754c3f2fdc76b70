"""`/export`: the coordinator's spreadsheet, one XLSX workbook per cohort (openpyxl).

Sheets: members, sessions, RSVPs, attendance, objectives (per person: the coordinator's own
copy of the cohort's data, audited), and the progress check as aggregates only — per month the
number of people who answered and the median of each number, per practice how many had adopted
it at their first answer and at their latest — with the "< 5" rule of /bilan: the privacy notice
promises merchants that the commune never sees their own figures.

Instants are written as local times of the cohort's zone (spreadsheets have no time zones;
the zone is in the header). Headers come translated in the reader's language; the values
are the data as stored. The same workbook comes from
`relais export --cohort <id or join code> --out file.xlsx`.

Read-only: no telegram import, nothing written (the caller records the export in the audit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from statistics import median
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import ContentLibrary
from bot.i18n import N_, Translator
from bot.models import (
    Attendance,
    Cohort,
    Enrolment,
    Member,
    Objective,
    Observation,
    Rsvp,
    StaffRole,
    TrainingSession,
)
from bot.reports.bilan import HIDDEN_TEXT, figure, head_count
from bot.services import attendance as attendance_service

Cell = str | int | float | datetime | None

SHEETS = {
    "members": N_("Membres"),
    "sessions": N_("Séances"),
    "rsvps": N_("Réponses"),
    "attendance": N_("Présences"),
    "objectives": N_("Objectifs"),
    "observations": N_("Point du mois"),
    "practices": N_("Pratiques"),
}
METRICS = {
    "followers": N_("Abonnés de la page"),
    "posts_7d": N_("Publications sur 7 jours"),
    "customers_month": N_("Clients venus grâce à la page (mois)"),
}
PRACTICE_PREFIX = "practice:"
YES, NO = N_("oui"), N_("non")
ROLES = {
    "merchant": N_("commerçant"),
    "trainer": N_("formateur"),
    "coordinator": N_("coordination"),
    "name_only": N_("ajouté par nom"),
}
ANSWERS = {"yes": N_("oui"), "no": N_("non"), "waitlist": N_("liste d'attente")}
METHODS = {"qr": N_("QR code"), "roll_call": N_("appel"), "manual": N_("ajouté par nom")}


@dataclass(frozen=True)
class Sheet:
    key: str
    headers: list[str]
    rows: list[list[Cell]]


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    # Excel cells hold no zone: write the local wall time, the zone is in the header.
    return value.astimezone(zone).replace(tzinfo=None) if value else None


async def collect(
    tx: AsyncSession, cohort: Cohort, t: Translator, content: ContentLibrary | None = None
) -> list[Sheet]:
    """Every sheet of the cohort's workbook as plain rows (`content`: the practices' texts;
    without it, their ids)."""
    zone = ZoneInfo(cohort.timezone)
    at = t("({zone})", zone=cohort.timezone)

    def yes_no(value: bool) -> str:
        return t(YES) if value else t(NO)

    sessions = list(
        (
            await tx.scalars(
                select(TrainingSession)
                .where(TrainingSession.cohort_id == cohort.id)
                .order_by(TrainingSession.number)
            )
        ).all()
    )
    session_ids = [ts.id for ts in sessions]
    by_id = {ts.id: ts for ts in sessions}
    rsvps = list(
        (
            await tx.scalars(
                select(Rsvp)
                .where(Rsvp.session_id.in_(session_ids))
                .order_by(Rsvp.session_id, Rsvp.answered_at)
            )
        ).all()
    )
    presences = list(
        (
            await tx.scalars(
                select(Attendance)
                .where(Attendance.session_id.in_(session_ids))
                .order_by(Attendance.session_id, Attendance.recorded_at)
            )
        ).all()
    )

    # Members: enrolled merchants, staff, and name-only people seen at a session.
    enrolments = {
        e.member_id: e
        for e in (await tx.scalars(select(Enrolment).where(Enrolment.cohort_id == cohort.id))).all()
    }
    staff: dict[int, list[str]] = {}
    for role in (await tx.scalars(select(StaffRole).where(StaffRole.cohort_id == cohort.id))).all():
        staff.setdefault(role.member_id, []).append(role.role)
    attended_ids = {a.member_id for a in presences if a.member_id is not None}
    observations = list(
        (
            await tx.scalars(
                select(Observation)
                .where(Observation.cohort_id == cohort.id)
                .order_by(Observation.member_id, Observation.observed_at, Observation.id)
            )
        ).all()
    )
    member_ids = set(enrolments) | set(staff) | attended_ids
    members = {
        m.id: m
        for m in (
            await tx.scalars(
                select(Member).where(
                    Member.id.in_(member_ids),
                    or_(
                        Member.id.in_(set(enrolments) | set(staff)),
                        Member.telegram_user_id.is_(None),
                    ),
                )
            )
        ).all()
    }

    def name(member_id: int | None) -> str:
        member = members.get(member_id) if member_id is not None else None
        return attendance_service.display_name(member) if member else t("(supprimé)")

    member_rows: list[list[Cell]] = []
    for member in sorted(members.values(), key=lambda m: (m.first_name.casefold(), m.id)):
        roles = list(staff.get(member.id, []))
        if member.id in enrolments:
            roles.insert(0, "merchant")
        if member.telegram_user_id is None:
            roles = ["name_only"]
        enrolment = enrolments.get(member.id)
        member_rows.append(
            [
                member.id,
                member.first_name,
                member.last_name,
                member.business_name,
                member.sector,
                member.commune,
                ", ".join(t(ROLES[r]) for r in roles if r in ROLES),
                member.language,
                yes_no(member.telegram_user_id is not None),
                _local(enrolment.joined_at if enrolment else member.created_at, zone),
                _local(enrolment.left_at if enrolment else None, zone),
            ]
        )

    counts: dict[int, dict[str, int]] = {
        sid: {"yes": 0, "no": 0, "waitlist": 0} for sid in session_ids
    }
    for row in rsvps:
        counts[row.session_id][row.answer] = counts[row.session_id].get(row.answer, 0) + 1
    present: dict[int, int] = dict.fromkeys(session_ids, 0)
    for presence in presences:
        present[presence.session_id] += 1
    session_rows: list[list[Cell]] = [
        [
            ts.number,
            _local(ts.starts_at, zone),
            _local(ts.ends_at, zone),
            ts.place,
            ts.theme,
            ts.capacity,
            yes_no(ts.cancelled_at is not None),
            counts[ts.id]["yes"],
            counts[ts.id]["no"],
            counts[ts.id]["waitlist"],
            present[ts.id],
            ts.summary,
        ]
        for ts in sessions
    ]
    rsvp_rows: list[list[Cell]] = [
        [
            by_id[row.session_id].number,
            _local(by_id[row.session_id].starts_at, zone),
            row.member_id,
            name(row.member_id),
            t(ANSWERS.get(row.answer, row.answer)),
            _local(row.updated_at, zone),
        ]
        for row in rsvps
    ]
    attendance_rows: list[list[Cell]] = [
        [
            by_id[row.session_id].number,
            _local(by_id[row.session_id].starts_at, zone),
            row.member_id,
            name(row.member_id),
            t(METHODS.get(row.method, row.method)),
            _local(row.recorded_at, zone),
        ]
        for row in presences
    ]
    objectives = (
        await tx.scalars(
            select(Objective).where(Objective.cohort_id == cohort.id).order_by(Objective.id)
        )
    ).all()
    objective_rows: list[list[Cell]] = [
        [
            o.member_id,
            name(o.member_id),
            o.text,
            o.theme,
            o.status,
            o.due_on.isoformat(),
            _local(o.created_at, zone),
        ]
        for o in objectives
    ]

    def metric_name(metric: str) -> str:
        if metric.startswith(PRACTICE_PREFIX):
            practice_id = metric.removeprefix(PRACTICE_PREFIX)
            practice = content.practice(practice_id) if content else None
            return practice.text(t.lang) if practice else practice_id
        return t(METRICS[metric]) if metric in METRICS else metric

    # The progress check as the commune may see it: aggregates only, like /bilan (the privacy
    # notice promises merchants that the commune never sees their own figures). A figure over
    # fewer than MIN_PEOPLE people is written "< 5".
    latest: dict[tuple[str, str, int], int] = {}
    for o in observations:  # in observed order: the member's last answer of the month wins
        latest[(o.period, o.metric, o.member_id)] = o.value
    by_month: dict[tuple[str, str], list[int]] = {}
    for (period, metric, _member), value in latest.items():
        if not metric.startswith(PRACTICE_PREFIX):
            by_month.setdefault((period, metric), []).append(value)
    number_order = {metric: index for index, metric in enumerate(METRICS)}
    observation_rows: list[list[Cell]] = [
        [
            period,
            metric_name(metric),
            head_count(len(values)),
            HIDDEN_TEXT if figure(0, len(values)).hidden else median(values),
        ]
        for (period, metric), values in sorted(
            by_month.items(), key=lambda item: (item[0][0], number_order.get(item[0][1], 99))
        )
    ]
    # Practices: each member's first answer and latest, counted over those who answered.
    first_last: dict[tuple[str, int], tuple[int, int]] = {}
    for o in observations:
        if o.metric.startswith(PRACTICE_PREFIX):
            known = first_last.get((o.metric, o.member_id))
            first_last[(o.metric, o.member_id)] = (
                (known[0], o.value) if known else (o.value, o.value)
            )
    per_practice: dict[str, list[tuple[int, int]]] = {}
    for (metric, _member), pair in first_last.items():
        per_practice.setdefault(metric, []).append(pair)
    practice_order = {
        f"{PRACTICE_PREFIX}{p.id}": index
        for index, p in enumerate(content.practices if content else ())
    }

    def adopted(pairs: list[tuple[int, int]], which: int) -> Cell:
        if figure(0, len(pairs)).hidden:
            return HIDDEN_TEXT
        return sum(1 for pair in pairs if pair[which] == 1)

    practice_rows: list[list[Cell]] = [
        [metric_name(metric), head_count(len(pairs)), adopted(pairs, 0), adopted(pairs, 1)]
        for metric, pairs in sorted(
            per_practice.items(),
            key=lambda item: (practice_order.get(item[0], len(practice_order)), item[0]),
        )
    ]
    return [
        Sheet(
            "members",
            [
                t("N° membre"),
                t("Prénom"),
                t("Nom"),
                t("Commerce"),
                t("Secteur"),
                t("Commune"),
                t("Rôle"),
                t("Langue"),
                t("Sur Telegram"),
                t("Inscrit le {zone}", zone=at),
                t("Parti le {zone}", zone=at),
            ],
            member_rows,
        ),
        Sheet(
            "sessions",
            [
                t("Séance"),
                t("Début {zone}", zone=at),
                t("Fin {zone}", zone=at),
                t("Lieu"),
                t("Thème"),
                t("Places"),
                t("Annulée"),
                t("Oui"),
                t("Non"),
                t("Liste d'attente"),
                t("Présents"),
                t("Résumé du formateur"),
            ],
            session_rows,
        ),
        Sheet(
            "rsvps",
            [
                t("Séance"),
                t("Début {zone}", zone=at),
                t("N° membre"),
                t("Membre"),
                t("Réponse"),
                t("Répondu le {zone}", zone=at),
            ],
            rsvp_rows,
        ),
        Sheet(
            "attendance",
            [
                t("Séance"),
                t("Début {zone}", zone=at),
                t("N° membre"),
                t("Membre"),
                t("Comment"),
                t("Enregistré le {zone}", zone=at),
            ],
            attendance_rows,
        ),
        Sheet(
            "objectives",
            [
                t("N° membre"),
                t("Membre"),
                t("Objectif"),
                t("Thème"),
                t("État"),
                t("Échéance"),
                t("Créé le {zone}", zone=at),
            ],
            objective_rows,
        ),
        Sheet(
            "observations",
            [t("Mois"), t("Question"), t("Ont répondu"), t("Médiane")],
            observation_rows,
        ),
        Sheet(
            "practices",
            [
                t("Pratique"),
                t("Ont répondu"),
                t("Adoptée au premier point"),
                t("Adoptée au dernier point"),
            ],
            practice_rows,
        ),
    ]


def _write(sheet: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    sheet.append(list(headers))
    for heading in sheet[1]:
        heading.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        lengths = [len(str(r[index - 1])) for r in rows[:200] if r[index - 1] is not None]
        width = min(max([len(header), *lengths, 8]) + 2, 60)
        sheet.column_dimensions[get_column_letter(index)].width = width
    for line in sheet.iter_rows(min_row=2):
        for item in line:
            if isinstance(item.value, datetime):
                item.number_format = "yyyy-mm-dd hh:mm"


async def workbook_bytes(
    tx: AsyncSession, cohort: Cohort, t: Translator, content: ContentLibrary | None = None
) -> bytes:
    """The cohort's workbook as XLSX bytes."""
    sheets = await collect(tx, cohort, t, content)
    book = Workbook()
    first = True
    for sheet in sheets:
        if first:
            page = book.active
            assert page is not None
            page.title = t(SHEETS[sheet.key])
            first = False
        else:
            page = book.create_sheet(t(SHEETS[sheet.key]))
        _write(page, sheet.headers, sheet.rows)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def filename(cohort: Cohort, now: datetime) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in cohort.name).strip("-").lower()
    return f"relais-{safe or cohort.id}-{now.astimezone(ZoneInfo(cohort.timezone)):%Y-%m-%d}.xlsx"
