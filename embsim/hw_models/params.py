"""Sourced parameters of hardware parts: the one set of rules every part and family schema uses.

A part's schema holds numbers declared with ``param(kind)``.  Every number
is ``{value: "...", source: "..."}`` (``embsim.config.sourced``: a number
without a source is refused); ``param`` adds a range check, so a negative
capacity or an efficiency of 1.7 is a one-line InputError naming the field,
and remembers the unit kind, so ``embsim hw show`` can print "2.039 TB/s"
instead of 2.039e12.

    class DramParams(Schema):
        latency: param("time")                     # > 0
        static_power: param("power", lo_inclusive=True)   # >= 0
        efficiency: param("count", hi=1.0)         # in (0, 1]
        channels: param("count", integer=True)     # a whole number > 0

``describe_params(params)`` turns a schema tree into rows (part, parameter,
value, unit kind, source) for ``embsim hw show``.
"""
import math
from typing import Annotated, Optional

from pydantic import AfterValidator, BaseModel

from .. import config
from ..config import Sourced


class UnitKind:
    """Marker in a field's metadata: the unit kind of a sourced number (for display)."""

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self) -> str:
        return f"UnitKind({self.kind!r})"


def param(kind: str, lo: float = 0.0, hi: Optional[float] = None, lo_inclusive: bool = False,
          integer: bool = False):
    """Schema type of a sourced number of ``kind``, checked to lie in (lo, hi] ([lo, hi] if ``lo_inclusive``).

    Defaults demand a strictly positive value: a zero bandwidth, capacity or
    energy is never a silent default; where zero is physical (the static
    power of a part whose idle draw is counted in its device's) it is allowed
    with ``lo_inclusive`` and must still be written with its source.
    """
    def check(v: Sourced) -> Sourced:
        x = v.value
        low_ok = x >= lo if lo_inclusive else x > lo
        if not low_ok:
            raise ValueError(f"must be {'>=' if lo_inclusive else '>'} {lo:g}, got {x:g}")
        if hi is not None and x > hi:
            raise ValueError(f"must be <= {hi:g}, got {x:g}")
        if integer and x != int(x):
            raise ValueError(f"must be a whole number, got {x:g}")
        return v
    return Annotated[config.sourced(kind), AfterValidator(check), UnitKind(kind)]


def field_kind(model_cls: type[BaseModel], name: str) -> Optional[str]:
    """Unit kind of a ``param`` field, or None."""
    for m in model_cls.model_fields[name].metadata:
        if isinstance(m, UnitKind):
            return m.kind
    return None


def describe_params(params: BaseModel, prefix: str = "") -> list:
    """Rows (part, parameter, value, unit kind, source) of every sourced number under ``params``."""
    rows = []
    for name in type(params).model_fields:
        v = getattr(params, name)
        if isinstance(v, Sourced):
            rows.append((prefix or "system", name, v.value, field_kind(type(params), name) or "count", v.source))
        elif isinstance(v, BaseModel):
            rows += describe_params(v, f"{prefix}.{name}" if prefix else name)
    return rows


def expected_lines(row_bytes: float, line_bytes: float) -> float:
    """Mean number of ``line_bytes`` lines a row of ``row_bytes`` touches.

    Rows are packed back to back from a line-aligned base, so row i starts at
    byte i*row_bytes; its offset within a line takes the values 0, g, 2g, ...
    (g = gcd(row_bytes, line_bytes)) equally often.  A 64-B row touches one
    64-B line, a 48-B row 1.5 on average, a 96-B row 2.0.
    """
    rb = int(round(row_bytes))
    if rb <= 0:
        raise ValueError(f"row_bytes must be positive, got {row_bytes}")
    lb = int(line_bytes)
    g = math.gcd(rb, lb)
    offsets = range(0, lb, g)
    return sum((o + rb - 1) // lb + 1 for o in offsets) / len(offsets)


def whole_units(nbytes: float, unit_B: float) -> float:
    """``nbytes`` rounded up to whole ``unit_B`` units (a row stored unit-aligned: DMA blocks, flash sectors)."""
    if nbytes <= 0:
        raise ValueError(f"bytes must be positive, got {nbytes}")
    return math.ceil(nbytes / unit_B - 1e-9) * unit_B
