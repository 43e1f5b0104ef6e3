"""The aggregate LP's cuts: an item's bytes in a device's fastest slot fit beside every copy there, and the
heavy items' pigeonhole (mip_cuts, cut 1).

Valid (the LP stays below the full MIP's proven optimum) and active (without the copies cut the LP is
lower): a big table that wants most of a fast tier and thirty small tables that would rather be copied."""
import pytest

from embsim.cost_model import decomposed
from embsim.cost_model.decomposed import aggregate_lp
from embsim.cost_model.solve import instance_for, solve_plan
from embsim.cost_model.synthetic import SyntheticSystem
from embsim.workloads.model import model_from_dict

from cm_toys import toy_system


def _case(big_rows):
    tables = [{"name": "big", "rows": big_rows, "pooling": 8}] + [{"name": f"s{i}", "rows": 500} for i in range(30)]
    model = model_from_dict({
        "name": "copies_cut", "source": "test", "tables": tables,
        "defaults": {"dim": 16, "dtype": "fp32", "pooling": 2, "access": {"kind": "zipf", "alpha": 1.1}},
        "dense": {"dense_features": 13, "bottom_mlp": [32, 16], "top_mlp": [32, 1], "interaction": "dot"}},
        source="test")
    base = toy_system(3, fast_B=1.83e6, slow_B=100e6)             # the big table: ~0.7 of a fast tier
    return model, SyntheticSystem("linked", base.params, links={"latency_s": 1e-6, "bandwidth_Bps": 2e8})


def _bounds(big_rows, monkeypatch, heavy=True):
    """(full MIP optimum, aggregate LP with the cut, without it), all in seconds; ``heavy=False``: both LPs
    without the heavy-items cut, so that the copies cut is seen alone."""
    model, system = _case(big_rows)
    inst = instance_for(model, system, None, batch_size=64, split=False)
    assert len(inst.replicable) == 30
    full = solve_plan(model, system, None, batch_size=64, solver="highs", time_limit_s=60, gap_rel=1e-9,
                      method="full", split=False, torchrec_baseline=False)
    assert full.status == "optimal"
    if not heavy:
        monkeypatch.setattr(decomposed, "add_heavy_cuts", lambda *a: 0)
    _, with_cut = aggregate_lp(inst, "highs", 30.0, scale=full.objective)
    with monkeypatch.context() as m:
        m.setattr(decomposed, "_copies_bytes", lambda *a: None)
        _, without = aggregate_lp(instance_for(model, system, None, batch_size=64, split=False), "highs", 30.0,
                                  scale=full.objective)
    return full.objective, with_cut.objective, without.objective


@pytest.mark.parametrize("big_rows", [16_000, 20_000, 24_000])
def test_the_cut_keeps_the_lp_below_the_optimum(big_rows, monkeypatch):
    opt, with_cut, without = _bounds(big_rows, monkeypatch)
    assert without <= with_cut * (1 + 1e-9) and with_cut <= opt * (1 + 1e-6)


def test_the_cut_binds_where_the_big_table_and_the_copies_compete(monkeypatch):
    opt, with_cut, without = _bounds(24_000, monkeypatch, heavy=False)
    assert with_cut > without * (1 + 1e-3), (opt, with_cut, without)


def test_the_heavy_items_cut_lifts_dcnv2s_lp_and_stays_below_its_optimum(monkeypatch):
    """DCNv2 on 8 x A100: the heavy-items cut raises the aggregate LP, which stays below the full MIP's optimum."""
    from embsim.hw_models.loader import load_system
    from embsim.workloads.model import load_model
    model, system = load_model("dlrm_dcnv2_criteo1tb"), load_system("gpu_8x_a100_80g")
    full = solve_plan(model, system, None, batch_size=1024, solver="highs", time_limit_s=30, method="full",
                      torchrec_baseline=False)
    assert full.status == "optimal"
    _, with_cut = aggregate_lp(instance_for(model, system, None, batch_size=1024), "highs", 30.0,
                               scale=full.objective)
    monkeypatch.setattr(decomposed, "add_heavy_cuts", lambda *a: 0)
    _, without = aggregate_lp(instance_for(model, system, None, batch_size=1024), "highs", 30.0,
                              scale=full.objective)
    assert without.objective < with_cut.objective <= full.objective * (1 + 1e-6)
