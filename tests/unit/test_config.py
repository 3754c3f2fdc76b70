"""Settings: lists, times and quiet hours as people write them in .env; clear refusals."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.cli.common import describe_settings_error
from bot.config import Settings, parse_hhmm

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no variable of the runner's environment, no ./.env."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def from_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_defaults_follow_the_contract() -> None:
    settings = Settings()
    assert settings.token is None
    assert settings.database_url == "sqlite+aiosqlite:///relais.db"
    assert settings.admin_ids == []
    assert settings.timezone == "Europe/Brussels"
    assert settings.default_language == "fr"
    assert settings.reminder_offsets_minutes == [1440, 120]
    assert settings.tip_days == ["tue", "fri"]
    assert settings.tip_time_value == time(9, 30)
    assert settings.quiet_window == (time(21, 0), time(8, 0))
    assert settings.scheduler_tick_seconds == 30
    assert settings.log_level == "INFO"
    assert settings.webhook_url is None
    assert settings.health_port == 8080


def test_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(
        monkeypatch,
        ADMIN_IDS=" 123456789, 987654321 ,",
        TIP_DAYS="Monday, THU",
        REMINDER_OFFSETS_MINUTES="2880,60,15",
    )
    assert settings.admin_ids == [123456789, 987654321]
    assert settings.tip_days == ["mon", "thu"]
    assert settings.reminder_offsets_minutes == [2880, 60, 15]


def test_empty_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, ADMIN_IDS="", REMINDER_OFFSETS_MINUTES="")
    assert settings.admin_ids == []
    assert settings.reminder_offsets_minutes == []


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "BOT_TOKEN=123:abc\nADMIN_IDS=42\nORGANISATION_NAME=Commune d'Estaimpuis\n"
    )
    settings = Settings()
    assert settings.token == "123:abc"
    assert settings.admin_ids == [42]
    assert settings.organisation_name == "Commune d'Estaimpuis"


def test_an_empty_token_is_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_env(monkeypatch, BOT_TOKEN="").token is None


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ADMIN_IDS", "12,abc", "valid integer"),
        ("TIP_DAYS", "tue,someday", "unknown day"),
        ("REMINDER_OFFSETS_MINUTES", "1440,soon", "valid integer"),
        ("TIP_TIME", "25:00", "HH:MM"),
        ("TIP_TIME", "9h30", "HH:MM"),
        ("QUIET_HOURS", "21:00", "HH:MM-HH:MM"),
        ("QUIET_HOURS", "21:00-24:30", "HH:MM"),
        ("TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("DEFAULT_LANGUAGE", "de", "fr, nl, en"),
        ("LOG_LEVEL", "verbose", "unknown log level"),
        ("WEBHOOK_SECRET", "has spaces!", "A-Z"),
        ("HEALTH_PORT", "70000", "less than or equal"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        from_env(monkeypatch, **{name: value})
    (line,) = describe_settings_error(caught.value)
    assert line.startswith(f"invalid setting {name}: ")
    assert fragment in line
    assert "\n" not in line


def test_secrets_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as caught:
        from_env(monkeypatch, WEBHOOK_SECRET="not allowed: my secret")
    (line,) = describe_settings_error(caught.value)
    assert "my secret" not in line


@pytest.mark.parametrize(
    ("value", "expected"),
    [("09:30", time(9, 30)), ("9:05", time(9, 5)), (" 23:59 ", time(23, 59)), ("0:00", time(0))],
)
def test_parse_hhmm(value: str, expected: time) -> None:
    assert parse_hhmm(value) == expected


@pytest.mark.parametrize("value", ["24:00", "12:60", "12", "12:5", "noon", ""])
def test_parse_hhmm_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm(value)


def test_quiet_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_env(monkeypatch, QUIET_HOURS="22:30-07:15").quiet_window == (
        time(22, 30),
        time(7, 15),
    )
    assert from_env(monkeypatch, QUIET_HOURS="12:00-14:00").quiet_window == (time(12), time(14))
    assert from_env(monkeypatch, QUIET_HOURS="").quiet_window is None


def test_env_example_documents_every_setting() -> None:
    """.env.example lists each setting (commented out or not), and nothing that is not one."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_env_example_gives_the_defaults() -> None:
    """The commented-out values of .env.example are the real defaults (they must not drift)."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    defaults = Settings()
    for name, value in re.findall(r"^# ?([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE):
        if name in {"ADMIN_IDS", "WEBHOOK_URL", "WEBHOOK_SECRET"}:
            continue  # examples or empty, no default to compare with
        field = name.lower()
        parsed = Settings(**{field: value}) if value else defaults
        assert getattr(parsed, field) == getattr(defaults, field), name
