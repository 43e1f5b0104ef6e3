"""The per-shard output write (cost_model/shard_output.py): the plan's device time holds it, the simulator
charges the same bytes at the same rate, and a system without the write prices none."""
from dataclasses import replace

import pytest

from cm_toys import Stats, toy_model, toy_system
from embsim.cost_model.baselines import lpt
from embsim.cost_model.placement import evaluate
from embsim.cost_model.shard_output import output_s_per_B
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.generators import generate_trace

BATCH = 256


@pytest.fixture(scope="module")
def a100():
    return load_system("gpu_8x_a100_80g")


def _tables_on(plan, model):
    """Per device, the pooled bytes per sample its shards write, read off the plan (not the planner's items)."""
    dims = {t.name: t.dim for t in model.tables}
    out = {}
    for tp in plan.tables:
        if tp.sharding == "data_parallel":          # a copy pools its own samples: nothing sent
            continue
        cols = len(tp.columns) - 1 if tp.columns else 1
        for d in {s.device for s in tp.shards}:
            out[d] = out.get(d, 0.0) + dims[tp.table] / cols * 4.0
    return out


def test_device_time_holds_each_shards_write(a100):
    model = toy_model(6, 3)
    inst = instance_for(model, a100, Stats(model, 3), batch_size=BATCH, split=False)
    pl = lpt(inst)
    with_write = evaluate(inst, pl)[0]
    inst.output_s_per_B = {d: 0.0 for d in inst.devices}
    without = evaluate(inst, pl)[0]
    peak = a100.p.hbm.peak_bandwidth.value          # the HBM part's own streaming peak
    for d in inst.devices:
        written = sum(BATCH * model.tables[it.table].dim * 4.0 for i, it in enumerate(inst.items) if pl.device[i] == d)
        assert with_write[d] - without[d] == pytest.approx(written / peak, rel=1e-9, abs=1e-18)


def test_simulator_charges_what_the_plan_prices(a100):
    model = toy_model(10, 5)
    # small tables: without replicate=False every one would be a copy (no pooled bytes sent)
    plan = solve_plan(model, a100, batch_size=BATCH, time_limit_s=2, split=False, replicate=False,
                      torchrec_baseline=False)
    sim = Simulation(model, a100, plan, generate_trace(model, batches=2, batch_size=BATCH, seed=0),
                     profile="in-sample")
    load = sim.batch_load(0)
    per_sample = _tables_on(plan, model)
    assert per_sample
    rate = output_s_per_B(a100, a100.devices)
    for d in a100.devices:
        sim_B = load.devices[d].pooled_bytes_out if d in load.devices else 0.0
        assert sim_B == pytest.approx(per_sample.get(d, 0.0) * BATCH)
        # the simulator's embedding stage charges these bytes at the planner's rate
        emb = {w.resource: w.time_s for w in a100.batch_cost(load).work if w.stage == "embedding"}
        if sim_B:
            bare = replace(load, devices={**load.devices, d: replace(load.devices[d], pooled_bytes_out=0.0)})
            emb0 = {w.resource: w.time_s for w in a100.batch_cost(bare).work if w.stage == "embedding"}
            assert emb[d] - emb0[d] == pytest.approx(rate[d] * sim_B, rel=1e-9)


def test_a_system_without_the_write_prices_none():
    model = toy_model(4, 1)
    inst = instance_for(model, toy_system(2), Stats(model, 1), split=False)
    assert inst.output_s_per_B == {d: 0.0 for d in inst.devices}


def test_a_copy_writes_its_own_samples_vectors_on_both_sides_and_sends_none(a100):
    """Data parallel: each of N copies pools 1/N of the samples.  The plan's device time holds that write, the
    simulator's load carries it as ``local_bytes_out`` (charged at the same rate) and the all-to-all none of it."""
    model = toy_model(10, 5)
    plan = solve_plan(model, a100, batch_size=BATCH, time_limit_s=2, split=False, torchrec_baseline=False)
    copied = [tp.table for tp in plan.tables if tp.sharding == "data_parallel"]
    assert copied, "small tables on 8 x A100: the plan copies some"
    N = len(a100.devices)
    dims = {t.name: t.dim for t in model.tables}
    local = sum(dims[t] for t in copied) * 4.0 * BATCH / N          # bytes each copy's device writes per batch
    sim = Simulation(model, a100, plan, generate_trace(model, batches=2, batch_size=BATCH, seed=0),
                     profile="in-sample")
    load = sim.batch_load(0)
    rate = output_s_per_B(a100, a100.devices)
    for d in a100.devices:
        dl = load.devices[d]
        assert dl.local_bytes_out == pytest.approx(local, rel=1e-12)
        assert dl.pooled_bytes_out == pytest.approx(_tables_on(plan, model).get(d, 0.0) * BATCH)
        bare = replace(load, devices={**load.devices, d: replace(dl, local_bytes_out=0.0)})
        cost, cost0 = a100.batch_cost(load), a100.batch_cost(bare)
        emb = {w.resource: w.time_s for w in cost.work if w.stage == "embedding"}
        emb0 = {w.resource: w.time_s for w in cost0.work if w.stage == "embedding"}
        assert emb[d] - emb0[d] == pytest.approx(rate[d] * local, rel=1e-9)
        assert [w.time_s for w in cost.work if w.stage == "transfer"] == \
            [w.time_s for w in cost0.work if w.stage == "transfer"]
    # the planner prices the same write: its device time less the copies' writes is what it was before
    inst = instance_for(model, a100, None, batch_size=BATCH, split=False)
    from embsim.cost_model.shard_output import copy_output_s
    i = next(i for i, it in enumerate(inst.items) if it.name == copied[0])
    assert copy_output_s(inst, i, a100.devices[0]) == pytest.approx(
        rate[a100.devices[0]] * dims[copied[0]] * 4.0 * BATCH / N, rel=1e-12)
