"""Helpers shared by family schemas: sourced numbers that know their unit kind.

``num(kind)`` is ``config.sourced(kind)`` plus two things a hardware preset
needs: a range check (most figures must be > 0; a zero bandwidth or energy is
a missing figure in disguise) and a tag with the unit kind, so that
``describe_rows`` can list every number of a preset with its unit and source
for ``embsim hw show`` without a second, hand-kept list of units.
"""
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel

from ... import config


@dataclass(frozen=True)
class Kind:
    """Metadata tag: the unit kind of a sourced field (see embsim.units.KINDS)."""

    name: str


def num(kind, gt=0.0, ge=None, le=None):
    """A ``{value, source}`` field of unit ``kind`` with a range check.

    By default the value must be > 0.  ``ge``/``le`` replace the lower bound /
    add an upper bound (shares and fractions use ``gt=0, le=1``).
    """
    def check(s):
        v = s.value
        if ge is not None:
            if v < ge:
                raise ValueError(f"must be >= {ge:g}, got {v:g}")
        elif v <= gt:
            raise ValueError(f"must be > {gt:g}, got {v:g}")
        if le is not None and v > le:
            raise ValueError(f"must be <= {le:g}, got {v:g}")
        return s
    return Annotated[config.sourced(kind), AfterValidator(check), Kind(kind)]


def describe_rows(model, prefix):
    """Rows (part, parameter, value, unit kind, source) for every sourced number in ``model``.

    Nested schema groups become parts named ``prefix.group``; the top group
    is ``prefix`` itself.
    """
    rows = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        kind = next((m.name for m in field.metadata if isinstance(m, Kind)), None)
        if kind is not None:
            rows.append((prefix, name, value.value, kind, value.source))
        elif isinstance(value, BaseModel):
            rows.extend(describe_rows(value, f"{prefix}.{name}" if prefix else name))
    return rows
