"""Compute unit: CPU cores (AVX-512, AMX), GPU SMs and tensor cores, Ascend cube and vector units.

Physics
-------
``count`` units at ``clock``, each doing ``ops_per_cycle[dtype]`` operations
per cycle (an operation is a FLOP or an integer op; a multiply-add is two),
so the peak is ``count x clock x ops_per_cycle[dtype]``.  The dense MLP runs
in ``mlp_dtype`` at ``mlp_efficiency`` of that peak (small batched GEMMs do
not reach it).

Energy: ``op_energy[dtype]`` per operation is the unit's *whole* dynamic
energy per operation at full load (datapath, register files, instruction
issue, on-chip data movement), not the bare ALU figure: a part at full load
draws ``static_power + peak(dtype) x op_energy[dtype]``, and that busy power
must lie in the source's ``load_power_min .. load_power_max`` (a test checks
every preset).  Work that is not arithmetic (a gather loop's index loads and
address arithmetic, DMA issue) is charged per unit-second busy
(``busy_s``) at the unit's full-load dynamic power in ``mlp_dtype``: a
busy core draws about its full power whatever it runs (assumption, stated
here once for every part).
"""
from typing import Any, ClassVar, Literal, Optional

from ...config import Schema
from ..params import param
from .base import LoadPower, Part, PartParams

Dtype = Literal["fp32", "tf32", "bf16", "fp16", "int8"]
DTYPES = ("fp32", "tf32", "bf16", "fp16", "int8")


class OpsPerCycle(Schema):
    fp32: Optional[param("count")] = None
    tf32: Optional[param("count")] = None
    bf16: Optional[param("count")] = None
    fp16: Optional[param("count")] = None
    int8: Optional[param("count")] = None


class OpEnergy(Schema):
    fp32: Optional[param("energy")] = None
    tf32: Optional[param("energy")] = None
    bf16: Optional[param("energy")] = None
    fp16: Optional[param("energy")] = None
    int8: Optional[param("energy")] = None


class ComputeParams(PartParams, LoadPower):
    count: param("count", integer=True)            # cores, SMs, AI cores
    clock: param("frequency")                      # under sustained load
    ops_per_cycle: OpsPerCycle                     # per unit, by dtype
    op_energy: OpEnergy                            # J per op at full load, by dtype (same dtypes)
    mlp_dtype: Dtype
    mlp_efficiency: param("count", hi=1.0)


class ComputeUnit(Part):
    """``count`` compute units.  See the module docstring for the physics."""

    kind = "compute"
    Schema: ClassVar[Any] = ComputeParams

    def __init__(self, name: str, params: ComputeParams):
        super().__init__(name, params)
        have = {d for d in DTYPES if getattr(params.ops_per_cycle, d) is not None}
        priced = {d for d in DTYPES if getattr(params.op_energy, d) is not None}
        if have != priced:
            raise ValueError(f"{name}: ops_per_cycle gives {sorted(have)} but op_energy {sorted(priced)}: "
                             "every dtype a unit runs needs its energy per op")
        if params.mlp_dtype not in have:
            raise ValueError(f"{name}: mlp_dtype {params.mlp_dtype} has no ops_per_cycle (have {sorted(have)})")
        self.dtypes = tuple(d for d in DTYPES if d in have)

    @property
    def count(self) -> int:
        return int(self.p.count.value)

    def peak_ops_per_s(self, dtype: str) -> float:
        opc = getattr(self.p.ops_per_cycle, dtype, None)
        if opc is None:
            raise ValueError(f"{self.name}: no {dtype} operations (has {', '.join(self.dtypes)})")
        return self.count * self.p.clock.value * opc.value

    def op_energy_J(self, dtype: str) -> float:
        self.peak_ops_per_s(dtype)
        return getattr(self.p.op_energy, dtype).value

    def mlp_ops_per_s(self, units: Optional[float] = None) -> float:
        """Dense-MLP rate of ``units`` units (all by default): peak in mlp_dtype x mlp_efficiency."""
        share = 1.0 if units is None else units / self.count
        return self.peak_ops_per_s(self.p.mlp_dtype) * self.p.mlp_efficiency.value * share

    def mac_time_s(self, macs: float, units: Optional[float] = None) -> float:
        """Time of ``macs`` multiply-adds (2 ops each) of dense work on ``units`` units."""
        return 2.0 * macs / self.mlp_ops_per_s(units)

    @property
    def busy_power_per_unit_W(self) -> float:
        """Dynamic power of one unit at full load in mlp_dtype (what a unit-second of busy work costs)."""
        d = self.p.mlp_dtype
        return self.peak_ops_per_s(d) * self.op_energy_J(d) / self.count

    def energy_per_action_J(self) -> dict:
        out = {f"op_{d}": self.op_energy_J(d) for d in self.dtypes}
        out["busy_s"] = self.busy_power_per_unit_W
        return out

    def full_load_rates(self) -> dict:
        out = {f"op_{d}": self.peak_ops_per_s(d) for d in self.dtypes}
        out["busy_s"] = float(self.count)
        return out
