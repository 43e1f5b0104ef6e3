"""Benchmark of the sharding and core-mapping MIPs (issue 5).  Measures; asserts nothing.

    PYTHONPATH=. python bench/shard.py [--time-limit 60] [--solvers cbc,highs] [--skip-856]

1. ``dlrm_datasets_like`` (856 tables) on screc_csd with K = 8 SmartSSDs
   (``params.csd.count.value = 8``: 8 devices with 3 tiers each, SRAM / FPGA
   DRAM / flash), first with only the 8 SmartSSDs open to placement (the
   issue's 8-device, 3-tier instance), then with the host's DRAM as a ninth,
   different device: solve time, gap against the bound, and the MIP's
   makespan against every baseline.  Goal: 60 s, gap <= 1%.
2. DLRM-DCNv2 (Criteo 1TB, zipf 1.05) on each family's preset: the same
   figures.  The zipf-skew goal is a makespan >= 15% below size-greedy.
3. The Ascend core mapping against the default mapping (every table split
   evenly over all cores, GM): on a realistic model (criteo_kaggle, whose
   tables range from 3 to 10M rows with one lookup each; and rm2) and on an
   extremely unbalanced one (one small table taking ~98% of the lookups).

Everything is printed in one run; the figures quoted in the issue come from
here.  Each solve is limited to --time-limit seconds (wall clock, on a
machine shared with other work, so times vary from run to run).
"""
import argparse
import time

from embsim.cost_model.core_mapping import solve_core_mapping
from embsim.cost_model.solve import solve_plan
from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.hw_models.system import System
from embsim.workloads.model import AccessSpec, DenseSpec, ModelSpec, TableSpec, load_model

FAMILY_PRESETS = ["cpu_2s_spr_ddr5", "gpu_8x_a100_80g", "gpu_8x_h100_80g", "screc_4x_smartssd", "ascend_910"]


def row(label, plan, wall):
    gap = "n/a" if plan.gap is None else f"{plan.gap * 100:.2f}%"
    sg = plan.baselines.get("size_greedy", {}).get("makespan_s")
    rel = {name: (1 - plan.makespan_s / b["makespan_s"]) * 100 for name, b in plan.baselines.items()
           if b.get("makespan_s")}
    base = "  ".join(f"{n} {plan.baselines[n]['makespan_s'] * 1e6:.1f} us (-{r:.1f}%)" for n, r in rel.items())
    print(f"{label:<44} {plan.solver:<5} {plan.method:<11} wall {wall:6.1f} s  makespan {plan.makespan_s * 1e6:9.2f} us"
          f"  gap {gap:>7}  status {plan.status}")
    print(f"{'':<44} baselines: {base}")
    return sg


def run_sharding(label, model, system, solver, limit, **kw):
    t = time.perf_counter()
    try:
        plan = solve_plan(model, system, solver=solver, time_limit_s=limit, **kw)
    except InputError as e:
        print(f"{label:<44} {solver:<5} infeasible: {e}")
        return None
    row(label, plan, time.perf_counter() - t)
    return plan


class DevicesOnly(System):
    """A view of a system with only some of its devices open to placement (costs delegated)."""

    def __init__(self, base, devices):
        self.base, self._devices = base, list(devices)
        self.name, self.params, self.graph, self.source_file = f"{base.name}[{','.join(devices[:2])},...]", None, None, None

    @property
    def devices(self):
        return self._devices

    def slots(self):
        return [s for s in self.base.slots() if s.device in self._devices]

    def lookup_cost(self, slot, row_bytes):
        return self.base.lookup_cost(slot, row_bytes)

    def compute_cost(self, device, macs):
        return self.base.compute_cost(device, macs)


