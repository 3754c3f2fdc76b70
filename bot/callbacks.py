"""The callback-data codec: the one place that builds and reads the data of inline buttons.

Callback data is `<area>:<args>`, at most 64 bytes, and untrusted: anyone can send any string.
Each shape of data is a small frozen dataclass that knows its layout::

    Rsvp(session_id=42, answer="yes").pack()   -> "rsvp:42:yes"
    Rsvp.parse("rsvp:42:yes")                  -> Rsvp(session_id=42, answer='yes')
    Rsvp.parse("rsvp:99999999999:yes")         -> None (not an int4 id)
    Rsvp.pattern()                             -> the handler pattern (a compiled regex)
    ObjectiveAction.pattern(action="stuck")    -> only that action

and each area (`rsvp`, `obj`, ...) has its access level, which the access gate applies
before any handler runs (bot/services/access.py `callback_access`), and an area-wide
pattern for handlers that take every button of the area. Handlers never write a regex and
never split callback data themselves.

The wire format is frozen: the outbox sends buttons that people press days or weeks later,
so a layout here may gain new shapes but never change an existing one. (This is why Relais
does not use PTB's `arbitrary_callback_data`, whose data lives in memory.)

Pure strings: no telegram import, so that services and renderers can pack data too.

Longer than our ~600 lines on purpose: it is the one place that knows every button's wire
format; splitting it by area would bring back what it replaced (formats in several files).
"""

import re
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, ClassVar, Literal, Self

from bot.services.access import Access

MAX_BYTES = 64  # Telegram's limit for callback data
# Primary keys are 32-bit integers on PostgreSQL: a larger id from forged data would be a
# database error, not a "not found".
MAX_ID = 2**31 - 1
# Pages, indexes, counts and seats: small numbers, 0 allowed.
MAX_NUMBER = 999_999
# Broadcast times travel as Unix seconds; beyond this a datetime cannot be built safely.
MAX_SECONDS = 4_102_444_800  # 2100-01-01


# --- field kinds ------------------------------------------------------------------------------


class Kind(ABC):
    """How one field is written in callback data, and read back (None when unfit)."""

    @property
    @abstractmethod
    def regex(self) -> str:
        """What the field may look like (for handler patterns)."""

    @abstractmethod
    def write(self, value: Any) -> str: ...

    @abstractmethod
    def read(self, text: str) -> Any | None: ...


