"""What every part is: a name, a kind, the preset its numbers came from, sourced parameters, energy.

A part's energy follows one rule (DESIGN.md, "Energy"):

    energy = sum over actions of count x energy per action  +  static power x elapsed time

``energy_per_action_J()`` gives the dynamic side (per byte read, per bit
sent, per operation), ``static_power_W`` the idle side.  A part also says
what it does at full load (``full_load_rates()``: actions per second when one
kind of work keeps it saturated), so its *busy power*, static power plus the
dynamic power of that full-load rate, can be checked against the load power
its datasheet or a measurement gives (``load_power_min`` .. ``load_power_max``,
both sourced): a per-operation energy that makes a part draw 5 W or 5 kW
at full load is caught by a test, not shipped.
"""
from typing import Any, ClassVar, Optional

from ...config import Schema
from ..params import describe_params, param


class PartParams(Schema):
    """Fields every part schema has: the preset it came from (set by the loader) and its idle power."""

    preset: str = ""                                   # part preset these numbers were taken from, if any
    static_power: param("power", lo_inclusive=True)    # idle draw; 0 only with a source saying where it is counted


class LoadPower(Schema):
    """The busy-power range a source gives for a part (datasheet TDP, a measurement, or a bracket)."""

    load_power_min: Optional[param("power")] = None
    load_power_max: Optional[param("power")] = None


class Part:
    """Base of the part kinds.  ``p`` is the validated schema; ``name`` is the part's place in a system."""

    kind: ClassVar[str] = ""
    Schema: ClassVar[Any] = PartParams
    p: Any                 # the validated schema (pydantic; its fields are built by param(), opaque to mypy)

    def __init__(self, name: str, params: Any):
        self.name = name
        self.p = params

    @property
    def preset(self) -> Optional[str]:
        return self.p.preset or None

    @property
    def static_power_W(self) -> float:
        return self.p.static_power.value

    def energy_per_action_J(self) -> dict:
        """action -> joules per action (every action this part is charged for)."""
        return {}

    def full_load_rates(self) -> dict:
        """action -> actions per second that alone keep the part saturated (alternatives, not a sum)."""
        return {}

    def busy_power_W(self) -> dict:
        """action -> static power + dynamic power when that action runs at its full-load rate."""
        e = self.energy_per_action_J()
        return {a: self.static_power_W + r * e[a] for a, r in self.full_load_rates().items()}

    def load_power_range_W(self) -> Optional[tuple]:
        """(min, max) busy power the source gives, or None for parts whose draw is counted in their device's."""
        lo, hi = getattr(self.p, "load_power_min", None), getattr(self.p, "load_power_max", None)
        return (lo.value, hi.value) if lo is not None and hi is not None else None

    def parameters(self) -> list:
        """dict(parameter, value, unit_kind, source) for every sourced number of the part."""
        return [{"parameter": n if group == "system" else f"{group}.{n}", "value": v, "unit_kind": k, "source": s}
                for group, n, v, k, s in describe_params(self.p)]

    def summary(self) -> dict:
        """The part as ``embsim hw show --json`` lists it."""
        return {"name": self.name, "kind": self.kind, "preset": self.preset, "parameters": self.parameters()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, preset={self.preset!r})"
