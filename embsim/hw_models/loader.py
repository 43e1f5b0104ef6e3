"""Load a System from a preset name or a YAML file.

A system file names its family and gives that family's parameters:

    family: screc_csd
    name: screc_4x_smartssd
    source: "..."
    params: {...}         # checked against the family's schema

Overrides are dotted paths into the file (``params.devices.count``); an
unknown path is an error, so a typo never adds a parameter silently.
"""
from pathlib import Path

from .. import config
from ..errors import InputError
from ..workloads.model import resolve
from .system import FAMILIES

PRESET_DIR = Path(__file__).parent / "presets"


def _import_families():
    # Importing the package registers every family through @register_family.
    from . import families  # noqa: F401


def preset_names():
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def system_from_dict(data, source="<dict>", name=None):
    _import_families()
    fam = data.get("family")
    if fam is None:
        raise InputError(f"{source}: family: missing (one of {', '.join(sorted(FAMILIES))})")
    if fam not in FAMILIES:
        raise InputError(f"{source}: family: unknown family '{fam}'{config._suggest(fam, FAMILIES)} "
                         f"(expected one of {', '.join(sorted(FAMILIES))})")
    cls = FAMILIES[fam]
    params = config.validate(cls.Schema, data, source)
    _check_counts(params, source)
    return cls(name or data.get("name") or Path(str(source)).stem, params, source_file=str(source))


# Parameters that count replicated parts (a graph node each): whole numbers, at most MAX_PART_COUNT.
PART_COUNTS = ("count", "sockets", "gpus", "cores", "channels", "dies_per_channel")
MAX_PART_COUNT = 1_000_000


def _check_counts(params, source, prefix=""):
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


def load_system(name_or_path, overrides=None):
    """A System from a preset name (``embsim hw list``) or a YAML path, with checked overrides."""
    path = resolve(name_or_path, PRESET_DIR, "system")
    data = config.apply_overrides(config.load_yaml(path), overrides, source=str(path))
    return system_from_dict(data, source=str(path))
