"""Sourced parameters of a hardware preset, grouped by part.

A family's parameter schema is a tree: ``params`` holds one group per part
(``dram``, ``llc``, ``hbm``, ``nvlink`` ...), and each group holds numbers
declared with ``param(kind)``.  Every number is ``{value: "...", source: "..."}``
(see ``embsim.config.sourced``); ``param`` adds a range check, so a negative
capacity or an efficiency of 1.7 is a one-line InputError naming the field, and
remembers the unit kind, so ``embsim hw show`` can print "2.039 TB/s" instead
of 2.039e12.

    class DramParams(Schema):
        channels: param("count", integer=True)
        latency: param("time")
        random_efficiency: param("count", hi=1.0)      # a fraction in (0, 1]

``describe_params(params)`` turns the tree into the rows of ``System.describe()``.
"""
from typing import Annotated

from pydantic import AfterValidator, BaseModel

from .. import config
from ..config import Sourced


class UnitKind:
    """Marker in a field's metadata: the unit kind of a sourced number (for display)."""

    def __init__(self, kind):
        self.kind = kind

    def __repr__(self):
        return f"UnitKind({self.kind!r})"


def param(kind, lo=0.0, hi=None, lo_inclusive=False, integer=False):
    """Schema type of a sourced number of ``kind``, checked to lie in (lo, hi].

    Defaults demand a strictly positive value: a zero bandwidth, capacity or
    energy is never a silent default, it must be written (and then it is
    refused, because the model would divide by it or charge nothing).
    """
    def check(v: Sourced):
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


def field_kind(model_cls, name):
    """Unit kind of a ``param`` field, or None."""
    for m in model_cls.model_fields[name].metadata:
        if isinstance(m, UnitKind):
            return m.kind
    return None


def describe_params(params, prefix=""):
    """Rows (part, parameter, value, unit kind, source) of every sourced number under ``params``."""
    rows = []
    for name in type(params).model_fields:
        v = getattr(params, name)
        if isinstance(v, Sourced):
            rows.append((prefix or "system", name, v.value, field_kind(type(params), name) or "count", v.source))
        elif isinstance(v, BaseModel):
            rows += describe_params(v, f"{prefix}.{name}" if prefix else name)
    return rows


def expected_lines(row_bytes, line_bytes):
    """Mean number of ``line_bytes`` lines a row of ``row_bytes`` touches.

    Rows are packed back to back from a line-aligned base, so row i starts at
    byte i*row_bytes; its offset within a line takes the values 0, g, 2g, ...
    (g = gcd(row_bytes, line_bytes)) equally often.  A 64-B row touches one
    64-B line, a 48-B row 1.5 on average, a 96-B row 2.0.
    """
    import math
    rb = int(round(row_bytes))
    if rb <= 0:
        raise ValueError(f"row_bytes must be positive, got {row_bytes}")
    lb = int(line_bytes)
    g = math.gcd(rb, lb)
    offsets = range(0, lb, g)
    return sum((o + rb - 1) // lb + 1 for o in offsets) / len(offsets)
