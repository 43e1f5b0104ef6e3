"""The planner's view of a layout: expected units per batch, against brute force and against the simulator."""
import numpy as np
import pytest

from embsim.cost_model.coalescing import expected_units, read_share, rows_per_unit
from embsim.cost_model.coverage import CoverageCurve
from embsim.cost_model.plan import Representation, Shard, ShardingPlan, TablePlan
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.stats import trace_stats


def _curve(p):
    """The coverage curve of per-row probabilities ``p`` (any order)."""
    p = np.sort(np.asarray(p, float))[::-1] / np.sum(p)
    f = np.arange(p.size + 1) / p.size
    return CoverageCurve(tuple(f), tuple(np.concatenate([[0.0], np.cumsum(p)])))


def test_one_row_per_unit_is_the_expected_distinct_rows():
    rng = np.random.default_rng(0)
    p = rng.pareto(1.5, 300) + 1e-3
    q = p / p.sum()
    n = 500
    want = np.sum(-np.expm1(-n * q))
    for lay in ("frequency", "random"):
        assert expected_units(_curve(p), 300, n, 1, lay) == pytest.approx(want, rel=1e-9)


def test_frequency_never_reads_more_units_than_random_and_bounds_hold():
    rng = np.random.default_rng(1)
    p = rng.pareto(1.1, 4096) + 1e-4
    c = _curve(p)
    for n in (10, 1000, 100_000):
        prev = None
        for m in (1, 4, 16, 64):
            f, r = (expected_units(c, 4096, n, m, lay) for lay in ("frequency", "random"))
            assert f <= r * (1 + 1e-12)
            assert r <= min(4096 / m, n) * (1 + 1e-12)
            if prev is not None:
                assert f <= prev[0] and r <= prev[1]           # larger units: never more of them
            prev = (f, r)


def test_rows_per_unit():
    assert rows_per_unit(32, [1, 16384]) == (512, 1)            # dim-16 fp16 in a 16 KiB page
    assert rows_per_unit(32, [32]) == (1, 1)
    assert rows_per_unit(96, [64]) == (1, 2)                    # a 96-B row takes 2 lines of its own
    assert rows_per_unit(40, [64, 512]) == (8, 1)               # one 40-B row per line, 8 lines per burst
    assert rows_per_unit(20000, [4096, 16384]) == (1, 2)        # 5 sectors = 20 KiB: two pages


@pytest.mark.parametrize("layout", ["frequency", "random"])
def test_predicted_read_share_matches_the_simulated_one_in_flash(layout):
    """A table whole in SCRec flash: the planner's read share is within 10% of what the replay counts."""
    m = model_from_dict({
        "name": "flash16", "source": "test",
        "defaults": {"dim": 16, "dtype": "fp16", "pooling": 16, "access": {"kind": "zipf", "alpha": 1.05}},
        "tables": [{"name": "t0", "rows": 2_000_000}],
        "dense": {"dense_features": 13, "bottom_mlp": [32, 16], "top_mlp": [32, 1], "interaction": "dot"}},
        source="test")
    system = load_system("screc_4x_smartssd")
    tr = generate_trace(m, batches=8, batch_size=512, seed=3)
    plan = ShardingPlan(m.name, system.name, [TablePlan("t0", Representation(row_bytes=32.0),
                                                        [Shard("csd0", "flash", 0.0, 1.0, 1.0)])],
                        solver="hand", status="hand-made")
    sim = Simulation(m, system, plan, tr, layout=layout, profile="in-sample")   # predicted from the same trace
    simulated = sim.tier_reads.sum() / sim.tier_lookups.sum()
    st = trace_stats(tr)
    curve = CoverageCurve(tuple(st.coverage_x[0]), tuple(st.coverage_y[0]))
    n = st.accesses_per_batch[0]
    predicted = read_share(curve, 2_000_000, n, 32.0, sim.locations[0].units_counted_B, layout,
                           float(st.unique_rows_per_batch[0]))
    assert predicted == pytest.approx(simulated, rel=0.10)
