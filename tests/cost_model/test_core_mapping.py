"""Core mapping on an Ascend-style SoC: the MIP equals brute force over the same menu, beats or
matches the default mapping, and respects L1."""
import itertools
import math

import pytest

from cm_toys import DENSE
from embsim.cost_model.core_mapping import default_mapping, menu, solve_core_mapping
from embsim.cost_model.validate import plan_problems
from embsim.errors import InputError
from embsim.hw_models.system import Cost, Slot, System
from embsim.workloads.model import AccessSpec, ModelSpec, TableSpec


class ToySoC(System):
    """A small SoC honouring the ascend_soc contract with simple strategy costs."""

    STRATEGIES = ("GM", "L1", "GM-UB", "L1-UB")

    def __init__(self, n_cores=3, l1_B=40_000, ub_B=8_000):
        super().__init__("toysoc", {})
        self.n_cores, self.l1_capacity_B, self.ub_capacity_B = n_cores, l1_B, ub_B

    @property
    def devices(self):
        return [f"core{i}" for i in range(self.n_cores)]

    def slots(self):
        out = []
        for c in self.devices:
            out += [Slot(c, "l1", self.l1_capacity_B, 0, granularity_B=32),
                    Slot(c, "hbm", 1e12, 1, "hbm", granularity_B=32)]
        return out

    def aligned_row_B(self, row_bytes):
        return math.ceil(row_bytes / 32) * 32

    def strategy_feasible(self, s, rows, row_bytes):
        a = self.aligned_row_B(row_bytes)
        fits = rows * a <= self.l1_capacity_B
        return {"GM": True, "L1": fits, "GM-UB": a <= self.ub_capacity_B / 2, "L1-UB": fits}[s]

    def strategy_cost(self, s, rows, row_bytes, lookups, unique_rows=None):
        if not self.strategy_feasible(s, rows, row_bytes):
            return Cost(math.inf, math.inf)
        a = self.aligned_row_B(row_bytes)
        t = {"GM": lookups * 100e-9, "L1": lookups * 20e-9,
             "GM-UB": 1e-6 + rows * a / 50e9 + lookups * 5e-9,
             "L1-UB": 0.5e-6 + rows * a / 200e9 + lookups * 4e-9}[s]
        return Cost(t, t)


def soc_model(specs):
    return ModelSpec("socm", tuple(TableSpec(f"t{i}", r, d, "fp32", p, access=AccessSpec("uniform"))
                                   for i, (r, d, p) in enumerate(specs)), DENSE, "test")


def brute(system, opts):
    best = math.inf
    cores = range(system.n_cores)
    choices = []
    for ol in opts:
        ch = []
        for o, (k, *_rest) in enumerate(ol):
            ch += [(o, cs) for cs in itertools.combinations(cores, k)]
        choices.append(ch)
    for combo in itertools.product(*choices):
        load, l1 = [0.0] * system.n_cores, [0.0] * system.n_cores
        for ti, (o, cs) in enumerate(combo):
            k, s, sec, l1b = opts[ti][o]
            for c in cs:
                load[c] += sec
                l1[c] += l1b
        if max(l1) <= system.l1_capacity_B:
            best = min(best, max(load))
    return best


@pytest.mark.parametrize("solver", ["cbc", "highs"])
@pytest.mark.parametrize("specs", [
    [(400, 32, 3), (3000, 16, 1), (60, 64, 8)],
    [(1200, 32, 40), (200, 16, 2), (5000, 16, 1)],
])
def test_core_mapping_equals_brute_force(specs, solver):
    soc, model = ToySoC(), soc_model(specs)
    plan = solve_core_mapping(model, soc, solver=solver, time_limit_s=20, batch_size=64, gap_rel=1e-9)
    lookups = [t.pooling * 64 for t in model.tables]
    opt = brute(soc, menu(soc, model.tables, lookups))
    assert plan.makespan_s == pytest.approx(opt, rel=1e-6)
    assert plan.makespan_s <= default_mapping(soc, model.tables, lookups) * (1 + 1e-9)
    assert plan_problems(plan, soc, model) == []
    for t in plan.tables:
        for s in t.shards:
            assert s.strategy in soc.STRATEGIES and s.core is not None


def test_skewed_lookups_beat_the_default_mapping():
    """One hot small table and large cold ones: the even GM split is far from the best mapping."""
    soc, model = ToySoC(n_cores=4), soc_model([(500, 32, 200), (20000, 32, 1), (20000, 32, 1)])
    plan = solve_core_mapping(model, soc, solver="highs", time_limit_s=20, batch_size=64)
    assert plan.baselines["default_gm_even"]["makespan_s"] / plan.makespan_s > 1.5


def test_l1_capacity_is_respected():
    soc, model = ToySoC(n_cores=2, l1_B=20_000), soc_model([(600, 32, 50), (600, 32, 50), (600, 32, 50)])
    plan = solve_core_mapping(model, soc, solver="highs", time_limit_s=20, batch_size=64)
    per_core = {}
    for t in plan.tables:
        for s in t.shards:
            if s.strategy in ("L1", "L1-UB"):
                per_core[s.core] = per_core.get(s.core, 0) + math.ceil(600 / s.parts) * 32
    assert all(v <= soc.l1_capacity_B for v in per_core.values())


def test_core_mapping_needs_an_soc():
    from cm_toys import toy_model, toy_system
    with pytest.raises(InputError, match="Ascend-style SoC"):
        solve_core_mapping(toy_model(2, 0), toy_system())


def test_criteo_kaggle_core_mapping_solves_with_cbc():
    """Regression: CBC 2.10.3 segfaulted ("status error") when its time limit ran out while it was
    completing the MIP start on the preprocessed criteo_kaggle x ascend_910 model (26 tables x 32
    cores).  A 10 s limit lands in that window (the root LP alone takes ~6 s); the solve must stop
    cleanly with a feasible mapping from the solver itself."""
    from embsim.hw_models.loader import load_system
    from embsim.workloads.model import load_model
    model, soc = load_model("criteo_kaggle"), load_system("ascend_910")
    p = solve_core_mapping(model, soc, solver="cbc", time_limit_s=10, batch_size=256)
    # the solver stops cleanly; it may find nothing better than its start, the solved symmetric mapping
    assert p.status in ("optimal", "feasible", "feasible (symmetric mapping kept)"), p.status
    assert (p.method == "core_mapping" or "symmetric" in p.status) and not any("CBC failed" in n for n in p.notes)
    assert p.best_bound_s is not None and p.best_bound_s <= p.makespan_s
    assert p.makespan_s <= p.baselines["default_gm_even"]["makespan_s"]
    assert plan_problems(p, soc, model) == []
