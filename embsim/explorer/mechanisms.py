"""The mechanisms a headline result rests on, and how each is switched off (a real switch, not a number).

Each mechanism maps a side of an experiment (a ``Case``: system preset, overrides,
representations, planner options, placement) to the same side with that mechanism off:

| mechanism | switched off by | where the switch lives |
| --- | --- | --- |
| statistical_sharding | the planner sees no hot rows (diagonal coverage) and rows sit by id | ``cost_model/id_placement.py`` |
| tt_compression | tensor trains left out of the representations | the planner's ``representations`` |
| p2p_flash | flash sectors go SSD -> host DRAM -> FPGA | ``screc_csd`` ``csd.p2p: false`` |
| device_parallelism | the devices' hardware serves one device at a time | ``screc_csd`` ``csd.parallel: false`` |
| near_data_mlp | the dense MLP on the host's cores, not the FPGAs | ``screc_csd`` ``csd.dense_on: host`` |
| asymmetric_mapping | every table split over all cores (the default split) | core mapping ``asymmetric=False`` |
| l1_preloading | no strategy reads a table preloaded in L1 | core mapping ``strategies`` without L1, L1-UB |

A switch that only changes the hardware keeps the full design's plan (``replan`` False), so the
ratio moves by that mechanism alone; a switch of the planner's inputs re-plans.  ``expect`` is
the direction the mechanism implies for the experiment's ratio when it is off: ``lower``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class Case:
    """One side of an experiment, as it is planned and simulated."""

    label: str
    system: str
    overrides: dict = field(default_factory=dict)
    representations: Optional[str] = None
    planner: dict = field(default_factory=dict)
    heat_blind: bool = False            # statistical sharding off

    def key(self) -> tuple:
        return (self.system, tuple(sorted((k, str(v)) for k, v in self.overrides.items())), self.representations,
                tuple(sorted((k, str(v)) for k, v in self.planner.items())), self.heat_blind)

    def plan_key(self) -> tuple:
        """What the plan depends on (the slots do not change under the hardware-only switches)."""
        return (self.system, self.representations, tuple(sorted((k, str(v)) for k, v in self.planner.items())),
                self.heat_blind, tuple(sorted((k, str(v)) for k, v in self.overrides.items()
                                              if not k.startswith(HARDWARE_ONLY))))


# overrides that change costs, not slots: a case differing from another only in these keeps its plan
HARDWARE_ONLY = ("params.csd.p2p", "params.csd.parallel", "params.csd.dense_on")


@dataclass(frozen=True)
class Mechanism:
    name: str
    what: str
    off: Callable[[Case], Case]
    replan: bool


def _override(key: str, value) -> Callable[[Case], Case]:
    return lambda c: dataclasses.replace(c, overrides={**c.overrides, key: value})


def _no_tt(c: Case) -> Case:
    reps = ",".join(r for r in (c.representations or "").split(",") if r and not r.startswith("tt"))
    return dataclasses.replace(c, representations=reps or None)


def _planner(**options) -> Callable[[Case], Case]:
    return lambda c: dataclasses.replace(c, planner={**c.planner, **options})


MECHANISMS = {m.name: m for m in (
    Mechanism("statistical_sharding", "hot rows in the fast tiers (the planner's coverage curves, rows ranked by heat)",
              lambda c: dataclasses.replace(c, heat_blind=True), True),
    Mechanism("tt_compression", "tensor-train tables (rebuilt on the compute-centric cores)", _no_tt, True),
    Mechanism("p2p_flash", "flash reaches the FPGA peer to peer, not through host DRAM",
              _override("params.csd.p2p", False), False),
    Mechanism("device_parallelism", "the SmartSSDs serve their tables at the same time",
              _override("params.csd.parallel", False), False),
    Mechanism("near_data_mlp", "the dense MLP runs on the devices' FPGAs, not the host",
              _override("params.csd.dense_on", "host"), False),
    Mechanism("asymmetric_mapping", "tables mapped to cores unevenly (a split per table)",
              _planner(asymmetric=False), True),
    Mechanism("l1_preloading", "tables preloaded in the cores' L1 (strategies L1, L1-UB)",
              _planner(strategies=["GM", "GM-UB"]), True),
)}


def switched_off(case: Case, name: str) -> Case:
    """``case`` with mechanism ``name`` off (its label says so)."""
    m = MECHANISMS[name]
    out = m.off(case)
    return dataclasses.replace(out, label=f"{case.label} without {name}")
