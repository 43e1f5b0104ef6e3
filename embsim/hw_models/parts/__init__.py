"""The parts every machine is made of, one file per kind, and the part presets they are loaded from.

Kinds: ``memory`` (DDR, HBM, FPGA DRAM, SRAM), ``cache``, ``flash`` (NAND
behind an SSD controller), ``link`` (PCIe, NVLink, UPI, peer to peer),
``compute`` (a compute unit), ``cpu`` (CPU cores with the costs of a gather
loop), ``ai_core`` (Ascend AI cores with their lookup strategies),
``fpga`` (FPGA fabric split into memory- and compute-centric cores),
``frontend`` (the serving host's per-batch and per-query work), ``io_stack``
(how a CPU reads rows from local NVMe drives).

A part preset (``hw_models/presets/parts/NAME.yaml``) gives one part's
numbers, each with its source::

    kind: memory
    description: "..."
    params: {capacity: {value: "512 GB", source: "..."}, ...}

A system preset names it in place of the numbers, and may override some of
them; an override must name a parameter the preset has (a typo is an error,
never a new parameter)::

    dram: {preset: ddr5_4800, capacity: {value: "1 TB", source: "16 x 64 GB"}}

``expand_part_presets`` replaces every such node by the preset's parameters
with the overrides on top, keeping ``preset: NAME`` so ``embsim hw show``
can say where each part came from.  Expansion is idempotent.
"""
from typing import Optional

import copy
from pathlib import Path

from ... import config
from ...errors import InputError
from .ai_core import AiCoreParams, AiCores
from .base import Part, PartParams
from .cache import Cache, CacheParams
from .compute import ComputeParams, ComputeUnit
from .cpu import CpuCores, CpuParams
from .flash import FlashParams, NandFlash
from .fpga import FpgaFabric, FpgaParams
from .frontend import FrontEndParams, HostFrontEnd
from .io_stack import IoStack, IoStackParams
from .link import Link, LinkParams
from .memory import MemoryParams, MemoryTier

__all__ = ["AiCoreParams", "AiCores", "Cache", "CacheParams", "ComputeParams", "ComputeUnit", "CpuCores", "CpuParams",
           "FlashParams", "FpgaFabric", "FpgaParams", "FrontEndParams", "HostFrontEnd", "IoStack", "IoStackParams", "KINDS", "Link", "LinkParams",
           "MemoryParams", "MemoryTier", "NandFlash", "Part", "PartParams", "expand_part_presets", "load_part_preset",
           "part_from_preset", "part_preset_names"]

PART_PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "parts"
KINDS = {cls.kind: cls for cls in (MemoryTier, Cache, NandFlash, Link, ComputeUnit, CpuCores, AiCores,
                                   FpgaFabric, HostFrontEnd, IoStack)}


def part_preset_names() -> list:
    return sorted(p.stem for p in PART_PRESET_DIR.glob("*.yaml"))


def load_part_preset(name: str, where: str = "part") -> dict:
    """The raw YAML of part preset ``name`` (kind, description, params); InputError naming ``where`` if unknown."""
    path = PART_PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        names = part_preset_names()
        raise InputError(f"{where}: preset: unknown part preset '{name}'{config._suggest(name, names)} "
                         f"(part presets: {', '.join(names)})")
    data = config.load_yaml(path)
    if data.get("kind") not in KINDS or not isinstance(data.get("params"), dict):
        raise InputError(f"{path}: expected 'kind' (one of {', '.join(KINDS)}) and a 'params' mapping")
    return data


def part_from_preset(name: str, part_name: Optional[str] = None) -> Part:
    """A Part straight from a part preset (for tests and for 'embsim hw show' of a part)."""
    data = load_part_preset(name)
    cls = KINDS[data["kind"]]
    params = config.validate(cls.Schema, {**data["params"], "preset": name}, f"part preset '{name}'")
    return cls(part_name or name, params)


def expand_part_presets(data: dict, source: str = "<dict>") -> dict:
    """A copy of a system's YAML with every ``{preset: NAME, ...overrides}`` node expanded (see module doc)."""
    return _expand(copy.deepcopy(data), source, "")


def _expand(node, source, path):
    if isinstance(node, list):
        return [_expand(v, source, f"{path}.{i}") for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if "preset" in node and isinstance(node["preset"], str):
        where = f"{source}: {path.lstrip('.')}"
        preset = load_part_preset(node["preset"], where)
        merged = copy.deepcopy(preset["params"])
        for key, value in node.items():
            if key == "preset":
                continue
            if key not in merged:
                raise InputError(f"{where}.{key}: part preset '{node['preset']}' has no parameter '{key}'"
                                 f"{config._suggest(key, merged)} (it has: {', '.join(merged)})")
            merged[key] = value          # checked by the part's schema: a number needs its source
        merged["preset"] = node["preset"]
        return merged
    return {k: _expand(v, source, f"{path}.{k}") for k, v in node.items()}
