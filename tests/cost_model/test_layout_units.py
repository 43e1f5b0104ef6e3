"""The planner counts a layout's units on its profile: the simulator's count, and every layout told apart."""
import numpy as np
import pytest

from embsim.cost_model.instance import Instance
from embsim.cost_model.layout_units import LayoutProfile, unit_span
from embsim.cost_model.partition import hash_partition
from embsim.cost_model.plan import Representation, Shard, ShardingPlan, TablePlan
from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.sim.coalesce import row_addresses
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.profile import split
from embsim.workloads.stats import trace_stats
from embsim.workloads.trace import Trace

LAYOUTS = ("identity", "random", "frequency", "coaccess")
#: the agreement bound of the simulator against the cost model (tests/sim/test_agreement.py)
AGREEMENT = 0.10
#: system preset, device, tier of the MIP's slots the tests price (flash pages, HBM sectors, DDR lines)
TIERS = [("screc_4x_smartssd", "csd0", "flash"), ("gpu_8x_a100_80g", "gpu0", "hbm"),
         ("cpu_2s_spr_ddr5", "socket0", "dram")]


def _model(rows, pooling, dim=16):
    return model_from_dict({
        "name": "small_rows", "source": "test",
        "defaults": {"dim": dim, "dtype": "fp16", "pooling": pooling, "access": {"kind": "zipf", "alpha": 1.05}},
        "tables": [{"name": "t0", "rows": int(rows)}],
        "dense": {"dense_features": 13, "bottom_mlp": [32, dim], "top_mlp": [32, 1], "interaction": "dot"}},
        source="test")


def _plan(model, system, device, tier):
    t = model.tables[0]
    return ShardingPlan(model.name, system.name, [TablePlan(t.name, Representation(row_bytes=t.row_bytes),
                                                            [Shard(device, tier, 0.0, 1.0, 1.0)])],
                        solver="hand", status="hand-made")


def _simulated(model, system, device, tier, trace, layout):
    sim = Simulation(model, system, _plan(model, system, device, tier), trace, layout=layout,
                     profile="in-sample")  # the planner is profiled on its own draw; the sim lays out from its trace
    return float(sim.tier_units.sum(axis=1).mean())


def _predicted(model, system, device, tier, profile, layout):
    """Units per batch the MIP's instance charges the table whole in ``device.tier``, profiled on ``profile``."""
    st = trace_stats(profile)
    inst = Instance(model, system, st, profile.batch_size, representations=["own"], split=False,
                    coalescing={"layout": layout, "profile": profile})
    (it,) = inst.items
    k = next(k for k, s in enumerate(inst.slots) if (s.device, s.tier) == (device, tier))
    share = inst.coalesced[(0, 0, k)]
    return share * it.accesses


@pytest.fixture(scope="module")
def systems():
    return {p: load_system(p) for p, _, _ in TIERS}


def _planted(seed, rows=65_536, groups=256, size=16, batches=8, batch_size=256):
    """One table whose bags are whole groups of ``size`` rows (zipf over groups): co-access structure."""
    members = np.random.default_rng(0).permutation(rows)[:groups * size].reshape(groups, size)
    pick = (np.random.default_rng(seed).zipf(1.2, (batches, batch_size)) - 1) % groups
    lengths = np.full((batches, 1, batch_size), size, dtype=np.int32)
    return Trace(lengths=lengths, indices=members[pick].reshape(-1).astype(np.int64), table_rows=np.array([rows]))


