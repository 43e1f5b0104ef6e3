"""The decomposed solve's start from the aggregate LP's copies: a scanned prefix, never worse than copying all."""
import pytest

from embsim.cost_model import decomposed as sm
from embsim.cost_model.placement import objective
from embsim.cost_model.solve import instance_for
from embsim.cost_model.warm_start import comm_lpt, copies_start
from embsim.hw_models.loader import load_system
from embsim.workloads.model import model_from_dict


@pytest.fixture(scope="module")
def inst():
    tables = [{"name": f"big{i}", "rows": 4_000_000} for i in range(4)] + \
             [{"name": f"s{i}", "rows": 100_000} for i in range(40)]
    model = model_from_dict({
        "name": "copies", "source": "test", "tables": tables,
        "defaults": {"dim": 128, "dtype": "fp32", "pooling": 4, "access": {"kind": "zipf", "alpha": 1.05}},
        "dense": {"dense_features": 13, "bottom_mlp": [64, 128], "top_mlp": [64, 1], "interaction": "dot"}},
        source="test")
    # 12 GB of HBM less the 8 GB reserve: 4 GB of tables per GPU, so copies compete with the big tables
    system = load_system("gpu_8x_a100_80g", overrides={"params.hbm.capacity": "12 GB"})
    return instance_for(model, system, None, batch_size=1024)


def test_the_scanned_prefix_scores_no_worse_than_copying_all_the_lp_copies(inst):
    agg, rep = sm.aggregate_lp(inst, "highs", 30.0)
    assert agg is not None and rep.copies and set(rep.copies) == set(inst.replicable)
    chosen = [t for t, r in rep.copies.items() if r >= 0.5]
    assert chosen, "the LP copies some table here"
    score = lambda q: objective(inst, q, 0.0)      # noqa: E731
    pl = copies_start(inst, rep.copies, score)
    assert pl is not None and pl.replicated <= set(chosen)
    everything = comm_lpt(inst, True, chosen)
    assert score(pl) <= score(everything) + 1e-15


def test_no_copies_no_start(inst):
    assert copies_start(inst, {t: 0.0 for t in inst.replicable}, lambda q: 0.0) is None
