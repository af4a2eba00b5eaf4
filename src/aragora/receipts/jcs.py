"""RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value.

Receipts are digested and signed over these bytes, so two parties holding the same JSON
value compute the same digest whatever their JSON library's formatting:

- no whitespace; UTF-8 output;
- object members sorted by their names' UTF-16 code units (not code points);
- strings escaped minimally: ``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other controls as
  lowercase ``\\u00xx``; everything else, DEL and U+2028 included, written as is;
- numbers as ECMAScript's ``Number.prototype.toString`` writes the IEEE-754 double
  (shortest round-trip digits; ``-0`` is ``0``; exponent form below 1e-6 and from 1e21);
  an ``int`` is the nearest double, as ``JSON.parse`` would read it.

Values are Python's JSON types (``dict`` with ``str`` keys, ``list``/``tuple``, ``str``,
``int``, ``float``, ``bool``, ``None``). NaN, infinities, lone surrogates and integers beyond
the range of a double are refused with :class:`ValueError`: JCS has no bytes for them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

__all__ = ["MAX_SAFE_INTEGER", "canonicalize", "format_number", "sha256_hex"]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer every IEEE-754 double between it and zero represents exactly."""

# The standard library's JSON string escaper (in C) writes exactly JCS's escapes: \" \\
# \b \f \n \r \t, the other controls as lowercase \u00xx, every other character as is
# (tests/receipts/test_jcs.py checks each code point). It lets a lone surrogate through;
# canonicalize() refuses it when it encodes the output.
_escape = encode_basestring


def canonicalize(value: Any) -> bytes:
    """The JCS bytes of ``value``; :class:`ValueError` or :class:`TypeError` when it has
    none (see the module docstring)."""
    parts: list[str] = []
    _write(value, parts)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("JCS cannot encode a lone surrogate in a string") from exc


def sha256_hex(value: Any) -> str:
    """Hex SHA-256 of the JCS bytes of ``value``."""
    return hashlib.sha256(canonicalize(value)).hexdigest()


def _write(value: Any, out: list[str]) -> None:
    # The exact JSON types first, by identity of their type: one comparison each, and
    # the common case. True and False are not here (their type is bool, not int).
    kind = type(value)
    if kind is str:
        out.append(_escape(value))
    elif kind is dict:
        _write_object(value, out)
    elif kind is list or kind is tuple:
        _write_array(value, out)
    elif kind is int:
        out.append(_integer(value))
    elif kind is float:
        out.append(format_number(value))
    else:
        _write_other(value, out)


def _write_other(value: Any, out: list[str]) -> None:
    """The literals, subclasses of the JSON types and other mappings; refuses the rest."""
    # bool before int: True is an int in Python.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_escape(value))
    elif isinstance(value, int):
        out.append(_integer(value))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, Mapping):
        _write_object(value, out)
    elif isinstance(value, list | tuple):
        _write_array(value, out)
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _write_object(members: Mapping[str, Any], out: list[str]) -> None:
    out.append("{")
    for index, name in enumerate(_sorted_names(members)):
        if index:
            out.append(",")
        out.append(_escape(name))
        out.append(":")
        _write(members[name], out)
    out.append("}")


def _write_array(items: list[Any] | tuple[Any, ...], out: list[str]) -> None:
    out.append("[")
    for index, item in enumerate(items):
        if index:
            out.append(",")
        _write(item, out)
    out.append("]")


def _integer(value: int) -> str:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    # A JSON number is a double: a larger integer means the nearest one, as JSON.parse
    # reads it (so canonical text reads back to the same bytes).
    try:
        return format_number(float(value))
    except OverflowError as exc:
        raise ValueError(f"integer {value} is beyond the range of a JSON number") from exc


def _sorted_names(members: Mapping[str, Any]) -> list[str]:
    """The member names in the order of their UTF-16 code units; :class:`TypeError` for a
    name that is not a ``str``."""
    try:
        # One pass in C that refuses any name that is not a str, and gives the
        # characters of all of them for the check below.
        joined = "".join(members)
    except TypeError:
        for name in members:
            if not isinstance(name, str):
                raise TypeError(f"JSON object member names must be strings, not {name!r}") from None
        raise
    # Without characters above U+FFFF every name is its own sequence of UTF-16 code units
    # (a lone surrogate included), so code-point order (str's own) is UTF-16 order. Above
    # it they differ: U+1F600 is D83D DE00 in UTF-16 and sorts before U+FB33.
    if joined.isascii() or max(joined) <= "\uffff":
        return sorted(members)
    return sorted(members, key=_utf16_units)


def _utf16_units(name: str) -> bytes:
    # Big-endian UTF-16 compares byte-wise exactly as its code units compare. Lone
    # surrogates pass here and are refused when the output is encoded.
    return name.encode("utf-16-be", "surrogatepass")


def format_number(value: float) -> str:
    """``value`` as ECMAScript's ``Number.prototype.toString`` writes it (RFC 8785 §3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"JSON has no representation for {value}")
    if value == 0:
        return "0"  # -0 as well
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digit string that reads back as the same double, which is
    # the digit string ECMAScript chooses; only the layout differs.
    digits, exponent = _shortest_digits(abs(value))
    # The value is 0.DIGITS x 10^point, i.e. DIGITS with the decimal point after `point`.
    point = exponent + len(digits)
    count = len(digits)
    if count <= point <= 21:
        text = digits + "0" * (point - count)
    elif 0 < point <= 21:
        text = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        mantissa = digits[0] if count == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"
    return sign + text


def _shortest_digits(value: float) -> tuple[str, int]:
    """The significant digits (no leading or trailing zeros) and the power of ten of the
    last one: ``value == int(digits) * 10**exponent``."""
    text = repr(value)
    mantissa, _, power = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    exponent = (int(power) if power else 0) - len(fraction)
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    return stripped, exponent