def test_unit_span_is_the_simulators_packing():
    rng = np.random.default_rng(0)
    pos = rng.integers(0, 10_000, 500)
    for row_B, sizes in ((32, [4096, 16384]), (20, [64]), (96, [64]), (40, [64, 512]), (20000, [4096, 16384]),
                         (12288, [4096, 16384])):
        a, n = row_addresses(pos, row_B, sizes[0])
        first, last = unit_span(pos, row_B, sizes)
        assert np.array_equal(first, a // sizes[-1]) and np.array_equal(last, (a + n - 1) // sizes[-1])


@pytest.mark.parametrize("layout", ["identity", "frequency", "coaccess"])
def test_the_profile_being_the_trace_gives_the_simulators_count(systems, layout):
    """Same trace, same placement: the planner's units per batch are the replay's, exactly."""
    m = _model(2_000_000, 16)
    tr = generate_trace(m, batches=4, batch_size=256, seed=3)
    system = systems["screc_4x_smartssd"]
    sim = _simulated(m, system, "csd0", "flash", tr, layout)
    units, _, batches = LayoutProfile(tr, layout).slot_units(0, hash_partition(m.tables[0].rows, 1), 0, (0.0, 1.0),
                                                             32.0, [4096, 16384])
    assert units / batches == sim


@pytest.fixture(scope="module")
def zipf():
    m = _model(2_000_000, 16)
    return m, generate_trace(m, batches=8, batch_size=512, seed=3), generate_trace(m, batches=8, batch_size=512, seed=4)


@pytest.mark.parametrize("preset,device,tier", TIERS)
def test_every_layout_is_predicted_within_the_agreement_bound_on_a_zipf_trace(systems, zipf, preset, device, tier):
    """Profile and simulated trace are two draws of one zipf model: the prediction is an estimate, not a copy."""
    m, trace, profile = zipf
    system = systems[preset]
    for layout in LAYOUTS:
        sim = _simulated(m, system, device, tier, trace, layout)
        pred = _predicted(m, system, device, tier, profile, layout)
        assert pred == pytest.approx(sim, rel=AGREEMENT), (layout, pred, sim)


def test_coaccess_reads_fewer_units_than_frequency_and_frequency_fewer_than_random(systems):
    """Bags of 16 co-accessed rows, 32-B rows in 64-B lines: the order holds, predicted and simulated alike,
    and each prediction (another draw of the same groups) is within the agreement bound."""
    trace, profile = _planted(1), _planted(2)
    m = _model(65_536, 16)
    system = systems["cpu_2s_spr_ddr5"]
    pred = {lay: _predicted(m, system, "socket0", "dram", profile, lay) for lay in ("random", "frequency", "coaccess")}
    sim = {lay: _simulated(m, system, "socket0", "dram", trace, lay) for lay in pred}
    for got in (pred, sim):
        assert got["coaccess"] < got["frequency"] < got["random"], (pred, sim)
    for lay in pred:
        assert pred[lay] == pytest.approx(sim[lay], rel=AGREEMENT), (lay, pred, sim)


def test_a_profile_of_other_tables_is_an_input_error(systems, zipf):
    m, trace, _ = zipf
    other = _planted(1)
    with pytest.raises(InputError, match="table_rows"):
        Instance(m, systems["screc_4x_smartssd"], trace_stats(trace), 512, representations=["own"], split=False,
                 coalescing={"layout": "frequency", "profile": other})


@pytest.mark.parametrize("layout", ["frequency", "coaccess"])
def test_held_out_prediction_is_within_the_bound_of_the_held_out_simulation(systems, layout):
    """Held out on both sides: the simulation ranks on its trace's first half and replays the second;
    the cost model has that first half only (read with each sample left out) and predicts the units."""
    m, trace = _model(65_536, 16), _planted(5, batches=16)
    system = systems["cpu_2s_spr_ddr5"]
    sim = Simulation(m, system, _plan(m, system, "socket0", "dram"), trace, layout=layout)
    simulated = float(sim.tier_units.sum(axis=1).mean())
    prof = LayoutProfile(split(trace).profile, layout, held_out=True)
    units, _, batches = prof.slot_units(0, hash_partition(65_536, 1), 0, (0.0, 1.0), 32.0, [64])
    assert units / batches == pytest.approx(simulated, rel=AGREEMENT), (units / batches, simulated)
