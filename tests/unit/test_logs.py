"""bot/logs.py: one key=value line per event, and the bot token never in a log line."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.logs import QUIET_LOGGERS, REDACTED, KeyValueFormatter, TokenFilter, setup_logging

TOKEN = "123456789:AAEhBOweik9ai2o4Pq_rStUvWxYz0123456"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """setup_logging changes the root logger: put everything back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    with warnings.catch_warnings():  # setup_logging adds a warnings filter
        yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    logging.captureWarnings(False)


@pytest.fixture
def output(restore_logging: None) -> io.StringIO:
    stream = io.StringIO()
    settings = Settings(_env_file=None, bot_token=TOKEN, log_level="DEBUG")  # type: ignore[call-arg]
    setup_logging(settings, stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_one_key_value_line_per_event_with_extras(output: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.info("update handled", extra={"update_id": 42, "delivery_id": 7, "kind": "tip"})
    log.warning('two\nlines and "quotes"', extra={"who": "Anne Dupont"})

    first, second = lines(output)
    assert first.startswith("ts=")
    assert " level=INFO logger=bot.test " in first
    assert 'msg="update handled" update_id=42 delivery_id=7 kind=tip' in first
    assert 'msg="two\\nlines and \\"quotes\\""' in second
    assert 'who="Anne Dupont"' in second


def test_a_traceback_stays_on_one_line(output: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("bot.test").exception("failed", extra={"update_id": 3})

    (line,) = lines(output)
    assert "update_id=3" in line
    assert 'exc="Traceback (most recent call last):\\n' in line
    assert "ValueError: boom" in line


def test_the_token_never_appears(output: io.StringIO) -> None:
    log = logging.getLogger("telegram.ext.Updater")
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    log.error("request to %s failed", url)
    log.error("in an extra", extra={"url": url})
    log.error("url-encoded: %s", TOKEN.replace(":", "%3A"))
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("initialize failed")
    # A token we were not told about is caught by its shape.
    log.error("other bot: 987654321:ZZZhBOweik9ai2o4Pq_rStUvWxYz0123456/getMe")

    text = output.getvalue()
    assert TOKEN not in text
    assert "AAEhBOweik9ai2o4Pq" not in text
    assert "ZZZhBOweik9ai2o4Pq" not in text
    assert len(lines(output)) == 5
    assert text.count(REDACTED) >= 5


def test_httpx_request_logging_is_silenced(output: io.StringIO) -> None:
    # httpx logs "HTTP Request: POST https://api.telegram.org/bot<token>/getMe" at INFO.
    logging.getLogger("httpx").info(
        "HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN
    )
    logging.getLogger("httpx").warning("a real warning")
    (line,) = lines(output)
    assert "a real warning" in line
    for name in QUIET_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


def test_level_comes_from_log_level(restore_logging: None) -> None:
    stream = io.StringIO()
    settings = Settings(_env_file=None, bot_token=TOKEN, log_level="warning")  # type: ignore[call-arg]
    setup_logging(settings, stream=stream)
    logging.getLogger("bot.test").info("hidden")
    logging.getLogger("bot.test").warning("shown")
    assert [line.split("msg=")[1] for line in lines(stream)] == ["shown"]


def test_setup_twice_keeps_one_handler(restore_logging: None) -> None:
    before = len(logging.getLogger().handlers)
    setup_logging(stream=io.StringIO())
    setup_logging(stream=io.StringIO())
    assert len(logging.getLogger().handlers) == before + 1


def test_warnings_become_log_lines(output: io.StringIO) -> None:
    warnings.warn(f"deprecated call with {TOKEN}", DeprecationWarning, stacklevel=1)
    (line,) = lines(output)
    assert "logger=py.warnings" in line
    assert TOKEN not in line


def test_filter_alone_redacts_record_fields() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "token %s and %r", (TOKEN, {"t": TOKEN}), None
    )
    record.url = f"/bot{TOKEN}/sendMessage"
    assert TokenFilter([TOKEN]).filter(record)
    formatted = KeyValueFormatter().format(record)
    assert TOKEN not in formatted
    assert record.getMessage() == f"token {REDACTED} and {{'t': '{REDACTED}'}}"
    assert record.url == f"/bot{REDACTED}/sendMessage"
