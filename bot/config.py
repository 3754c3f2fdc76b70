"""Settings: the one place where deploy-specific values live (environment or `.env`).

Names follow the contract in shared/DESIGN.md; `.env.example` documents each of them.
"""

from __future__ import annotations

import re
from datetime import time
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGES = ("fr", "nl", "en")
TELEGRAM_API = "https://api.telegram.org/bot"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(value: str) -> time:
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"expected a time as HH:MM, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the contract. Unknown variables in the environment are ignored."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///relais.db"
    telegram_api_base_url: str = TELEGRAM_API
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    port: int = 8443
    # GET /healthz of the running bot (both modes; 0 disables). See bot/health.py.
    health_port: int = Field(default=8080, ge=0, le=65535)
    # /healthz says 503 when the Bot API has not answered for this long (failures included).
    health_stale_seconds: float = Field(default=30.0, gt=0)
    timezone: str = "Europe/Brussels"
    default_language: str = "fr"
    reminder_offsets_minutes: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [1440, 120]
    )
    tip_days: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["tue", "fri"])
    tip_time: str = "09:30"
    quiet_hours: str = "21:00-08:00"
    scheduler_tick_seconds: float = 30.0
    log_level: str = "INFO"
    # Who runs the bot, for the privacy notice.
    organisation_name: str = "Commune d'Estaimpuis"
    organisation_contact: str = "info@estaimpuis.be"
    # Check-in QR codes work from this long before a session's start to this long after it.
    checkin_open_minutes_before: int = 60
    checkin_close_minutes_after: int = 120
    staff_invite_ttl_hours: int = 72
    # Members inactive this many days in every cohort are erased (warned a week before);
    # 0 keeps everyone until they ask (/oublier). See bot/services/privacy.py.
    retention_days: int = Field(default=730, ge=0)
    # The monthly progress check goes out on the member's first tip day on or after this day
    # of the month, at their tip time (bot/services/progress.py). 1 to 28: every month has it.
    progress_check_day: int = Field(default=1, ge=1, le=28)
    # Size of the peer groups formed by /trios (bot/services/trios.py).
    trio_size: int = Field(default=3, ge=2, le=6)
    # After a cohort's last session, the group goes on by message for this many months
    # (bot/services/booster.py).
    booster_months: int = Field(default=6, ge=0, le=24)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        return _split(value)

    @field_validator("reminder_offsets_minutes", mode="before")
    @classmethod
    def _offsets(cls, value: object) -> object:
        return _split(value)

    @field_validator("tip_days", mode="before")
    @classmethod
    def _tip_days(cls, value: object) -> object:
        days = _split(value)
        if isinstance(days, list):
            days = [str(day).lower()[:3] for day in days]
            unknown = [day for day in days if day not in WEEKDAYS]
            if unknown:
                raise ValueError(f"unknown day(s) {unknown}; use {', '.join(WEEKDAYS)}")
        return days

    @field_validator("tip_time")
    @classmethod
    def _tip_time(cls, value: str) -> str:
        parse_hhmm(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if value.strip():
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError("expected HH:MM-HH:MM, e.g. 21:00-08:00 (empty disables)")
            parse_hhmm(start)
            parse_hhmm(end)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}; use {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - in the secret header.
        secret = value.get_secret_value() if value is not None else ""
        if secret and not _WEBHOOK_SECRET.match(secret):
            raise ValueError("use 1 to 256 characters among A-Z, a-z, 0-9, _ and -")
        return value

    @cached_property
    def tip_time_value(self) -> time:
        return parse_hhmm(self.tip_time)

    @cached_property
    def quiet_window(self) -> tuple[time, time] | None:
        if not self.quiet_hours.strip():
            return None
        start, _, end = self.quiet_hours.partition("-")
        return parse_hhmm(start), parse_hhmm(end)

    @property
    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token else None