def unbalanced_model(n_tables=26):
    """Extremely unbalanced lookups: one 10k-row table with pooling 500, the rest 1 lookup each."""
    tables = [TableSpec("hot", 10_000, 128, "fp32", 500.0, access=AccessSpec("uniform"))]
    tables += [TableSpec(f"cold{i}", 200_000 * (1 + i % 5), 128, "fp32", 0.4, access=AccessSpec("uniform"))
               for i in range(n_tables - 1)]
    return ModelSpec("unbalanced", tuple(tables), DenseSpec(13, (512, 256, 128), (512, 1)), "bench: assumption")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per 856-table solve")
    ap.add_argument("--small-limit", type=float, default=30.0, help="seconds per DCNv2 / core-mapping solve")
    ap.add_argument("--solvers", default="cbc,highs")
    ap.add_argument("--skip-856", action="store_true")
    ap.add_argument("--sections", default="1,2,3", help="which parts to run, e.g. 3")
    a = ap.parse_args()
    solvers = a.solvers.split(",")

    sections = set(a.sections.split(","))
    if "1" not in sections:
        a.skip_856 = True
    print("== 1. dlrm_datasets_like (856 tables) on screc_csd, K = 8 SmartSSDs (8 devices x 3 tiers + host)")
    big = load_model("dlrm_datasets_like")
    screc8 = load_system("screc_4x_smartssd", {"params.csd.count.value": 8})
    print(f"   {big.n_tables} tables, {big.embedding_bytes / 1e9:.1f} GB fp32, "
          f"{big.lookups_per_sample:.0f} lookups per sample; slots: {len(screc8.slots())}")
    csds = DevicesOnly(screc8, [d for d in screc8.devices if d != "host"])
    if not a.skip_856:
        for label, system in (("dlrm_datasets_like @ 8 SmartSSDs (no host)", csds),
                              ("dlrm_datasets_like @ screc x8 (+ host)", screc8)):
            for s in solvers:
                p = run_sharding(label, big, system, s, a.time_limit)
                if p is not None:
                    print(f"{'':<44} {p.notes[-1] if p.notes else ''}")
                    sg = p.baselines.get("size_greedy", {}).get("makespan_s")
                    if sg:
                        print(f"{'':<44} improvement over size-greedy: {(1 - p.makespan_s / sg) * 100:.1f}%")

    print("\n== 2. DLRM-DCNv2 (Criteo 1TB, zipf 1.05) on each family")
    dcn = load_model("dlrm_dcnv2_criteo1tb")
    for name in (FAMILY_PRESETS if "2" in sections else []):
        system = load_system(name)
        for s in solvers:
            if getattr(system, "family", "") == "ascend_soc":
                try:
                    solve_core_mapping(dcn, system, solver=s, time_limit_s=a.small_limit)
                except InputError as e:
                    print(f"{'dcnv2 @ ' + name:<44} {s:<5} infeasible: {e}")
                continue
            p = run_sharding(f"dcnv2 @ {name}", dcn, system, s, a.small_limit)
            if p is not None and p.baselines.get("size_greedy", {}).get("makespan_s"):
                gain = 1 - p.makespan_s / p.baselines["size_greedy"]["makespan_s"]
                print(f"{'':<44} zipf-skew improvement over size-greedy: {gain * 100:.1f}%  (goal >= 15%)")

    print("\n== 3. Ascend core mapping vs the default mapping (all tables split over all cores, GM)")
    soc = load_system("ascend_910")
    cases = [("criteo_kaggle (realistic)", load_model("criteo_kaggle")), ("rm2 (realistic)", load_model("rm2")),
             ("unbalanced (one table ~98% of lookups)", unbalanced_model())]
    for label, m in (cases if "3" in sections else []):
        for s in solvers:
            t = time.perf_counter()
            try:
                p = solve_core_mapping(m, soc, solver=s, time_limit_s=a.small_limit, batch_size=256)
            except InputError as e:
                print(f"{label:<44} {s:<5} infeasible: {e}")
                continue
            wall = time.perf_counter() - t
            d = p.baselines["default_gm_even"]["makespan_s"]
            gap = "n/a" if p.gap is None else f"{p.gap * 100:.1f}%"
            print(f"{label:<44} {s:<5} wall {wall:5.1f} s  default {d * 1e6:9.2f} us  mapped {p.makespan_s * 1e6:9.2f} us"
                  f"  speed-up {d / p.makespan_s:5.2f}x  gap {gap}  status {p.status}")
            strategies = {}
            for tp in p.tables:
                for sh in tp.shards:
                    strategies[sh.strategy] = strategies.get(sh.strategy, 0) + 1
            print(f"{'':<44} parts per strategy: {strategies}")


if __name__ == "__main__":
    main()