@dataclass(frozen=True)
class Number(Kind):
    """A whole number from `low` to `high`, in ASCII digits."""

    low: int
    high: int

    @property
    def regex(self) -> str:
        return f"[0-9]{{1,{len(str(self.high))}}}"

    def write(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an int, got {value!r}")
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is out of range {self.low}..{self.high}")
        return str(value)

    def read(self, text: str) -> int | None:
        if not text.isascii() or not text.isdigit() or len(text) > len(str(self.high)):
            return None
        number = int(text)
        return number if self.low <= number <= self.high else None


@dataclass(frozen=True)
class Token(Kind):
    """A word matching `shape` (codes, tip ids, language codes)."""

    shape: str

    @property
    def regex(self) -> str:
        return self.shape

    def write(self, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(self.shape, value):
            raise ValueError(f"{value!r} does not match {self.shape}")
        return value

    def read(self, text: str) -> str | None:
        return text if re.fullmatch(self.shape, text) else None


@dataclass(frozen=True)
class Choice(Kind):
    """One of a few words (from a `Literal[...]` annotation)."""

    words: tuple[str, ...]

    @property
    def regex(self) -> str:
        return "(?:" + "|".join(re.escape(word) for word in self.words) + ")"

    def write(self, value: Any) -> str:
        if value not in self.words:
            raise ValueError(f"{value!r} is not one of {self.words}")
        return str(value)

    def read(self, text: str) -> str | None:
        return text if text in self.words else None


class Day(Kind):
    """A calendar day as `YYYYMMDD`."""

    @property
    def regex(self) -> str:
        return "[0-9]{8}"

    def write(self, value: Any) -> str:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise TypeError(f"expected a date, got {value!r}")
        return f"{value:%Y%m%d}"

    def read(self, text: str) -> date | None:
        if not re.fullmatch(self.regex, text):
            return None
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None


class ClockTime(Kind):
    """A time of day as `HHMM`."""

    @property
    def regex(self) -> str:
        return "[0-9]{4}"

    def write(self, value: Any) -> str:
        if not isinstance(value, time):
            raise TypeError(f"expected a time, got {value!r}")
        return f"{value:%H%M}"

    def read(self, text: str) -> time | None:
        if not re.fullmatch(self.regex, text):
            return None
        hour, minute = int(text[:2]), int(text[2:])
        return time(hour, minute) if hour <= 23 and minute <= 59 else None


class Instant(Kind):
    """A moment as Unix seconds (UTC)."""

    seconds = Number(0, MAX_SECONDS)

    @property
    def regex(self) -> str:
        return self.seconds.regex

    def write(self, value: Any) -> str:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError(f"expected an aware datetime, got {value!r}")
        return self.seconds.write(int(value.timestamp()))

    def read(self, text: str) -> datetime | None:
        seconds = self.seconds.read(text)
        return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


# Typed aliases for the fields of the shapes below.
Id = Annotated[int, Number(1, MAX_ID)]  # a database id
Small = Annotated[int, Number(0, MAX_NUMBER)]  # a page, an index, a count
Code = Annotated[str, Token("[A-Za-z0-9_-]{1,48}")]  # a theme, template, sector or audience code
TipId = Annotated[str, Token("[a-z0-9]+(?:-[a-z0-9]+)*")]  # bot/content.py's tip ids
LanguageCode = Annotated[str, Token("[a-z]{2}")]
Weekday = Annotated[str, Token("[a-z]{3}")]
DayField = Annotated[date, Day()]
TimeField = Annotated[time, ClockTime()]
InstantField = Annotated[datetime, Instant()]


# --- areas ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """The first word of callback data: who may press its buttons, and its shapes."""

    name: str
    access: Access
    note: str = ""

    @property
    def pattern(self) -> re.Pattern[str]:
        """Every button of the area (for handlers that dispatch on the parsed shape)."""
        return re.compile(f"^{re.escape(self.name)}:")

    @property
    def shapes(self) -> tuple[type["Callback"], ...]:
        return tuple(shape for shape in _SHAPES if shape.area is self)

    def parse(self, data: str | None) -> "Callback | None":
        """Whichever shape of this area the data is, or None."""
        for shape in self.shapes:
            found = shape.parse(data)
            if found is not None:
                return found
        return None


LANG = Area("lang", Access.ANYONE)
ONB = Area("onb", Access.ANYONE, "onboarding steps (sector, consent, ...)")
COHORT = Area("cohort", Access.MEMBER, "pick the cohort one acts on")
RSVP = Area("rsvp", Access.MEMBER)
ICS = Area("ics", Access.MEMBER)
OBJ = Area("obj", Access.MERCHANT, "check-in answers")
OBJSET = Area("objset", Access.MERCHANT, "the guided objective")
TIP = Area("tip", Access.MERCHANT)
SET = Area("set", Access.MERCHANT, "tip days and time, pause")
Q = Area("q", Access.MERCHANT, "a merchant's question")
PRIV = Area("priv", Access.ANYONE, "erasure confirmation, retention 'keep me'")
INV = Area("inv", Access.COORDINATOR)
SESS = Area("sess", Access.STAFF, "the session card")
NEWSESS = Area("newsess", Access.STAFF, "planning a session")
ROLL = Area("roll", Access.TRAINER)
GRP = Area("grp", Access.STAFF)
BC = Area("bc", Access.TRAINER, "broadcasts and the tips library")
QA = Area("qa", Access.TRAINER, "a trainer answering a question")
PRES = Area("pres", Access.STAFF)
PT = Area("pt", Access.MERCHANT, "the progress check (/point)")
# Merchants (encourage, leave) and trainers (form, move): each shape re-checks the role.
TRIO = Area("trio", Access.MEMBER, "trios: encouragements (merchant), forming (trainer)")
# Challenges: members answer (the service checks the challenge reached them) and staff set and
# follow them (the handler checks the role): one area, both kinds of people.
CHAL = Area("chal", Access.MEMBER, "challenges: a member's answer, the trainer's /defi")
SUB = Area("sub", Access.TRAINER, "a challenge submission: bravo, star")

AREAS: dict[str, Area] = {
    area.name: area
    for area in (
        *(LANG, ONB, COHORT, RSVP, ICS, OBJ, OBJSET, TIP, SET, Q, PRIV, INV, SESS),
        *(NEWSESS, ROLL, GRP, BC, QA, PRES, PT, TRIO, CHAL, SUB),
    )
}


def area_of(data: str) -> Area | None:
    """The area named by the first word of (untrusted) callback data, if it is ours."""
    return AREAS.get(data.split(":", 1)[0])


# --- shapes -----------------------------------------------------------------------------------

_SHAPES: list[type["Callback"]] = []


def _kind_of(owner: type, name: str, hint: Any) -> Kind:
    if typing.get_origin(hint) is Annotated:
        kind = next((m for m in hint.__metadata__ if isinstance(m, Kind)), None)
        if kind is not None:
            return kind
    if typing.get_origin(hint) is Literal:
        return Choice(tuple(str(word) for word in typing.get_args(hint)))
    raise TypeError(f"{owner.__name__}.{name}: annotate with a kind of bot/callbacks.py")


@dataclass(frozen=True)
class Callback:
    """Base of every shape. A subclass names its area and its layout after `<area>:`,
    with `{field}` for each field, e.g. `class Rsvp(Callback, area=RSVP,
    layout="{session_id}:{answer}")`."""

    area: ClassVar[Area]
    layout: ClassVar[str]
    # The layout read once: (literal, None) or (field name, its kind), in order.
    segments: ClassVar[tuple[tuple[str, Kind | None], ...]]

    def __init_subclass__(cls, *, area: Area, layout: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hints = typing.get_type_hints(cls, include_extras=True)
        segments: list[tuple[str, Kind | None]] = []
        for part in layout.split(":") if layout else []:
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                segments.append((name, _kind_of(cls, name, hints[name])))
            else:
                segments.append((part, None))
        cls.area, cls.layout, cls.segments = area, layout, tuple(segments)
        _SHAPES.append(cls)

    def pack(self) -> str:
        """The callback data; raises ValueError when a value does not fit (a bug, not input)."""
        parts = [self.area.name]
        for name, kind in self.segments:
            parts.append(kind.write(getattr(self, name)) if kind is not None else name)
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The shape read from untrusted data, or None when it is not exactly this shape."""
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        parts = data.split(":")
        if parts[0] != cls.area.name or len(parts) != len(cls.segments) + 1:
            return None
        values: dict[str, Any] = {}
        for text, (name, kind) in zip(parts[1:], cls.segments, strict=True):
            if kind is None:
                if text != name:
                    return None
                continue
            value = kind.read(text)
            if value is None:
                return None
            values[name] = value
        return cls(**values)

    @classmethod
    def pattern(cls, **fixed: str) -> re.Pattern[str]:
        """The handler pattern of this shape; `fixed` pins word fields (`action="stuck"`)."""
        unknown = set(fixed) - {name for name, kind in cls.segments if kind is not None}
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {unknown}")
        parts = [re.escape(cls.area.name)]
        for name, kind in cls.segments:
            if kind is None:
                parts.append(re.escape(name))
            elif name in fixed:
                parts.append(re.escape(kind.write(fixed[name])))
            else:
                parts.append(kind.regex)
        return re.compile("^" + ":".join(parts) + "$")


def shapes() -> tuple[type[Callback], ...]:
    return tuple(_SHAPES)


# lang ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Language(Callback, area=LANG, layout="{code}"):
    """`/langue` and the onboarding's language question."""

    code: LanguageCode


# onb ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnboardingStep(Callback, area=ONB, layout="{step}"):
    """Keep the Telegram first name, or take the cohort's commune."""

    step: Literal["keep", "commune"]


@dataclass(frozen=True)
class OnboardingSector(Callback, area=ONB, layout="sector:{sector}"):
    sector: Code


@dataclass(frozen=True)
class OnboardingConsent(Callback, area=ONB, layout="consent:{answer}"):
    answer: Literal["yes", "no"]


# cohort -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortPick(Callback, area=COHORT, layout="{cohort_id}"):
    """`/cohorte`: act on this cohort from now on."""

    cohort_id: Id


@dataclass(frozen=True)
class CohortPickToInvite(Callback, area=COHORT, layout="{cohort_id}:inv"):
    """`/inviter` with no active cohort: pick one, then see its invitation."""

    cohort_id: Id


# rsvp, ics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rsvp(Callback, area=RSVP, layout="{session_id}:{answer}"):
    session_id: Id
    answer: Literal["yes", "no"]


@dataclass(frozen=True)
class CalendarFile(Callback, area=ICS, layout="{session_id}"):
    session_id: Id


# obj ----------------------------------------------------------------------------------------

ObjectiveVerb = Literal[
    "done", "doing", "stuck", "num", "skip", "carry", "drop", "card", "close", "closeok"
]


@dataclass(frozen=True)
class ObjectiveAction(Callback, area=OBJ, layout="{objective_id}:{action}"):
    """A check-in answer or an objective card's button."""

    objective_id: Id
    action: ObjectiveVerb


@dataclass(frozen=True)
class ObjectiveNumber(Callback, area=OBJ, layout="{objective_id}:n:{number}"):
    """How many times this week (a number button)."""

    objective_id: Id
    number: Small


# objset -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectiveStep(Callback, area=OBJSET, layout="{step}"):
    step: Literal["new", "cancel", "resume", "other", "ok", "edit"]


@dataclass(frozen=True)
class ObjectiveTemplate(Callback, area=OBJSET, layout="tpl:{code}"):
    code: Code


@dataclass(frozen=True)
class ObjectiveMeasure(Callback, area=OBJSET, layout="m:{kind}"):
    kind: Literal["count", "binary"]


@dataclass(frozen=True)
class ObjectiveCount(Callback, area=OBJSET, layout="n:{count}"):
    count: Small


@dataclass(frozen=True)
class ObjectiveOtherCount(Callback, area=OBJSET, layout="n:other"):
    """The "another number" button: the merchant types it."""


@dataclass(frozen=True)
class ObjectiveDue(Callback, area=OBJSET, layout="due:{day}"):
    day: DayField


@dataclass(frozen=True)
class ObjectiveChange(Callback, area=OBJSET, layout="edit:{part}"):
    part: Literal["what", "how", "when"]


@dataclass(frozen=True)
class ObjectiveCloseToMakeRoom(Callback, area=OBJSET, layout="close:{objective_id}"):
    objective_id: Id


# tip, set -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TipVote(Callback, area=TIP, layout="{tip_id}:{vote}"):
    tip_id: TipId
    vote: Literal["up", "down"]


@dataclass(frozen=True)
class TipDay(Callback, area=SET, layout="day:{day}"):
    day: Weekday


@dataclass(frozen=True)
class TipTime(Callback, area=SET, layout="time:{at}"):
    at: TimeField


@dataclass(frozen=True)
class Pause(Callback, area=SET, layout="{action}"):
    action: Literal["pause", "resume"]


# q, qa --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareWithTrio(Callback, area=SET, layout="share:{answer}"):
    """Share my progress with my trio: on or off."""

    answer: Literal["on", "off"]


@dataclass(frozen=True)
class AfterBoosterChoice(Callback, area=SET, layout="after:{choice}"):
    """After the booster phase: keep a monthly check, or stop everything."""

    choice: Literal["monthly", "stop"]


@dataclass(frozen=True)
class QuestionStep(Callback, area=Q, layout="{step}"):
    step: Literal["send", "edit", "cancel"]


@dataclass(frozen=True)
class AnswerQuestion(Callback, area=QA, layout="{question_id}"):
    """The "✍️ Répondre à …" button under a question or in the digest."""

    question_id: Id


@dataclass(frozen=True)
class AnswerStep(Callback, area=QA, layout="{question_id}:{step}"):
    question_id: Id
    step: Literal["send", "edit", "cancel"]


# priv ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forget(Callback, area=PRIV, layout="forget:{answer}"):
    answer: Literal["confirm", "cancel"]


@dataclass(frozen=True)
class KeepMyData(Callback, area=PRIV, layout="keep"):
    """The retention warning's "I want to stay"."""


# inv ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCohort(Callback, area=INV, layout="new"):
    pass


@dataclass(frozen=True)
class StaffInvite(Callback, area=INV, layout="staff:{cohort_id}:{role}"):
    cohort_id: Id
    role: Literal["trainer", "coordinator"]


@dataclass(frozen=True)
class Flyer(Callback, area=INV, layout="flyer:{cohort_id}"):
    cohort_id: Id


@dataclass(frozen=True)
class BoosterLever(Callback, area=INV, layout="boost:{cohort_id}:{action}"):
    """The 🌱 After the sessions buttons (handlers/levers.py): see the booster phase, extend
    it by 1 or 3 months, end it (ask, then confirm or go back), or start a new cohort with
    the alumni."""

    cohort_id: Id
    action: Literal["show", "back", "m1", "m3", "end", "endok", "alumni"]


# sess, newsess, roll, pres, grp -------------------------------------------------------------


@dataclass(frozen=True)
class SessionCard(Callback, area=SESS, layout="{session_id}:{action}"):
    session_id: Id
    action: Literal["card", "move", "place", "summary", "cancel", "cancelok"]


@dataclass(frozen=True)
class PlanDate(Callback, area=NEWSESS, layout="d:{day}"):
    day: DayField


@dataclass(frozen=True)
class PlanTime(Callback, area=NEWSESS, layout="t:{at}"):
    at: TimeField


@dataclass(frozen=True)
class PlanPlace(Callback, area=NEWSESS, layout="p:{index}"):
    index: Small


@dataclass(frozen=True)
class PlanTheme(Callback, area=NEWSESS, layout="th:{number}"):
    number: Small


@dataclass(frozen=True)
class PlanCapacity(Callback, area=NEWSESS, layout="c:{seats}"):
    """Seats; 0 for no limit."""

    seats: Small


@dataclass(frozen=True)
class PlanStep(Callback, area=NEWSESS, layout="{step}"):
    """✅ plan it, or ✖️ (x) cancel."""

    step: Literal["ok", "x"]


@dataclass(frozen=True)
class RollToggle(Callback, area=ROLL, layout="{session_id}:{member_id}"):
    session_id: Id
    member_id: Id


@dataclass(frozen=True)
class RollPage(Callback, area=ROLL, layout="{session_id}:p:{page}"):
    session_id: Id
    page: Small


@dataclass(frozen=True)
class RollAdd(Callback, area=ROLL, layout="{session_id}:add"):
    session_id: Id


@dataclass(frozen=True)
class Presences(Callback, area=PRES, layout="{session_id}"):
    session_id: Id


@dataclass(frozen=True)
class GroupOpen(Callback, area=GRP, layout="open"):
    """The digest's "👥 Voir le groupe"."""


@dataclass(frozen=True)
class GroupPage(Callback, area=GRP, layout="page:{page}"):
    page: Small


# bc -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftAudience(Callback, area=BC, layout="{draft_id}:a:{audience}"):
    draft_id: Id
    audience: Code


@dataclass(frozen=True)
class DraftStep(Callback, area=BC, layout="{draft_id}:{step}"):
    """Send now, schedule, or (x) drop the draft."""

    draft_id: Id
    step: Literal["now", "sched", "x"]


@dataclass(frozen=True)
class DraftTime(Callback, area=BC, layout="{draft_id}:at:{at}"):
    draft_id: Id
    at: InstantField


@dataclass(frozen=True)
class BroadcastAction(Callback, area=BC, layout="{broadcast_id}:{action}"):
    broadcast_id: Id
    action: Literal["progress", "cancel"]


@dataclass(frozen=True)
class Library(Callback, area=BC, layout="lib"):
    """The tips library: its themes."""


@dataclass(frozen=True)
class LibraryTheme(Callback, area=BC, layout="th:{theme}"):
    theme: Code


@dataclass(frozen=True)
class LibraryTip(Callback, area=BC, layout="tip:{tip_id}"):
    tip_id: TipId


@dataclass(frozen=True)
class PushTip(Callback, area=BC, layout="push:{tip_id}"):
    """Send this tip to the whole cohort (asks first)."""

    tip_id: TipId


@dataclass(frozen=True)
class PushTipConfirm(Callback, area=BC, layout="pushok:{tip_id}"):
    tip_id: TipId


@dataclass(frozen=True)
class PushTipCancel(Callback, area=BC, layout="pushx"):
    pass


# pt -----------------------------------------------------------------------------------------

# The month a progress check is for, as YYYYMM (a button of an older month changes nothing).
Period = Annotated[str, Token("20[0-9]{2}(?:0[1-9]|1[0-2])")]
PracticeId = Annotated[str, Token("[a-z][a-z0-9_]{0,23}")]  # bot/content.py's practice ids


@dataclass(frozen=True)
class ProgressStep(Callback, area=PT, layout="{step}"):
    """Start (or resume) this month's check, "later", or stop for now."""

    step: Literal["start", "later", "stop"]


@dataclass(frozen=True)
class ProgressRange(Callback, area=PT, layout="{period}:{metric}:r:{index}"):
    """A range button of a number: f(ollowers), p(osts in 7 days), c(ustomers this month)."""

    period: Period
    metric: Literal["f", "p", "c"]
    index: Annotated[int, Number(0, 9)]


@dataclass(frozen=True)
class ProgressPractice(Callback, area=PT, layout="{period}:q:{practice}:{answer}"):
    """A practice of the checklist: adopted (yes) or not yet (no)."""

    period: Period
    practice: PracticeId
    answer: Literal["yes", "no"]


# trio ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrioEncourage(Callback, area=TRIO, layout="enc:{member_id}:{choice}"):
    """A merchant's one-tap word to a peer of their trio (bot/services/trio_week.py)."""

    member_id: Id
    choice: Literal["bravo", "courage", "talk"]


@dataclass(frozen=True)
class TrioLeave(Callback, area=TRIO, layout="leave:{step}"):
    """Leave my trio: ask, ok (confirmed) or no (kept)."""

    step: Literal["ask", "ok", "no"]


@dataclass(frozen=True)
class TrioShuffle(Callback, area=TRIO, layout="shuf:{seed}"):
    """The trainer's 🔀: a new draft formed with this seed."""

    seed: Small


@dataclass(frozen=True)
class TrioConfirm(Callback, area=TRIO, layout="ok"):
    """The trainer confirms the draft: members are told."""


@dataclass(frozen=True)
class TrioMoveStart(Callback, area=TRIO, layout="mv:{draft}"):
    """Move one person: pick them (in the draft: 1, in the confirmed trios: 0)."""

    draft: Annotated[int, Number(0, 1)]


@dataclass(frozen=True)
class TrioMovePerson(Callback, area=TRIO, layout="mvp:{member_id}"):
    member_id: Id


@dataclass(frozen=True)
class TrioMoveTo(Callback, area=TRIO, layout="mvt:{member_id}:{trio_id}"):
    member_id: Id
    trio_id: Id


# chal, sub -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChallengeAnswerButton(Callback, area=CHAL, layout="{challenge_id}:{action}"):
    """The member's "📷 Send my proof", "✅ Done", "⏭ Not this time"."""

    challenge_id: Id
    action: Literal["proof", "done", "skip"]


@dataclass(frozen=True)
class ChallengeConsent(Callback, area=CHAL, layout="{challenge_id}:show:{answer}"):
    """ "May I show it to the group?" (changeable later from /defi)."""

    challenge_id: Id
    answer: Literal["yes", "no"]


@dataclass(frozen=True)
class ChallengeProofFor(Callback, area=CHAL, layout="{challenge_id}:this"):
    """ "Is this for the challenge …?" — yes, for this one."""

    challenge_id: Id


@dataclass(frozen=True)
class ChallengeProofNot(Callback, area=CHAL, layout="notthis"):
    """ "Is this for the challenge …?" — no."""


@dataclass(frozen=True)
class ChallengeStaffStep(Callback, area=CHAL, layout="{step}"):
    """Staff: the list, a new challenge, write one's own, cancel the draft."""

    step: Literal["list", "new", "write", "x"]


@dataclass(frozen=True)
class ChallengeTheme(Callback, area=CHAL, layout="th:{theme}"):
    theme: Code


@dataclass(frozen=True)
class ChallengePick(Callback, area=CHAL, layout="lib:{challenge}"):
    """A library challenge (its id, content/challenges/)."""

    challenge: TipId


@dataclass(frozen=True)
class ChallengeAudience(Callback, area=CHAL, layout="aud:{audience}"):
    audience: Code


@dataclass(frozen=True)
class ChallengeDeadline(Callback, area=CHAL, layout="dl:{day}"):
    """Another deadline than the default (the day before the next session)."""

    day: DayField


@dataclass(frozen=True)
class ChallengeGo(Callback, area=CHAL, layout="go:{timing}"):
    """Send now, or at each member's tip time."""

    timing: Literal["now", "tip"]


@dataclass(frozen=True)
class ChallengeCard(Callback, area=CHAL, layout="{challenge_id}:{view}"):
    """Staff: a challenge's figures, its submissions, its showcase now."""

    challenge_id: Id
    view: Literal["card", "subs", "showcase"]


@dataclass(frozen=True)
class SubmissionAction(Callback, area=SUB, layout="{submission_id}:{action}"):
    """👏 bravo (the member gets a word from the trainer), ⭐ show first in the showcase."""

    submission_id: Id
    action: Literal["bravo", "star"]


def _check_layouts() -> None:
    """Every field of a shape is in its layout (a typo would make a shape unreadable)."""
    for shape in _SHAPES:
        named = {name for name, kind in shape.segments if kind is not None}
        if named != {field.name for field in fields(shape)}:
            raise TypeError(f"{shape.__name__}: layout and fields differ")


_check_layouts()
