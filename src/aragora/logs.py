"""Structured logs: one line per event, as JSON for machines or readable for a console.

    configure_logging("INFO", "json", secrets=settings.secret_values())
    log = logging.getLogger(__name__)
    log_event(log, "agent_response_time", provider="openai", model="gpt-4o", seconds=1.42)

gives, with the ``json`` format, exactly one JSON object per line::

    {"ts": "2025-01-02T03:04:05.678Z", "level": "info", "event": "agent_response_time",
     "provider": "openai", "model": "gpt-4o", "seconds": 1.42, "logger": "aragora.agents"}

and with the ``console`` format::

    2025-01-02T03:04:05.678Z INFO    agent_response_time provider=openai model=gpt-4o
    seconds=1.42 logger=aragora.agents

(one line; wrapped here). Records from plain ``logger.info("text %s", arg)`` calls, including
those of libraries, are rendered the same way with the formatted message as ``event`` and
any ``extra=`` attributes as fields. An exception attached with ``exc_info`` becomes the
fields ``exception`` (``Type: message``) and ``traceback``; an exception passed as a field
value is rendered as ``Type: message``.

Every occurrence of a configured secret in a rendered line, including its JSON-escaped
form, is replaced by ``***`` before the line is written, so API keys never reach the logs.

Whose lines: Aragora's loggers (``aragora.*``) log at the configured level; third-party
libraries only at WARNING and above unless named (``ARAGORA_LOG_LIBRARIES``), so DEBUG
shows Aragora's own decisions rather than a database driver's every statement. The access
log (:func:`log_request`, one ``http_request`` line per HTTP request on ``aragora.access``)
can be switched off on its own (``ARAGORA_ACCESS_LOG=false``).
"""

from __future__ import annotations

import enum
import json
import logging
import math
import re
import sys
import traceback
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from pathlib import PurePath
from types import TracebackType
from typing import Literal, TextIO, TypeAlias

from aragora.errors import ConfigurationError

__all__ = [
    "ACCESS_LOGGER",
    "REDACTED",
    "LogFormat",
    "configure_logging",
    "log_event",
    "log_request",
]

LogFormat = Literal["json", "console"]
REDACTED = "***"

ExcInfo: TypeAlias = (
    bool
    | BaseException
    | tuple[type[BaseException], BaseException, TracebackType | None]
    | tuple[None, None, None]
    | None
)

_LEVELS: Mapping[str, int] = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
_FIELDS_ATTR = "aragora_fields"
_RESERVED_KEYS = frozenset({"ts", "level", "event", "logger"})
# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRS = frozenset(
    {*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName"}
)
_BARE_VALUE = re.compile(r"[^\s\"'=\\]+")


ACCESS_LOGGER = "aragora.access"
"""The logger of the access log (:func:`log_request`); off with ``access_log=False``."""
_OFF = logging.CRITICAL + 10
_ACCESS = logging.getLogger(ACCESS_LOGGER)


def configure_logging(
    level: str,
    fmt: str,
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
    libraries: Iterable[str] = (),
    access_log: bool = True,
) -> None:
    """Send every log record (Aragora's and libraries') to ``stream`` as one line per event.

    ``level`` is DEBUG, INFO, WARNING, ERROR or CRITICAL (any case); ``fmt`` is ``json``
    or ``console``; ``stream`` defaults to the current ``sys.stderr``. Each non-blank
    string in ``secrets`` is replaced by ``***`` wherever it appears in a line.

    Aragora's loggers (``aragora.*``) log at ``level``. Third-party libraries log only
    WARNING and above, whatever ``level`` is, unless named in ``libraries`` (logger
    names such as ``sqlalchemy.engine``, or ``*`` for every library;
    ``ARAGORA_LOG_LIBRARIES``): at DEBUG a database driver would otherwise drown
    Aragora's own lines. ``access_log=False`` silences :func:`log_request`.

    Idempotent: calling it again replaces the handler and the levels it set before (and
    nothing else), so lines are never doubled. Raises
    :class:`~aragora.errors.ConfigurationError` for an unknown level or format.
    """
    numeric_level = _LEVELS.get(level.strip().upper())
    if numeric_level is None:
        raise ConfigurationError(
            f"unknown log level {level!r}: expected one of {', '.join(_LEVELS)}"
        )
    style = fmt.strip().lower()
    if style not in ("json", "console"):
        raise ConfigurationError(f"unknown log format {fmt!r}: expected json or console")
    named = {name.strip() for name in libraries if name.strip()}

    handler = _AragoraHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(_LineFormatter(style == "json", _Redactor(secrets)))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _AragoraHandler)]:
        for name in previous.levels_set:
            logging.getLogger(name).setLevel(logging.NOTSET)
        root.removeHandler(previous)
        previous.close()
    root.addHandler(handler)
    # The root level is what every library inherits; Aragora's own loggers get theirs.
    everything = "*" in named
    root.setLevel(numeric_level if everything else max(numeric_level, logging.WARNING))
    chosen = {"aragora": numeric_level}
    chosen.update(dict.fromkeys(named - {"*"}, numeric_level))
    chosen[ACCESS_LOGGER] = logging.NOTSET if access_log else _OFF
    for name, chosen_level in chosen.items():
        logging.getLogger(name).setLevel(chosen_level)
    handler.levels_set = tuple(chosen)


