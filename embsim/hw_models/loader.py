"""Load a System from a preset name or a YAML file.

A system file names its family and gives that family's parameters; a part
may be named by its part preset instead of written out (see
``hw_models.parts``)::

    family: cpu_dram
    name: cpu_2s_spr_ddr5
    params:
      sockets: {value: 2, source: "..."}
      cpu: {preset: xeon_8480p}
      dram: {preset: ddr5_4800, capacity: {value: "1 TB", source: "16 x 64 GB RDIMMs"}}

Part presets are expanded first, then dotted overrides apply
(``params.dram.capacity``); an unknown path is an error, so a typo never adds
a parameter silently.  A loaded system offers the ``Placement`` and
``BatchService`` protocols (``hw_models.protocols``), checked here.
"""
from pathlib import Path
from typing import Any, Optional

from .. import config
from ..errors import InputError
from ..workloads.model import resolve
from .parts import expand_part_presets
from .protocols import BatchService, Placement
from .system import FAMILIES, System

PRESET_DIR = Path(__file__).parent / "presets"


def _import_families() -> None:
    # Importing the package registers every family through @register_family.
    from . import families  # noqa: F401


def preset_names() -> list:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def system_from_dict(data: dict, source: str = "<dict>", name: Optional[str] = None) -> System:
    _import_families()
    fam = data.get("family")
    if fam is None:
        raise InputError(f"{source}: family: missing (one of {', '.join(sorted(FAMILIES))})")
    if fam not in FAMILIES:
        raise InputError(f"{source}: family: unknown family '{fam}'{config._suggest(fam, FAMILIES)} "
                         f"(expected one of {', '.join(sorted(FAMILIES))})")
    cls: Any = FAMILIES[fam]
    params = config.validate(cls.Schema, expand_part_presets(data, source), source)
    _check_counts(params, source)
    system = cls(name or data.get("name") or Path(str(source)).stem, params, source_file=str(source))
    for proto in (Placement, BatchService):
        if not isinstance(system, proto):
            raise TypeError(f"family {fam}: {cls.__name__} does not offer the {proto.__name__} protocol")
    return system


# Parameters that count replicated parts (a part each): whole numbers, at most MAX_PART_COUNT.
PART_COUNTS = ("count", "sockets", "gpus", "drives", "channels", "dies_per_channel")
MAX_PART_COUNT = 1_000_000


def _check_counts(params, source: str, prefix: str = "") -> None:
    """A count of parts must be a whole number a machine can have; 1e30 sockets would never finish building."""
    for name in type(params).model_fields:
        v = getattr(params, name)
        field = f"{prefix}.{name}" if prefix else name
        if isinstance(v, config.Sourced) and name in PART_COUNTS:
            if v.value != int(v.value) or not 1 <= v.value <= MAX_PART_COUNT:
                raise InputError(f"{source}: {field}: {v.value:g}; expected a whole number of {name} "
                                 f"from 1 to {MAX_PART_COUNT:,}")
        elif isinstance(v, config.Schema):
            _check_counts(v, source, field)


def load_system_data(name_or_path: str) -> dict:
    """The YAML of a system preset or file with its part presets expanded (what overrides apply to)."""
    path = resolve(name_or_path, PRESET_DIR, "system")
    return expand_part_presets(config.load_yaml(path), str(path))


def load_system(name_or_path: str, overrides: Optional[dict] = None) -> System:
    """A System from a preset name (``embsim hw list``) or a YAML path, with checked overrides."""
    path = resolve(name_or_path, PRESET_DIR, "system")
    data = config.apply_overrides(load_system_data(path), overrides, source=str(path))
    return system_from_dict(data, source=str(path))
