"""RFC 8785 canonical JSON: the RFC's own vectors, and agreement with the public
verifier's implementation on generated JSON."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from aragora_verify import jcs_canonicalize
from hypothesis import given, settings
from hypothesis import strategies as st

from aragora.receipts.jcs import MAX_SAFE_INTEGER, canonicalize, format_number


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


# RFC 8785 Appendix B: IEEE-754 bit patterns and their serializations.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_appendix_b_numbers(bits: str, expected: str) -> None:
    assert format_number(_double(bits)) == expected
    assert canonicalize(_double(bits)) == expected.encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_have_no_canonical_form(bits: str) -> None:
    with pytest.raises(ValueError, match="no representation"):
        canonicalize(_double(bits))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (1.5e-7, "1.5e-7"),
        (123e18, "123000000000000000000"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (1e30, "1e+30"),
        (1e-27, "1e-27"),
        (0.1 + 0.2, "0.30000000000000004"),
        (100.0, "100"),
        (-1.25e-10, "-1.25e-10"),
    ],
)
def test_exponent_forms(value: float, expected: str) -> None:
    assert canonicalize(value).decode() == expected


def test_section_3_2_2_example() -> None:
    # RFC 8785 §3.2.2: the canonical form of its sample input.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
        '"literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(source)) == expected.encode("utf-8")


def test_section_3_2_3_sorting_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 (a surrogate pair, 0xD83D...) sorts before U+FB33.
    source = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    canonical = canonicalize(source).decode("utf-8")
    order = list(json.loads(canonical))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonical.startswith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u0000\u001f", '"\\u0000\\u001f"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ('"\\', '"\\"\\\\"'),
        ("/\u007f\u2028\u00e9", '"/\u007f\u2028\u00e9"'),
        ("\U0001f600", '"\U0001f600"'),
    ],
)
def test_strings_are_escaped_minimally(text: str, expected: str) -> None:
    assert canonicalize(text) == expected.encode("utf-8")


def test_what_json_cannot_hold_exactly_is_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        canonicalize("\ud800")
    with pytest.raises(ValueError, match="beyond the range"):
        canonicalize(10**400)
    # Larger integers mean the nearest double, as JSON.parse reads them.
    assert canonicalize(2**53 + 1) == b"9007199254740992"
    assert canonicalize(2**53) == b"9007199254740992"
    assert canonicalize(10**21) == b"1e+21"
    with pytest.raises(TypeError, match="member names"):
        canonicalize({1: "x"})
    with pytest.raises(TypeError, match="not a JSON value"):
        canonicalize({1, 2})
    assert canonicalize([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, True, None]) == (
        b"[9007199254740991,-9007199254740991,true,null]"
    )


_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_text, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_agrees_with_the_public_verifier(value: Any) -> None:
    ours = canonicalize(value)
    assert ours == jcs_canonicalize(value)
    # Canonical bytes read back to the same canonical bytes.
    assert canonicalize(json.loads(ours)) == ours


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_read_back_to_the_same_double(value: float) -> None:
    text = format_number(value)
    back = float(text)
    assert back == value or (value == 0 and back == 0)
    assert math.copysign(1, back) == 1 or value < 0
