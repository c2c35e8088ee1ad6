"""Money as exact ``Decimal``: the one conversion between ``Decimal`` and text.

``canonical_decimal`` is what every JSON document, CSV file, bus event and SQLite cell carries: fixed-point
(never an exponent, which ``str(Decimal('1E+3'))`` would print), trailing zeros trimmed, no negative zero.
``plain_decimal`` keeps the value's own scale (``"0.10"``), as the exchanges print numbers on the wire.
``to_decimal`` reads a JSON number or a string back, never through ``float``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["canonical_decimal", "plain_decimal", "to_decimal"]


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, float | bool):
        raise TypeError(f"money must be Decimal, int or decimal text, never {type(value).__name__}")
    else:
        try:
            d = Decimal(value)
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise ValueError(f"not a decimal: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {value}")
    return d


def canonical_decimal(value: Decimal | int | str) -> str:
    """Fixed-point text without exponent or trailing zeros (``"1234.5"``, ``"0"``, ``"-0.001"``).

    Raises:
        TypeError: ``value`` is a float or a bool (money never goes through float).
        ValueError: ``value`` is NaN, infinite, or text that is not a decimal.
    """
    text = format(_as_decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def plain_decimal(value: Decimal | int | str) -> str:
    """Fixed-point text keeping the value's scale (``Decimal("0.10")`` -> ``"0.10"``), never an exponent.

    Raises:
        TypeError: ``value`` is a float or a bool.
        ValueError: ``value`` is NaN, infinite, or text that is not a decimal.
    """
    return format(_as_decimal(value), "f")


def to_decimal(value: Any) -> Decimal:
    """``Decimal`` from a JSON number (int or ``Decimal``) or decimal text; surrounding blanks are ignored.

    Raises:
        ValueError: ``value`` is empty, ``None``, a bool, not a number, NaN or infinite.
    """
    if value is None or isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d
