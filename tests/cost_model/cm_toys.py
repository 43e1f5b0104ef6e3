"""Small hand-made models and systems for the cost-model tests."""
import numpy as np

from embsim.cost_model.coverage import CoverageCurve
from embsim.cost_model.synthetic import SyntheticSystem
from embsim.workloads.model import AccessSpec, DenseSpec, ModelSpec, TableSpec

DENSE = DenseSpec(13, (64, 16), (64, 1), "dot")


def toy_model(n_tables, seed, rows=(2000, 60000), dims=(16, 32, 64), alpha=1.1, name="toy"):
    rng = np.random.default_rng(seed)
    tables = [TableSpec(f"t{i}", int(rng.integers(*rows)), int(rng.choice(dims)), "fp32",
                        float(rng.integers(1, 20)), access=AccessSpec("zipf", alpha)) for i in range(n_tables)]
    return ModelSpec(name, tuple(tables), DENSE, "test")


class WritingSystem(SyntheticSystem):
    """A synthetic system whose devices write their shards' pooled output at their own rate (ShardOutput)."""

    def __init__(self, name, devices, write_Bps):
        super().__init__(name, devices)
        self.write_Bps = dict(write_Bps)

    def shard_output_time_s(self, device, pooled_bytes):
        return pooled_bytes / self.write_Bps[device]


def toy_system(n_dev=3, fast_B=200e3, slow_B=5e6, macs_per_s=2e11, name="toy", pool=None, write_Bps=None):
    """``write_Bps``: per device index the rate its shards write pooled output at (None: no such write)."""
    devs = {}
    for k in range(n_dev):
        slow = dict(tier="dram", capacity_B=slow_B, per_lookup_s=50e-9, bandwidth_Bps=10e9, energy_per_B_J=20e-12)
        if pool:
            slow["pool"] = pool
        devs[f"dev{k}"] = {"tiers": [dict(tier="sram", capacity_B=fast_B, per_lookup_s=2e-9, bandwidth_Bps=200e9,
                                          energy_per_B_J=1e-12), slow],
                           "macs_per_s": macs_per_s}
    if write_Bps is not None:
        return WritingSystem(name, devs, {f"dev{k}": write_Bps[k] for k in range(n_dev)})
    return SyntheticSystem(name, devs)


class Stats:
    """Minimal statistics object: per-table accesses per batch and a coverage curve."""

    def __init__(self, model, seed, n_breaks=3):
        rng = np.random.default_rng(seed)
        self.tables = []
        for _t in model.tables:
            f = np.sort(rng.uniform(0.02, 0.9, n_breaks - 1))
            s = np.sort(rng.uniform(0.1, 3.0, n_breaks))[::-1]       # decreasing slopes: concave
            w = np.diff(np.concatenate([[0], f, [1]]))
            c = np.cumsum(s * w)
            c = c / c[-1]
            self.tables.append({"accesses": float(rng.integers(100, 5000)),
                                "coverage": CoverageCurve(tuple(np.concatenate([[0], f, [1]])),
                                                          tuple(np.concatenate([[0], c])))})
