"""The parameters a result rests on by assumption: found from their sources, with a plausible range each.

Every number of a hardware preset carries a source (``hw_models.params.param``); a source that
says "assumption" marks a number nobody measured.  ``assumptions(systems)`` walks the loaded
systems' parameter trees (``describe_params``) and returns each such number once: a parameter
of a part preset (``xeon_8480p.clock``) is one parameter wherever the part is used, so the CPU
server and SCRec's host vary together; a number written in a system file is that system's.

``ends(param, ranges)`` gives the low and high end of its plausible range: the settings'
factors (x0.5, x2 by default), clipped to what the schema accepts (tried by loading), whole
numbers for counts; a value of 0 takes the absolute range the settings give it, else is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .. import units
from ..errors import InputError

INTEGER_NAMES = ("count", "sockets", "gpus", "drives", "channels", "dies_per_channel", "lines_in_flight",
                 "concurrency", "luts_per_memory_core", "dsps_per_mac")


@dataclass
class Assumption:
    key: str                      # "<part preset or system>.<parameter>"
    source: str
    value: float
    kind: str
    paths: dict = field(default_factory=dict)     # system label -> dotted override path(s)

    def add(self, label: str, path: str) -> None:
        self.paths.setdefault(label, []).append(path)


def _preset_at(data: dict, prefix: str) -> Optional[str]:
    node = data.get("params", {})
    for k in prefix.split(".") if prefix and prefix != "system" else []:
        node = node.get(k, {}) if isinstance(node, dict) else {}
    return node.get("preset") if isinstance(node, dict) else None


def assumptions(systems: dict, skip=()) -> list:
    """Every "assumption" parameter of ``systems`` ({label: (preset, overrides)}), each once (module doc)."""
    from ..hw_models.loader import load_system, load_system_data
    from ..hw_models.params import describe_params
    found: dict = {}
    for label, (preset, overrides) in systems.items():
        system = load_system(preset, overrides)
        data = load_system_data(preset)
        for prefix, name, value, kind, source in describe_params(system.params.params):
            if "assumption" not in source.lower() or name in skip:
                continue
            owner = _preset_at(data, prefix) or f"{system.name}.{prefix}"
            key = f"{owner}.{name}"
            path = f"params.{name}" if prefix == "system" else f"params.{prefix}.{name}"
            a = found.setdefault((key, source), Assumption(key, source, float(value), kind))
            a.add(label, path)
    return sorted(found.values(), key=lambda a: a.key)


def _whole(name: str) -> bool:
    return name in INTEGER_NAMES


def ends(a: Assumption, ranges, accepts) -> Optional[tuple]:
    """(low, high) of ``a``'s plausible range, or None (a 0 without a given range); ``accepts(x)``
    says whether the schema takes the value (the ends are clipped towards the value until it does)."""
    name = a.key.rsplit(".", 1)[-1]
    given = ranges.absolute.get(a.key)
    if given is not None:
        return units.parse(given["low"], a.kind), units.parse(given["high"], a.kind)
    if a.value == 0:
        return None
    out = []
    for factor, cap in ((ranges.low_factor, None), (ranges.high_factor, 1.0)):
        x = a.value * factor
        if _whole(name):
            x = max(1.0, float(round(x)))
        if not accepts(x) and cap is not None and a.value <= cap:
            x = cap                                   # a share or an efficiency: at most 1
        out.append(x if accepts(x) else a.value)
    return tuple(out)


def overrides_for(a: Assumption, label: str, x: float, end: str) -> dict:
    """The checked overrides that set ``a`` to ``x`` in system ``label`` (empty if it has none there)."""
    return {p: {"value": x, "source": f"sensitivity: {end} end of the plausible range of {a.key}"}
            for p in a.paths.get(label, [])}


def accepts_for(systems: dict, a: Assumption):
    """A function telling whether every system holding ``a`` loads with it set to ``x``."""
    from ..hw_models.loader import load_system

    def accepts(x: float) -> bool:
        for label, (preset, overrides) in systems.items():
            if label not in a.paths:
                continue
            try:
                load_system(preset, {**overrides, **overrides_for(a, label, x, "trial")})
            except InputError:
                return False
        return True
    return accepts