def log_event(
    logger: logging.Logger,
    event: str,
    /,
    level: int = logging.INFO,
    *,
    exc_info: ExcInfo = None,
    **fields: object,
) -> None:
    """Log one structured event named ``event`` with ``fields`` as its key/value pairs.

    Fields keep the order given. ``logger`` and ``event`` are positional-only, so fields
    may reuse those names (like ``ts``, they are written as ``field_logger``, ...). Values
    that are not JSON types are rendered as text (exceptions as ``Type: message``).
    ``exc_info`` (``True`` inside an ``except`` block, or an exception) adds its type,
    message and traceback. Does nothing when ``logger`` is not enabled for ``level``;
    never raises because of a field's value.
    """
    if not logger.isEnabledFor(level):
        return
    logger.log(level, event, exc_info=exc_info, extra={_FIELDS_ATTR: fields}, stacklevel=2)


def log_request(method: str, route: str, status: int, seconds: float, request_id: str) -> None:
    """The access-log line of one HTTP request, at INFO on ``aragora.access``::

        http_request method=GET route=/api/v1/debates/{debate_id} status=200 ms=3.2
        request_id=9f0c...

    ``route`` is the matched route *template*, never the raw path (ids and query strings
    stay out of the log, and lines group by endpoint). Costs one level check when the
    access log is off (``ARAGORA_ACCESS_LOG=false``) or the level is above INFO."""
    log_event(
        _ACCESS,
        "http_request",
        method=method,
        route=route,
        status=status,
        ms=round(seconds * 1000, 1),
        request_id=request_id,
    )


class _AragoraHandler(logging.StreamHandler[TextIO]):
    """The one handler configure_logging owns; its class marks it for replacement, and it
    remembers the loggers whose levels were set with it, to reset them on replacement."""

    levels_set: tuple[str, ...] = ()


class _Redactor:
    """Replaces every configured secret, raw or JSON-escaped, by ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret or not secret.strip():
                continue
            forms.add(secret)
            forms.add(json.dumps(secret)[1:-1])
            forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
        # Longest first, so a secret containing another is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, line: str) -> str:
        return line if self._pattern is None else self._pattern.sub(REDACTED, line)


class _LineFormatter(logging.Formatter):
    """Renders a record as one JSON object or one console line, then redacts it."""

    def __init__(self, as_json: bool, redact: _Redactor) -> None:
        super().__init__()
        self._as_json = as_json
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one redacted line (console tracebacks follow, indented)."""
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        ts = ts.replace("+00:00", "Z")
        fields = _record_fields(record)
        trace: str | None = None
        if record.exc_info and record.exc_info[1] is not None:
            fields["exception"] = _describe_exception(record.exc_info[1])
            trace = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            fields["stack"] = record.stack_info

        if self._as_json:
            if trace is not None:
                fields["traceback"] = trace
            fields["logger"] = record.name
            document: dict[str, object] = {
                "ts": ts,
                "level": record.levelname.lower(),
                "event": _event_text(record),
                **fields,
            }
            line = json.dumps(document, default=_text)
        else:
            event = _event_text(record)
            if "\n" in event or "\r" in event:
                event = json.dumps(event, ensure_ascii=False)
            parts = [ts, f"{record.levelname:<7}", event]
            fields["logger"] = record.name
            parts.extend(f"{key}={_console_value(value)}" for key, value in fields.items())
            line = " ".join(parts)
            if trace is not None:
                line += "\n" + "\n".join("    " + row for row in trace.splitlines())
        return self._redact(line)


def _event_text(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad %-format in someone's call must not lose the record
        return f"{_text(record.msg)} {_text(record.args)}"


def _record_fields(record: logging.LogRecord) -> dict[str, object]:
    raw: dict[str, object] = {}
    given = getattr(record, _FIELDS_ATTR, None)
    if isinstance(given, Mapping):
        raw.update(given)
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRS and key != _FIELDS_ATTR and not key.startswith("_"):
            raw[key] = value
    fields: dict[str, object] = {}
    for key, value in raw.items():
        name = str(key)
        fields[f"field_{name}" if name in _RESERVED_KEYS else name] = _plain(value)
    return fields


def _plain(value: object, depth: int = 0) -> object:
    """Turn a field value into JSON-ready data; text for anything without a JSON form."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, BaseException):
        return _describe_exception(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, depth)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return value.as_posix()
    if depth < 4 and isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, list | tuple):
        return [_plain(item, depth + 1) for item in value]
    if depth < 4 and isinstance(value, set | frozenset):
        return sorted((_plain(item, depth + 1) for item in value), key=_text)
    return _text(value)


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the log line
        return f"<unprintable {type(value).__name__}>"


def _describe_exception(exc: BaseException) -> str:
    message = _text(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _console_value(value: object) -> str:
    if isinstance(value, str) and _BARE_VALUE.fullmatch(value):
        return value
    return json.dumps(value, ensure_ascii=False, default=_text)
