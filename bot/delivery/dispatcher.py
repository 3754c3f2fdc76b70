"""The dispatcher: claims due deliveries, sends them within Telegram's limits, records outcomes.

One `drain()` sends everything due at the clock's current time and returns a `DispatchReport`;
the engine (engine.py) calls it in a loop, tests call it once per tick.

How a delivery goes out
    claim     One short transaction takes the next due rows (PostgreSQL: `FOR UPDATE SKIP
              LOCKED`, so dispatchers never take the same row; SQLite: the transaction holds
              the write lock, and the `dispatcher` lease keeps a second process out), decides
              what cannot be sent (unknown kind, member unreachable or paused, quiet hours,
              renderer says Skip), renders the rest in the member's language and marks them
              `sending` with `claimed_at`/`claimed_by`. Batches are half a second of sending, so
              that little is in the air if the process dies.
    send      Each claimed row waits for its slot (global rate, its chat, its group, and the
              bot's message budget, where replies to people come first: limits.py) and is
              sent by a task (sends overlap, so network latency does not cut the rate).
    record    One short transaction per row records the outcome, guarded by
              `status='sending' AND claimed_by=<us>` so a claim taken over elsewhere is never
              overwritten. After a success, the kind's `after_send` hook runs in the same one.

Outcomes
    success           sent, `sent_at`, `telegram_message_id`, after_send.
    RetryAfter (429)  every send pauses `retry_after`; the row goes back to the front of the
                      queue, the attempt is not counted.
    Forbidden (403)   the row fails, the member becomes unreachable, their pending deliveries
                      are skipped ("member unreachable: ..."), nothing is retried.
    BadRequest (400)  failed, no retry, logged with the delivery id.
    network, 5xx      the attempt counts; the row is retried after `retry_delay` (30 s, 1 min,
                      2 min ...) up to `max_attempts`, then failed. A breaker also pauses all
                      sends (1 s, 2 s, 4 s ...) so that an outage costs a probe, not the queue.
    TimedOut          ambiguous: see "Policies" below.
    InvalidToken      nothing can be sent: rows go back to pending, sending pauses a minute.

Policies (most likely truth wins)
    TimedOut          If httpx timed out before the request left (connect or pool timeout), it
                      is a network error and is retried. Otherwise the request reached
                      Telegram, which most likely delivered it: the row is `sent` without a
                      message id, `last_error` says "unconfirmed", and it is never resent
                      (at most once: a merchant never gets the same message twice).
    stale `sending`   A row left `sending` by a process that died was claimed but, most likely,
                      not yet sent (claims run half a second ahead of the sends; only the few
                      sends in flight at the kill may have reached Telegram). It is requeued
                      (at least once), with its attempt counted and `last_error` saying so; a
                      row that reaches `max_attempts` this way is failed. Stale means: on
                      SQLite, any `sending` row when this process takes the lease (it is then
                      the only dispatcher); on PostgreSQL, rows whose `claimed_by` has no live
                      registration (`leases` row `dispatcher:<name>`, renewed every 2 s,
                      expiring after 30 s), and our own rows from a previous run.
    SQLite, 2 procs   One lease `dispatcher` in `leases`, renewed by its holder every 10 s and
                      valid 30 s: a second process started by mistake finds it held and stands
                      by (it sends nothing; it takes over when the holder stops, or when the
                      holder's lease expires, or at once if the holder was a process of this
                      machine that no longer exists).
    PostgreSQL        Every dispatcher registers; each sends at `per_second / live dispatchers`
                      so that together they stay under the bot's limit (a newcomer waits one
                      renewal, 2 s, for the others to see it). Per-chat pacing is per process:
                      two rows for one member claimed by two processes at the same instant may
                      reach that chat less than a second apart (Telegram tolerates short
                      bursts in a chat; a 429 would be honoured like any other).

Longer than our ~600 lines on purpose: claiming, sending and recording share one claim's life
(`_Claimed`, the lease, the breaker, the limiter) and the policies above read across all three;
split into modules, each would reach into the others' state. The outcome table above is the map.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import math
import os
import re
import socket
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import CursorResult, and_, delete, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InputMediaPhoto, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.delivery.limits import Limits, RateLimiter, SendBudget, TimeSource, retry_delay
from bot.delivery.outbox import skip_pending
from bot.delivery.quiet import quiet_until
from bot.delivery.registry import DeliveryRegistry, RenderContext, Rendered, Skip
from bot.keyboards import keyboard
from bot.models import Cohort, Delivery, DeliveryStatus, Lease, Member
from bot.ratelimit import OUTBOX
from bot.runtime import Runtime

log = logging.getLogger(__name__)

PENDING = DeliveryStatus.PENDING.value
SENDING = DeliveryStatus.SENDING.value
SENT = DeliveryStatus.SENT.value
FAILED = DeliveryStatus.FAILED.value
SKIPPED = DeliveryStatus.SKIPPED.value

# The SQLite lease (one dispatcher per database) and the PostgreSQL registrations.
LEASE_NAME = "dispatcher"
REGISTRATION_PREFIX = "dispatcher:"
LEASE_TTL = timedelta(seconds=30)
LEASE_RENEW_SECONDS = 10.0
# PostgreSQL: registrations are renewed (and the live dispatchers counted) this often, so
# that a newcomer is seen by the others within it; a newcomer that finds others alive waits
# that long before its first send, so that together they never exceed the bot's rate.
REGISTRATION_RENEW_SECONDS = 2.0
# PostgreSQL: how often to look for claims of dispatchers that died.
STALE_SCAN_SECONDS = 10.0
# Claim what the rate sends in this many seconds; claim the next batch (in the background)
# when half of it is gone.
CLAIM_SECONDS = 0.5
# SQLite: look at this many due rows per claimed one (quiet hours and skips need no slot).
SCAN_FACTOR = 4
SCAN_MIN = 64
# Sends in the air at once (the bot's connection pool is 64; replies to users need some too).
MAX_IN_FLIGHT = 16
# Rows waiting for a busy chat (same member twice, a group's minute) before claiming stops.
MAX_WAITING = 256
# A pause longer than this (429 retry_after, outage breaker) ends the drain: its rows go back
# to pending so that nothing stays claimed while nothing is sent.
MAX_INLINE_PAUSE = 5.0
# Longest a drain waits without looking at its stop condition again.
MAX_IDLE_SLICE = 0.5
# After InvalidToken/Conflict: nothing can be sent until an operator acts.
FATAL_PAUSE = 60.0

RECOVERED_NOTE = "requeued: its dispatcher stopped during the send (delivery unconfirmed)"
UNCONFIRMED_NOTE = "unconfirmed: the send timed out after reaching Telegram (not resent)"


@dataclass
class DispatchReport:
    """What one drain did."""

    sent: int = 0
    unconfirmed: int = 0  # TimedOut after the request left: counted as sent, never resent
    skipped: int = 0
    failed: int = 0
    retried: int = 0  # network errors: back to pending with a later due_at
    held: int = 0  # quiet hours: back to pending until the window ends
    rate_limited: int = 0  # 429s received
    recovered: int = 0  # stale `sending` rows requeued (or failed) at the start
    standby: bool = False  # SQLite: another process holds the dispatcher lease
    paused_for: float = 0.0  # the drain stopped because sending is paused this long
    elapsed: float = 0.0

    @property
    def delivered(self) -> int:
        return self.sent + self.unconfirmed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Telegram's answer when one item of a media group fails: "failed to send message #2 with ...".
_FAILED_ITEM = re.compile(r"message #(\d+)")
ALBUM_MAX = 10


@dataclass
class _Claimed:
    id: int
    member_id: int
    chat_id: int
    kind: str
    attempts: int
    rendered: Rendered


@dataclass
class _Drain:
    """The in-memory part of one drain: claimed rows not sent yet and sends in the air."""

    report: DispatchReport
    queue: deque[_Claimed] = field(default_factory=deque)
    waiting: list[tuple[float, int, _Claimed]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # The next claim, prefetched while the queue still holds a quarter second of sends: a
    # claim transaction never holds up the even schedule of sends.
    claiming: asyncio.Task[tuple[list[_Claimed], int]] | None = None
    unreachable: dict[int, str] = field(default_factory=dict)
    sequence: int = 0


def retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta; accept both, without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def request_never_left(exc: TimedOut) -> bool:
    """Whether a TimedOut happened before Telegram could see the request (safe to resend)."""
    return isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)


def _rowcount(result: Any) -> int:
    return max(cast(CursorResult[Any], result).rowcount or 0, 0)


def _always() -> bool:
    return True


class Dispatcher:
    """Sends the due deliveries of one process (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        bot: Bot,
        registry: DeliveryRegistry,
        limits: Limits | None = None,
        *,
        time_source: TimeSource = time.monotonic,
        budget: SendBudget | None = None,
    ) -> None:
        self.rt = runtime
        self.bot = bot
        self.registry = registry
        # `budget`: the bot's message budget shared with the replies (bot/ratelimit.py).
        self.limiter = RateLimiter(limits, time_source, budget)
        # claimed_by is 64 characters, and so is the registration's name with its prefix.
        self.name = runtime.instance[: 64 - len(REGISTRATION_PREFIX)]
        self._time = time_source
        self._sqlite = runtime.db.is_sqlite
        self._holding = False
        self._said_standby = False
        self._lease_checked = -math.inf
        self._stale_checked = -math.inf
        self._recover_own = True  # our own `sending` rows from a previous run or failed drain
        self._lock = asyncio.Lock()
        self._username: str | None = None
        self._zones: dict[str, ZoneInfo] = {}
        # Sends Telegram accepted whose outcome could not be written (the database was away):
        # written at the start of the next drain, before our `sending` rows are requeued.
        self._unrecorded: dict[int, tuple[_Claimed, dict[str, Any]]] = {}
        self._draining: _Drain | None = None  # the drain in progress (abandon_sends)

    @property
    def limits(self) -> Limits:
        return self.limiter.limits

    @limits.setter
    def limits(self, value: Limits) -> None:
        self.limiter.limits = value

    @property
    def holding(self) -> bool:
        """Whether this dispatcher may send (SQLite: holds the lease; PostgreSQL: registered)."""
        return self._holding

    # --- the drain --------------------------------------------------------------------------
    async def drain(self, should_continue: Callable[[], bool] = _always) -> DispatchReport:
        """Send everything due now; return when nothing due is left (or sending is paused)."""
        async with self._lock:
            state = _Drain(DispatchReport())
            self._draining = state
            started = self._time()
            completed = False
            try:
                if self._unrecorded:
                    await self._record_unrecorded()
                if await self._ensure_lease(state.report, at_start=True):
                    await self._loop(state, should_continue)
                else:
                    state.report.standby = True
                completed = True
            finally:
                await self._wind_down(state, completed)
                self._draining = None
            state.report.elapsed = self._time() - started
            return state.report

    async def _loop(self, state: _Drain, should_continue: Callable[[], bool]) -> None:
        exhausted = False
        while should_continue():
            if not await self._ensure_lease(state.report):
                state.report.standby = True
                return
            pause = self.limiter.paused_for()
            if pause > MAX_INLINE_PAUSE:
                state.report.paused_for = pause
                return
            if state.claiming is not None and state.claiming.done():
                items, scanned = state.claiming.result()
                state.claiming = None
                state.queue.extend(items)
                exhausted = scanned == 0
            batch = self._batch_size()
            if (
                not exhausted
                and state.claiming is None
                and len(state.queue) <= batch // 2
                and len(state.waiting) < MAX_WAITING
            ):
                state.claiming = asyncio.create_task(
                    self._claim(batch - len(state.queue), state.report)
                )
                if not state.queue:
                    await asyncio.wait([state.claiming])  # nothing else to do meanwhile
                continue
            delay = self.limiter.global_delay()
            if delay > MAX_INLINE_PAUSE:
                continue  # a 429 arrived during the claim: the check above ends the drain
            if delay > 0:
                await self._idle(state, delay)
                continue
            if len(state.tasks) >= MAX_IN_FLIGHT:
                await self._idle(state, None)
                continue
            item = self._next_ready(state)
            if item is None:
                if state.waiting:
                    # Capped: a group's minute may be long, and a stop request must not wait.
                    wait = min(state.waiting[0][0] - self._time(), MAX_IDLE_SLICE)
                    await self._idle(state, wait)
                elif state.tasks or state.claiming is not None:
                    await self._idle(state, None)
                elif exhausted:
                    return
                continue
            if item.member_id in state.unreachable:
                await self._finish(
                    item, state.report, SKIPPED, note=state.unreachable[item.member_id]
                )
                continue
            ticket = self.limiter.record(item.chat_id)
            task = asyncio.create_task(
                self._deliver(item, state, ticket), name=f"delivery-{item.id}"
            )
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)
            # A task cancelled before it ran never hands its slot back itself.
            task.add_done_callback(functools.partial(self._hand_back, ticket))

    async def _wind_down(self, state: _Drain, completed: bool) -> None:
        """Let sends in the air finish, then give back what was claimed and not sent."""
        if state.claiming is not None:
            try:
                items, _ = await state.claiming
                state.queue.extend(items)
            except Exception:
                log.exception("claiming deliveries failed")
                completed = False
            state.claiming = None
        if state.tasks:
            await asyncio.gather(*state.tasks, return_exceptions=True)
        leftovers = [*state.queue, *(entry[2] for entry in state.waiting)]
        state.queue.clear()
        state.waiting.clear()
        if leftovers:
            try:
                await self._release([item.id for item in leftovers])
            except Exception:
                log.exception("could not release %d claimed deliveries", len(leftovers))
                completed = False
        if not completed:
            self._recover_own = True  # whatever is left `sending` under our name is stale

    def _hand_back(self, ticket: int, task: asyncio.Task[None]) -> None:
        self.limiter.finish(ticket, answered=False)  # nothing if the send already did

    def _batch_size(self) -> int:
        rate = self.limits.per_second * self.limiter.share
        return max(1, math.ceil(rate * CLAIM_SECONDS))

    def _next_ready(self, state: _Drain) -> _Claimed | None:
        now = self._time()
        while state.waiting and state.waiting[0][0] <= now:
            _, _, item = heapq.heappop(state.waiting)
            ready_at = self.limiter.chat_ready_at(item.chat_id)
            if ready_at <= now:
                return item
            self._wait_for_chat(state, item, ready_at)
        while state.queue:
            item = state.queue.popleft()
            ready_at = self.limiter.chat_ready_at(item.chat_id)
            if ready_at <= now:
                return item
            self._wait_for_chat(state, item, ready_at)
        return None

    def _wait_for_chat(self, state: _Drain, item: _Claimed, ready_at: float) -> None:
        state.sequence += 1
        heapq.heappush(state.waiting, (ready_at, state.sequence, item))

    async def _idle(self, state: _Drain, seconds: float | None) -> None:
        """Wait `seconds` (None: no limit), or until a send or the claim finishes (either may
        change the plan)."""
        awaited: set[asyncio.Task[Any]] = set(state.tasks)
        if state.claiming is not None:
            awaited.add(state.claiming)
        if awaited:
            await asyncio.wait(
                awaited,
                timeout=None if seconds is None else max(seconds, 0.0),
                return_when=asyncio.FIRST_COMPLETED,
            )
        elif seconds is not None:
            await asyncio.sleep(max(seconds, 0.0))

    # --- claiming ---------------------------------------------------------------------------
    async def _claim(self, want: int, report: DispatchReport) -> tuple[list[_Claimed], int]:
        """Claim up to `want` due rows; returns them and how many due rows were looked at."""
        now = self.rt.clock.now()
        window = self.rt.settings.quiet_window
        claimed: list[_Claimed] = []
        held: dict[datetime, list[int]] = {}
        closed: list[tuple[int, str, str]] = []  # (id, status, reason)
        statement = (
            select(Delivery, Member, Cohort.timezone)
            .join(Member, Member.id == Delivery.member_id)
            .outerjoin(Cohort, Cohort.id == Member.active_cohort_id)
            .where(Delivery.status == PENDING, Delivery.due_at <= now)
            .order_by(Delivery.due_at, Delivery.id)
            .limit(self._scan_size(want))
            .with_for_update(of=Delivery, skip_locked=True)
        )
        async with self.rt.db.unit_of_work() as session:
            rows = (await session.execute(statement)).all()
            for delivery, member, zone_name in rows:
                if len(claimed) >= want:
                    break  # the rest stays pending for the next claim
                zone = self._zone(zone_name)
                reason = self._cannot_send(delivery, member)
                if reason is not None:
                    status = FAILED if reason.startswith("no renderer") else SKIPPED
                    closed.append((delivery.id, status, reason))
                    continue
                if not delivery.urgent:
                    end = quiet_until(now, zone, window)
                    if end is not None:
                        held.setdefault(end, []).append(delivery.id)
                        continue
                outcome = await self._render(session, delivery, member, zone, now)
                if isinstance(outcome, Rendered):
                    assert member.chat_id is not None  # checked by _cannot_send
                    claimed.append(
                        _Claimed(
                            id=delivery.id,
                            member_id=member.id,
                            chat_id=member.chat_id,
                            kind=delivery.kind,
                            attempts=delivery.attempts,
                            rendered=outcome,
                        )
                    )
                elif isinstance(outcome, Skip):
                    closed.append((delivery.id, SKIPPED, outcome.reason))
                else:
                    closed.append((delivery.id, FAILED, outcome))
            await self._apply_claim(session, now, claimed, held, closed)
        for end, ids in held.items():
            report.held += len(ids)
            for delivery_id in ids:
                log.info(
                    "delivery %d held by quiet hours until %s",
                    delivery_id,
                    end.isoformat(),
                    extra={"delivery_id": delivery_id},
                )
        for delivery_id, status, reason in closed:
            if status == FAILED:
                report.failed += 1
                log.warning(
                    "delivery %d failed: %s",
                    delivery_id,
                    reason,
                    extra={"delivery_id": delivery_id},
                )
            else:
                report.skipped += 1
                log.info(
                    "delivery %d skipped: %s",
                    delivery_id,
                    reason,
                    extra={"delivery_id": delivery_id},
                )
        return claimed, len(rows)

    def _scan_size(self, want: int) -> int:
        # SQLite: the claim holds the database's write lock anyway, so looking further (past
        # rows held by quiet hours or skipped) is free. PostgreSQL: every row selected is
        # locked until commit, and rows locked but not taken would starve the other dispatchers.
        return max(want * SCAN_FACTOR, SCAN_MIN) if self._sqlite else want

    def _cannot_send(self, delivery: Delivery, member: Member) -> str | None:
        if delivery.kind not in self.registry.renderers:
            return f"no renderer for kind {delivery.kind!r}"
        if member.chat_id is None:
            return "member has no chat with the bot"
        if not member.reachable:
            return "member unreachable"
        if member.paused and delivery.kind not in self.registry.when_paused:
            return "member paused the bot"
        return None

    async def _render(
        self,
        session: AsyncSession,
        delivery: Delivery,
        member: Member,
        zone: ZoneInfo,
        now: datetime,
    ) -> Rendered | Skip | str:
        """The renderer's answer, or the reason it failed (a string)."""
        renderer = self.registry.renderers[delivery.kind]
        context = RenderContext(
            session=session,
            delivery=delivery,
            member=member,
            t=self.rt.i18n(member.language, zone),
            now=now,
            settings=self.rt.settings,
            bot_username=self._bot_username(),
            content=self.rt.content,
        )
        try:
            # A savepoint: a renderer that breaks its queries must not break the whole claim.
            async with session.begin_nested():
                return await renderer(context)
        except Exception as exc:
            log.exception(
                "delivery %d: the %s renderer failed",
                delivery.id,
                delivery.kind,
                extra={"delivery_id": delivery.id},
            )
            return f"render error: {type(exc).__name__}: {exc}"[:500]

    async def _apply_claim(
        self,
        session: AsyncSession,
        now: datetime,
        claimed: Sequence[_Claimed],
        held: dict[datetime, list[int]],
        closed: Sequence[tuple[int, str, str]],
    ) -> None:
        # Core updates (not ORM attribute changes): a renderer's failed savepoint may have
        # expired the objects, and async sessions cannot reload them implicitly.
        if claimed:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_([item.id for item in claimed]))
                .values(status=SENDING, claimed_at=now, claimed_by=self.name)
                .execution_options(synchronize_session=False)
            )
        for end, ids in held.items():
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(due_at=end)
                .execution_options(synchronize_session=False)
            )
        for delivery_id, status, reason in closed:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status=status, last_error=reason[:500])
                .execution_options(synchronize_session=False)
            )

    def _zone(self, name: str | None) -> ZoneInfo:
        key = name or self.rt.settings.timezone
        zone = self._zones.get(key)
        if zone is None:
            try:
                zone = ZoneInfo(key)
            except (ValueError, KeyError):
                zone = ZoneInfo(self.rt.settings.timezone)
            self._zones[key] = zone
        return zone

    def _bot_username(self) -> str:
        if self._username is None:
            try:
                self._username = self.bot.username
            except RuntimeError:  # not initialised (tests with a stand-in bot)
                return ""
        return self._username

    # --- sending ----------------------------------------------------------------------------
    async def _deliver(self, item: _Claimed, state: _Drain, ticket: int) -> None:
        report = state.report
        try:
            message = await self._send_counted(item, ticket)
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc)
            self.limiter.pause(seconds)
            report.rate_limited += 1
            log.warning(
                "delivery %d: Telegram asked to wait %.1f s (429); every send waits",
                item.id,
                seconds,
                extra={"delivery_id": item.id},
            )
            state.queue.appendleft(item)  # first in line after the pause; no attempt counted
            return
        except Forbidden as exc:
            reason = f"member unreachable: {exc.message}"
            state.unreachable[item.member_id] = reason
            await self._record_forbidden(item, report, exc.message, reason)
            return
        except BadRequest as exc:
            await self._finish(item, report, FAILED, note=f"bad request: {exc.message}", tried=True)
            return
        except TimedOut as exc:
            if request_never_left(exc):
                await self._retry(item, report, f"timed out before sending: {exc.message}")
            else:
                await self._finish(item, report, SENT, note=UNCONFIRMED_NOTE, tried=True)
            return
        except (InvalidToken, Conflict, EndPointNotFound) as exc:
            log.error(
                "delivery %d: Telegram refuses this bot (%s); sending paused %.0f s",
                item.id,
                type(exc).__name__,
                FATAL_PAUSE,
                extra={"delivery_id": item.id},
            )
            self.limiter.pause(FATAL_PAUSE)
            state.queue.appendleft(item)
            return
        except NetworkError as exc:
            await self._retry(item, report, f"network: {exc.message}")
            return
        except TelegramError as exc:  # e.g. ChatMigrated: not ours to fix automatically
            await self._finish(
                item, report, FAILED, note=f"{type(exc).__name__}: {exc.message}", tried=True
            )
            return
        except Exception as exc:
            log.exception("delivery %d: unexpected error while sending", item.id)
            await self._retry(item, report, f"error: {type(exc).__name__}: {exc}")
            return
        self.limiter.note_success()
        await self._finish(item, report, SENT, message_id=message.message_id, tried=True)

    async def _send_counted(self, item: _Claimed, ticket: int) -> Message:
        """`_send`, then hand its budget slot back: it counts a window past the answer, or
        past the failure if no answer came (the message may have arrived up to then)."""
        try:
            message = await self._send(item)
        except BaseException as exc:
            lost = isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
            self.limiter.finish(ticket, answered=isinstance(exc, Exception) and not lost)
            raise
        self.limiter.finish(ticket)
        return message

    async def _send(self, item: _Claimed) -> Message:
        rendered = item.rendered
        options: dict[str, Any] = {
            "parse_mode": ParseMode.HTML,
            "reply_markup": keyboard(rendered.buttons),
        }
        if isinstance(self.bot, ExtBot):
            # The dispatcher paces itself and handles 429s: the Application's rate limiter
            # (bot/ratelimit.py) lets these calls through. A plain Bot takes no such argument.
            options["rate_limit_args"] = OUTBOX
        if self.limits.send_timeout is not None:
            options["read_timeout"] = self.limits.send_timeout
        if rendered.document is not None:
            filename, data = rendered.document
            return await self.bot.send_document(
                item.chat_id,
                document=data,
                filename=filename,
                caption=rendered.text or None,
                **options,
            )
        if rendered.album:
            return await self._send_album(item, options)
        if rendered.photo is not None:
            return await self.bot.send_photo(
                item.chat_id, photo=rendered.photo, caption=rendered.text or None, **options
            )
        return await self.bot.send_message(item.chat_id, rendered.text, **options)

    async def _send_album(self, item: _Claimed, options: dict[str, Any]) -> Message:
        """The photos as one album, the text as the first one's caption. A photo Telegram no
        longer has is left out and the rest sent: Telegram names it ("failed to send message
        #2 ...") and each retry is one more call; with one photo left, it is sent alone, and
        without any, the text alone."""
        rendered = item.rendered
        photos = list(dict.fromkeys(rendered.album))
        options = {key: value for key, value in options.items() if key != "reply_markup"}
        parse_mode = options.pop("parse_mode")
        while True:
            if not photos:
                return await self.bot.send_message(
                    item.chat_id, rendered.text, parse_mode=parse_mode, **options
                )
            if len(photos) == 1:
                try:
                    return await self.bot.send_photo(
                        item.chat_id,
                        photo=photos[0],
                        caption=rendered.text or None,
                        parse_mode=parse_mode,
                        **options,
                    )
                except BadRequest as exc:
                    if "file" not in exc.message.lower():
                        raise
                    log.info("delivery %d: a photo is gone (%s)", item.id, exc.message)
                    photos.clear()
                    continue
            media = [
                InputMediaPhoto(
                    photo,
                    caption=(rendered.text or None) if index == 0 else None,
                    parse_mode=parse_mode if index == 0 else None,
                )
                for index, photo in enumerate(photos[:ALBUM_MAX])
            ]
            try:
                messages = await self.bot.send_media_group(item.chat_id, media, **options)
            except BadRequest as exc:
                failed = _FAILED_ITEM.search(exc.message)
                if failed is None or not 1 <= int(failed.group(1)) <= len(media):
                    raise
                log.info("delivery %d: album photo #%s left out (%s)", item.id,
                         failed.group(1), exc.message)  # fmt: skip
                del photos[int(failed.group(1)) - 1]
                continue
            return messages[0]

    # --- recording outcomes -----------------------------------------------------------------
    def _ours(self, delivery_id: int) -> Any:
        return and_(
            Delivery.id == delivery_id,
            Delivery.status == SENDING,
            Delivery.claimed_by == self.name,
        )

    async def _finish(
        self,
        item: _Claimed,
        report: DispatchReport,
        status: str,
        *,
        note: str | None = None,
        message_id: int | None = None,
        tried: bool = False,
    ) -> None:
        """Record a final outcome (sent, failed, skipped) of a claimed row."""
        now = self.rt.clock.now()
        values: dict[str, Any] = {"status": status}
        if tried:
            values["attempts"] = Delivery.attempts + 1
        if note is not None:
            values["last_error"] = note[:500]
        if status == SENT:
            values["sent_at"] = now
            values["telegram_message_id"] = message_id
        try:
            async with self.rt.db.unit_of_work() as session:
                result = await session.execute(
                    update(Delivery)
                    .where(self._ours(item.id))
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) != 1:
                    self._lost_claim(item)
                    return
                if status == SENT:
                    await self._after_send(session, item, now)
        except Exception:
            # The row stays `sending` under our name; the next drain requeues it ...
            self._recover_own = True
            if status == SENT:
                # ... unless Telegram has it: then the next drain first records it as sent.
                self._unrecorded[item.id] = (item, values)
            log.exception("delivery %d: could not record %s", item.id, status)
            return
        if status == SENT and note == UNCONFIRMED_NOTE:
            report.unconfirmed += 1
            log.warning("delivery %d %s", item.id, UNCONFIRMED_NOTE, extra={"delivery_id": item.id})
        elif status == SENT:
            report.sent += 1
            log.info(
                "delivery %d sent kind=%s message_id=%s attempt=%d",
                item.id,
                item.kind,
                message_id,
                item.attempts + 1,
                extra={"delivery_id": item.id},
            )
        elif status == FAILED:
            report.failed += 1
            log.warning(
                "delivery %d failed kind=%s: %s",
                item.id,
                item.kind,
                note,
                extra={"delivery_id": item.id},
            )
        else:
            report.skipped += 1
            log.info("delivery %d skipped: %s", item.id, note, extra={"delivery_id": item.id})

    async def _record_unrecorded(self) -> None:
        """Write the outcome of sends that reached Telegram while the database was away.

        Raises if the database is still away: the drain then fails before requeuing anything
        (a requeued row would be sent twice)."""
        for delivery_id, (item, values) in list(self._unrecorded.items()):
            async with self.rt.db.unit_of_work() as session:
                result = await session.execute(
                    update(Delivery)
                    .where(self._ours(delivery_id))
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(result) == 1:
                    await self._after_send(session, item, values["sent_at"])
                else:
                    self._lost_claim(item)
            del self._unrecorded[delivery_id]
            log.warning(
                "delivery %d: recorded as sent once the database was back",
                delivery_id,
                extra={"delivery_id": delivery_id},
            )

    async def _after_send(self, session: AsyncSession, item: _Claimed, now: datetime) -> None:
        hook = self.registry.after_send.get(item.kind)
        if hook is None:
            return
        delivery = await session.get(Delivery, item.id)
        if delivery is None:  # pragma: no cover - we just updated it
            return
        try:
            async with session.begin_nested():
                await hook(session, delivery, now)
        except Exception:
            # The message is out: record it as sent whatever the hook thinks.
            log.exception("delivery %d: after_send of %s failed", item.id, item.kind)

    async def _record_forbidden(
        self, item: _Claimed, report: DispatchReport, message: str, reason: str
    ) -> None:
        try:
            async with self.rt.db.unit_of_work() as session:
                result = await session.execute(
                    update(Delivery)
                    .where(self._ours(item.id))
                    .values(
                        status=FAILED,
                        attempts=Delivery.attempts + 1,
                        last_error=f"forbidden: {message}"[:500],
                    )
                    .execution_options(synchronize_session=False)
                )
                await session.execute(
                    update(Member)
                    .where(Member.id == item.member_id)
                    .values(reachable=False)
                    .execution_options(synchronize_session=False)
                )
                skipped = await skip_pending(session, reason=reason, member_id=item.member_id)
        except Exception:
            self._recover_own = True
            log.exception("delivery %d: could not record a 403", item.id)
            return
        if _rowcount(result) != 1:
            self._lost_claim(item)
        report.failed += 1
        report.skipped += skipped
        log.warning(
            "delivery %d failed: %s; member %d marked unreachable, %d pending skipped",
            item.id,
            message,
            item.member_id,
            skipped,
            extra={"delivery_id": item.id, "member_id": item.member_id},
        )

    async def _retry(self, item: _Claimed, report: DispatchReport, error: str) -> None:
        """A network-level failure: count the attempt, retry later or give up."""
        pause = self.limiter.note_failure()
        attempts = item.attempts + 1
        if attempts >= self.limits.max_attempts:
            await self._finish(
                item, report, FAILED, note=f"{error} (after {attempts} attempts)", tried=True
            )
            return
        due = self.rt.clock.now() + retry_delay(attempts, self.limits)
        try:
            async with self.rt.db.unit_of_work() as session:
                result = await session.execute(
                    update(Delivery)
                    .where(self._ours(item.id))
                    .values(
                        status=PENDING,
                        attempts=attempts,
                        due_at=due,
                        claimed_at=None,
                        claimed_by=None,
                        last_error=error[:500],
                    )
                    .execution_options(synchronize_session=False)
                )
        except Exception:
            self._recover_own = True
            log.exception("delivery %d: could not schedule a retry", item.id)
            return
        if _rowcount(result) != 1:
            self._lost_claim(item)
            return
        report.retried += 1
        log.warning(
            "delivery %d: %s; retry %d at %s (all sends paused %.1f s)",
            item.id,
            error,
            attempts + 1,
            due.isoformat(),
            pause,
            extra={"delivery_id": item.id},
        )

    async def _release(self, ids: Sequence[int]) -> None:
        """Give claimed, unsent rows back to pending (no attempt was made)."""
        async with self.rt.db.unit_of_work() as session:
            for start in range(0, len(ids), 500):
                await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id.in_(ids[start : start + 500]),
                        Delivery.status == SENDING,
                        Delivery.claimed_by == self.name,
                    )
                    .values(status=PENDING, claimed_at=None, claimed_by=None)
                    .execution_options(synchronize_session=False)
                )
        log.debug("released %d claimed deliveries", len(ids))

    def _lost_claim(self, item: _Claimed) -> None:
        log.warning(
            "delivery %d: our claim was taken over before the outcome was recorded",
            item.id,
            extra={"delivery_id": item.id},
        )

    # --- leases and stale claims --------------------------------------------------------------
    async def _ensure_lease(self, report: DispatchReport, *, at_start: bool = False) -> bool:
        """Renew our right to send: at the start of a drain, then every LEASE_RENEW_SECONDS.

        Stale claims are recovered here. Our own `sending` rows only at the start of a drain,
        when none of them can be in the air; other dispatchers' dead claims at any time.
        """
        moment = self._time()
        renew_every = LEASE_RENEW_SECONDS if self._sqlite else REGISTRATION_RENEW_SECONDS
        if not at_start and moment - self._lease_checked < renew_every:
            return self._holding
        self._lease_checked = moment
        now = self.rt.clock.now()
        async with self.rt.db.unit_of_work() as session:
            if self._sqlite:
                holder = await self._hold_exclusive(session, now)
                holding, dispatchers = holder is None, 1
            else:
                holder, holding = None, True
                dispatchers = await self._register(session, now)
        became = holding and not self._holding
        self._holding = holding
        self.limiter.set_share(dispatchers)
        if became and not self._sqlite and dispatchers > 1:
            # The others learn about us at their next renewal: until then they still send
            # at the rate they had, so we wait for them to slow down.
            self.limiter.pause(REGISTRATION_RENEW_SECONDS + 0.1)
        if not holding:
            if not self._said_standby:
                self._said_standby = True
                log.warning(
                    "another process (%s) dispatches from this SQLite database; standing by",
                    holder,
                )
            return False
        self._said_standby = False
        if self._sqlite:
            # The lease makes us the only dispatcher: any `sending` row not in our hands is stale.
            if at_start and (became or self._recover_own):
                report.recovered += await self._recover(now, own=True, everyone=True)
                self._recover_own = False
        else:
            own = at_start and self._recover_own
            if own or moment - self._stale_checked >= STALE_SCAN_SECONDS:
                report.recovered += await self._recover(now, own=own, everyone=False)
                self._stale_checked = moment
                self._recover_own = self._recover_own and not own
        return True

    async def _hold_exclusive(self, session: AsyncSession, now: datetime) -> str | None:
        """SQLite: take or renew the one dispatcher lease; returns the other holder, if any.

        The unit of work began with BEGIN IMMEDIATE, so reading and writing the lease is atomic.
        """
        lease = await session.get(Lease, LEASE_NAME)
        expires = now + LEASE_TTL
        if lease is None:
            session.add(Lease(name=LEASE_NAME, holder=self.name, expires_at=expires))
            return None
        if lease.holder == self.name:
            lease.expires_at = expires
            return None
        if lease.expires_at <= now or holder_is_gone(lease.holder):
            log.warning("taking over the dispatcher lease from %s", lease.holder)
            lease.holder = self.name
            lease.expires_at = expires
            return None
        return lease.holder

    async def _register(self, session: AsyncSession, now: datetime) -> int:
        """PostgreSQL: renew our registration; returns how many dispatchers are alive."""
        name = REGISTRATION_PREFIX + self.name
        expires = now + LEASE_TTL
        await session.execute(
            postgresql.insert(Lease)
            .values(name=name, holder=self.name, expires_at=expires)
            .on_conflict_do_update(
                index_elements=[Lease.name],
                set_={"holder": self.name, "expires_at": expires},
            )
        )
        alive = await session.scalar(
            select(func.count())
            .select_from(Lease)
            .where(Lease.name.startswith(REGISTRATION_PREFIX), Lease.expires_at > now)
        )
        return max(int(alive or 0), 1)

    async def _recover(
        self, now: datetime, *, own: bool, everyone: bool, only_own: bool = False
    ) -> int:
        """Requeue (or fail, past max attempts) the `sending` rows of dead claims."""
        stale: Any
        if only_own:
            stale = and_(Delivery.status == SENDING, Delivery.claimed_by == self.name)
        elif everyone:
            stale = Delivery.status == SENDING
        else:
            registered = exists(
                select(Lease.name).where(
                    Lease.name == literal(REGISTRATION_PREFIX) + Delivery.claimed_by,
                    Lease.expires_at > now,
                )
            )
            dead: Any = Delivery.claimed_by.is_(None) | ~registered
            if own:
                dead = or_(Delivery.claimed_by == self.name, dead)
            else:
                dead = and_(Delivery.claimed_by != self.name, dead)
            stale = and_(Delivery.status == SENDING, dead)
        async with self.rt.db.unit_of_work() as session:
            exhausted = await session.execute(
                update(Delivery)
                .where(stale, Delivery.attempts + 1 >= self.limits.max_attempts)
                .values(
                    status=FAILED,
                    attempts=Delivery.attempts + 1,
                    last_error=f"{RECOVERED_NOTE}; too many attempts",
                )
                .execution_options(synchronize_session=False)
            )
            requeued = await session.execute(
                update(Delivery)
                .where(stale)
                .values(
                    status=PENDING,
                    attempts=Delivery.attempts + 1,
                    claimed_at=None,
                    claimed_by=None,
                    last_error=RECOVERED_NOTE,
                )
                .execution_options(synchronize_session=False)
            )
        count = _rowcount(exhausted) + _rowcount(requeued)
        if count:
            log.warning(
                "recovered %d deliveries left `sending` by a stopped dispatcher "
                "(%d requeued, %d failed)",
                count,
                _rowcount(requeued),
                _rowcount(exhausted),
            )
        return count

    def abandon_sends(self) -> int:
        """Stop waiting for the sends in the air (the process stops and Telegram does not
        answer); returns how many. Their rows stay `sending` for `hand_back_claims`."""
        state = self._draining
        if state is None:
            return 0
        tasks = [task for task in state.tasks if not task.done()]
        for task in tasks:
            task.cancel()
        return len(tasks)

    async def hand_back_claims(self) -> int:
        """At stop, once no drain runs: requeue every row still `sending` under our name.

        Sends Telegram accepted while the database was away are written first, as sent (if
        the database is still away this raises and nothing is requeued: a requeued row would
        be sent twice). What is left then are abandoned sends, whose outcome is unknown: they
        are treated like the claims of a stopped dispatcher.
        """
        if self._unrecorded:
            await self._record_unrecorded()
        return await self._recover(self.rt.clock.now(), own=True, everyone=False, only_own=True)

    async def close(self) -> None:
        """Give up the lease (SQLite) or the registration (PostgreSQL)."""
        if not self._holding:
            return
        self._holding = False
        async with self.rt.db.unit_of_work() as session:
            if self._sqlite:
                await session.execute(
                    delete(Lease).where(Lease.name == LEASE_NAME, Lease.holder == self.name)
                )
            else:
                await session.execute(
                    delete(Lease).where(Lease.name == REGISTRATION_PREFIX + self.name)
                )

    # --- between drains ---------------------------------------------------------------------
    async def next_due_at(self) -> datetime | None:
        """When the earliest pending delivery is due (an index seek on status, due_at)."""
        async with self.rt.db.unit_of_work() as session:
            return await session.scalar(
                select(func.min(Delivery.due_at)).where(Delivery.status == PENDING)
            )


def holder_is_gone(holder: str) -> bool:
    """Whether a lease holder named `host:pid` was a process of this machine that is gone.

    Only trusted for SQLite (one machine by nature): on PostgreSQL another machine may have
    the same host name, and its pid means nothing here.
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
