"""The straightforward JCS writer Aragora used before ``aragora.receipts.jcs`` delegated
string escaping to the standard library's C escaper (that module until commit 53fc7b8):
one character at a time in Python. Kept as the reference the tests compare the module
with on generated values, and as the "before" of ``bench/jcs.py``.

Numbers go through the module's own :func:`format_number` (unchanged by that work and
checked against RFC 8785's vectors on its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aragora.receipts.jcs import MAX_SAFE_INTEGER, format_number

__all__ = ["SHORT_ESCAPES", "canonicalize"]

SHORT_ESCAPES = {  # RFC 8785 §3.2.2.2's two-character escapes
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def canonicalize(value: Any) -> bytes:
    """The JCS bytes of ``value``, as ``aragora.receipts.jcs.canonicalize`` promises them."""
    parts: list[str] = []
    _write(value, parts)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("JCS cannot encode a lone surrogate in a string") from exc


def _write(value: Any, out: list[str]) -> None:
    # bool before int: True is an int in Python.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        _write_string(value, out)
    elif isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            out.append(str(value))
        else:
            # A JSON number is a double: a larger integer means the nearest one, as
            # JSON.parse reads it (so canonical text reads back to the same bytes).
            try:
                out.append(format_number(float(value)))
            except OverflowError as exc:
                raise ValueError(f"integer {value} is beyond the range of a JSON number") from exc
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"JSON object member names must be strings, not {key!r}")
        out.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_units)):
            if index:
                out.append(",")
            _write_string(key, out)
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _utf16_units(name: str) -> bytes:
    # Big-endian UTF-16 compares byte-wise exactly as its code units compare. Lone
    # surrogates pass here and are refused when the output is encoded.
    return name.encode("utf-16-be", "surrogatepass")


def _write_string(text: str, out: list[str]) -> None:
    out.append('"')
    start = 0
    for index, char in enumerate(text):
        if char in SHORT_ESCAPES or char < " ":
            out.append(text[start:index])
            out.append(SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}")
            start = index + 1
    out.append(text[start:])
    out.append('"')
