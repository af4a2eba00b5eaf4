"""aragora.logs: one line per event, JSON or console, secrets redacted, idempotent setup."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import pytest

from aragora.errors import ConfigurationError
from aragora.logs import REDACTED, configure_logging, log_event, log_request

LOG = logging.getLogger("aragora.tests.logs")
# Loggers whose levels configure_logging sets in these tests (restored after each).
NAMED_LOGGERS = (
    "aragora",
    "aragora.access",
    "aiosqlite",
    "sqlalchemy.engine",
    "httpx",
    "some.library",
)


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name).level for name in NAMED_LOGGERS}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, previous in named.items():
        logging.getLogger(name).setLevel(previous)


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]


def test_json_lines_have_ts_level_event_then_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    log_event(
        LOG,
        "agent_response_time",
        provider="openai",
        model="gpt-4o",
        agent="Agent A",
        seconds=1.25,
        tokens=42,
        outcome="ok",
    )
    (line,) = _json_lines(stream)
    assert list(line)[:3] == ["ts", "level", "event"]
    assert line["level"] == "info"
    assert line["event"] == "agent_response_time"
    assert {k: line[k] for k in ("provider", "model", "agent", "seconds", "tokens", "outcome")} == {
        "provider": "openai",
        "model": "gpt-4o",
        "agent": "Agent A",
        "seconds": 1.25,
        "tokens": 42,
        "outcome": "ok",
    }
    assert line["logger"] == "aragora.tests.logs"
    ts = datetime.fromisoformat(str(line["ts"]))
    assert ts.utcoffset() == UTC.utcoffset(None)
    assert str(line["ts"]).endswith("Z")


def test_each_event_is_exactly_one_line_even_with_newlines() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    log_event(LOG, "multi", text="one\ntwo\u2028three")
    LOG.warning("plain\nmessage %d", 7)
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log_event(LOG, "failed", logging.ERROR, exc_info=True)
    lines = stream.getvalue().split("\n")
    assert lines[-1] == ""
    records = [json.loads(line) for line in lines[:-1]]
    assert [r["event"] for r in records] == ["multi", "plain\nmessage 7", "failed"]
    assert records[0]["text"] == "one\ntwo\u2028three"
    assert records[1]["level"] == "warning"


def test_levels_are_lowercase_in_json_and_filtered_by_the_configured_level() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)
    log_event(LOG, "hidden", logging.INFO)
    log_event(LOG, "shown", logging.ERROR)
    log_event(LOG, "also_shown", logging.CRITICAL)
    assert [(r["event"], r["level"]) for r in _json_lines(stream)] == [
        ("shown", "error"),
        ("also_shown", "critical"),
    ]


def test_console_lines_are_readable() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    log_event(LOG, "rate_limit", logging.WARNING, provider="openai", status=429, retry_after=2.5)
    log_event(LOG, "websocket", action="connect", reason="client went away", debate_id=None)
    first, second = stream.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING rate_limit provider=openai status=429 "
        r"retry_after=2\.5 logger=aragora\.tests\.logs",
        first,
    )
    assert ' INFO    websocket action=connect reason="client went away" debate_id=null ' in second


def test_exceptions_become_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    try:
        raise TimeoutError("agent took too long")
    except TimeoutError as exc:
        log_event(LOG, "timeout", logging.ERROR, exc_info=True, agent="Agent B")
        log_event(LOG, "agent_error", error=exc)
    with_trace, as_field = _json_lines(stream)
    assert with_trace["exception"] == "TimeoutError: agent took too long"
    assert str(with_trace["traceback"]).startswith("Traceback (most recent call last):")
    assert with_trace["agent"] == "Agent B"
    assert as_field["error"] == "TimeoutError: agent took too long"
    assert "traceback" not in as_field


def test_console_tracebacks_follow_the_event_line_indented() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    try:
        raise KeyError("missing")
    except KeyError:
        LOG.exception("lookup_failed")
    head, *trace = stream.getvalue().splitlines()
    assert "ERROR   lookup_failed exception=\"KeyError: 'missing'\"" in head
    assert trace[0] == "    Traceback (most recent call last):"
    assert all(row.startswith("    ") for row in trace)


def test_secrets_are_redacted_everywhere_in_the_line() -> None:
    stream = io.StringIO()
    secret = "sk-live-abc123"
    quoted = 'pa"ss\\word'
    configure_logging("INFO", "json", stream=stream, secrets=[secret, quoted, "", "  "])
    log_event(LOG, "request", url=f"https://api.example/v1?key={secret}", header=secret)
    LOG.info("token %s in message", secret)
    log_event(LOG, "quoted", password=quoted)
    try:
        raise RuntimeError(f"auth failed for {secret}")
    except RuntimeError:
        LOG.exception("boom")
    output = stream.getvalue()
    assert secret not in output
    assert 'pa\\"ss' not in output
    records = _json_lines(stream)
    assert records[0]["url"] == f"https://api.example/v1?key={REDACTED}"
    assert records[0]["header"] == REDACTED
    assert records[1]["event"] == f"token {REDACTED} in message"
    assert records[2]["password"] == REDACTED
    assert REDACTED in str(records[3]["traceback"])


def test_secrets_are_redacted_in_console_lines() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream, secrets=("s3cret value",))
    log_event(LOG, "config", value="s3cret value", other="x s3cret value y")
    assert "s3cret" not in stream.getvalue()


def test_configuring_twice_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    before = len(root.handlers)
    configure_logging("INFO", "json", stream=first)
    configure_logging("INFO", "console", stream=second)
    configure_logging("INFO", "console", stream=second)
    assert len(root.handlers) == before + 1
    log_event(LOG, "once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_other_handlers_on_the_root_logger_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO", "json", stream=io.StringIO())
    with caplog.at_level(logging.INFO):
        log_event(LOG, "seen_by_pytest", answer=42)
    assert [r.getMessage() for r in caplog.records] == ["seen_by_pytest"]


def test_stream_defaults_to_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log_event(LOG, "to_stderr")
    assert json.loads(capsys.readouterr().err)["event"] == "to_stderr"


def test_plain_records_and_extra_attributes_are_rendered() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream, libraries=["some.library"])
    logging.getLogger("some.library").info("connected to %s", "db", extra={"attempt": 2})
    (line,) = _json_lines(stream)
    assert line["event"] == "connected to db"
    assert line["attempt"] == 2
    assert line["logger"] == "some.library"


class Colour(Enum):
    RED = "red"


def test_values_without_a_json_form_are_rendered_as_text() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    log_event(
        LOG,
        "values",
        path=Path("/tmp/x"),
        colour=Colour.RED,
        when=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        ratio=float("nan"),
        tags={"b", "a"},
        nested={"k": (1, 2)},
        broken=Broken(),
        ts="not the timestamp",
        logger="not the logger",
    )
    (line,) = _json_lines(stream)
    assert line["path"] == "/tmp/x"
    assert line["colour"] == "red"
    assert line["when"] == "2025-01-02T03:04:05+00:00"
    assert line["ratio"] == "nan"
    assert line["tags"] == ["a", "b"]
    assert line["nested"] == {"k": [1, 2]}
    assert line["broken"] == "<unprintable Broken>"
    assert line["field_ts"] == "not the timestamp"
    assert line["field_logger"] == "not the logger"
    assert line["logger"] == "aragora.tests.logs"


def test_disabled_levels_do_no_work() -> None:
    stream = io.StringIO()
    configure_logging("ERROR", "json", stream=stream)

    class Expensive:
        def __str__(self) -> str:
            raise AssertionError("rendered although the level is disabled")

    log_event(LOG, "debug_only", logging.DEBUG, value=Expensive())
    assert stream.getvalue() == ""


@pytest.mark.parametrize(("level", "fmt"), [("LOUD", "json"), ("INFO", "xml")])
def test_unknown_level_or_format_is_a_configuration_error(level: str, fmt: str) -> None:
    with pytest.raises(ConfigurationError):
        configure_logging(level, fmt, stream=io.StringIO())


# --- whose lines: Aragora's own, libraries only when asked ----------------------------------
def _library_chatter() -> None:
    logging.getLogger("aiosqlite").debug("executing %s", "SELECT 1")
    logging.getLogger("sqlalchemy.engine").info("BEGIN (implicit)")
    logging.getLogger("httpx").info("HTTP Request: POST https://example.test")
    logging.getLogger("aiosqlite").warning("connection closed unexpectedly")


def test_at_debug_libraries_stay_quiet_and_aragora_speaks() -> None:
    # Libraries speak only their warnings even at DEBUG: aiosqlite's chatter alone would be
    # 98 % of the lines.
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    _library_chatter()
    log_event(logging.getLogger("aragora.runtime"), "debate_claimed", logging.DEBUG, epoch=3)
    events = [(line["logger"], line["event"]) for line in _json_lines(stream)]
    assert events == [
        ("aiosqlite", "connection closed unexpectedly"),  # warnings always come through
        ("aragora.runtime", "debate_claimed"),
    ]


def test_named_libraries_or_all_of_them_are_let_through_when_asked() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream, libraries=["sqlalchemy.engine"])
    _library_chatter()
    assert [line["logger"] for line in _json_lines(stream)] == ["sqlalchemy.engine", "aiosqlite"]

    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream, libraries=["*"])
    _library_chatter()
    # Every library at the level; one that sets its own (SQLAlchemy puts `sqlalchemy` at
    # WARNING when imported) keeps it unless named.
    seen = {(line["logger"], line["level"]) for line in _json_lines(stream)}
    assert {("aiosqlite", "debug"), ("httpx", "info"), ("aiosqlite", "warning")} <= seen

    # Reconfiguring without them quiets them again (the levels set before are undone).
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    _library_chatter()
    assert [line["logger"] for line in _json_lines(stream)] == ["aiosqlite"]


def test_a_quiet_level_still_applies_to_aragora() -> None:
    stream = io.StringIO()
    configure_logging("ERROR", "json", stream=stream)
    _library_chatter()
    LOG.warning("not shown at ERROR")
    LOG.error("shown")
    assert [line["event"] for line in _json_lines(stream)] == ["shown"]


def test_the_access_log_is_one_line_per_request_and_can_be_switched_off() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    log_request("GET", "/api/v1/debates/{debate_id}", 200, 0.00321, "req-1")
    (line,) = _json_lines(stream)
    assert line["level"] == "info"
    assert line["logger"] == "aragora.access"
    assert {k: line[k] for k in ("event", "method", "route", "status", "ms", "request_id")} == {
        "event": "http_request",
        "method": "GET",
        "route": "/api/v1/debates/{debate_id}",
        "status": 200,
        "ms": 3.2,
        "request_id": "req-1",
    }

    stream = io.StringIO()
    configure_logging("INFO", "console", stream=stream)
    log_request("POST", "/api/v1/debates", 202, 0.0125, "req-2")
    assert stream.getvalue().split(" ", 1)[1].strip() == (
        "INFO    http_request method=POST route=/api/v1/debates status=202 ms=12.5 "
        "request_id=req-2 logger=aragora.access"
    )

    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream, access_log=False)
    log_request("GET", "/api/health", 200, 0.001, "req-3")
    LOG.info("other lines still flow")
    assert [line["event"] for line in _json_lines(stream)] == ["other lines still flow"]

    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream)  # INFO lines are below the level
    log_request("GET", "/api/health", 200, 0.001, "req-4")
    assert stream.getvalue() == ""
