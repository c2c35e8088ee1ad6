"""The one Decimal <-> text conversion: no exponent ever, no negative zero, never through float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perpvol_core.money import canonical_decimal, plain_decimal, to_decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+3"), "1000"),
        (Decimal("1.5E+10"), "15000000000"),
        (Decimal("0E-8"), "0"),
        (Decimal("0E+5"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("-0.000"), "0"),
        (Decimal("1E-10"), "0.0000000001"),
        (Decimal("-1.2300"), "-1.23"),
        (Decimal("1234.50"), "1234.5"),
        (Decimal("100"), "100"),
        (Decimal("-0.001"), "-0.001"),
        (7, "7"),
        (-12, "-12"),
        ("0.10", "0.1"),
        ("1e2", "100"),
    ],
)
def test_canonical_decimal(value: Decimal | int | str, text: str) -> None:
    assert canonical_decimal(value) == text
    assert "E" not in text.upper()
    assert Decimal(text) == Decimal(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("0.10"), "0.10"), (Decimal("1E+3"), "1000"), (Decimal("0E-8"), "0.00000000"), (5, "5")],
)
def test_plain_decimal_keeps_the_scale_and_never_prints_an_exponent(value: Decimal | int, text: str) -> None:
    assert plain_decimal(value) == text


@pytest.mark.parametrize("bad", [1.5, 0.0, True])
def test_float_and_bool_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        canonical_decimal(bad)  # type: ignore[arg-type]  # the refusal is the point
    with pytest.raises(TypeError):
        plain_decimal(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), "abc", "", "1.2.3"])
def test_non_finite_or_non_decimal_is_a_value_error(bad: Decimal | str) -> None:
    with pytest.raises(ValueError):
        canonical_decimal(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" 1.50 ", Decimal("1.50")), (3, Decimal(3)), (Decimal("2E+2"), Decimal(200)), ("-0.0001", Decimal("-0.0001"))],
)
def test_to_decimal(value: object, expected: Decimal) -> None:
    assert to_decimal(value) == expected


@pytest.mark.parametrize("bad", [None, True, False, "", "  ", "x", "NaN", "inf", [1]])
def test_to_decimal_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        to_decimal(bad)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_round_trip_is_exact(value: Decimal) -> None:
    text = canonical_decimal(value)
    assert "e" not in text.lower()
    assert to_decimal(text) == value
    assert canonical_decimal(to_decimal(text)) == text  # canonical: a fixed point of the conversion
