"""A simulation reports, per table, the lookups to rows its profile never saw: Good-Turing's estimate beside the
measured share (Simulation.unseen_lookup_shares), which part when the trace drifts."""
import numpy as np

from embsim.hw_models.loader import load_system
from embsim.sim.simulate import Simulation
from embsim.workloads.model import model_from_dict
from embsim.workloads.trace import Trace

G, B = 4000, 512


def _model():
    return model_from_dict({
        "name": "drift", "source": "test", "tables": [{"name": "users", "rows": 2 * G}],
        "defaults": {"dim": 16, "dtype": "fp32", "pooling": 1, "access": {"kind": "uniform"}},
        "dense": {"dense_features": 13, "bottom_mlp": [32, 16], "top_mlp": [32, 1], "interaction": "dot"}},
        source="test")


def _trace(second_half_lo):
    """8 batches, single hot: the first four read ids in [0, G), the last four in [lo, lo + G)."""
    rng = np.random.default_rng(0)
    ids = np.concatenate([rng.integers(0, G, 4 * B), rng.integers(second_half_lo, second_half_lo + G, 4 * B)])
    return Trace(lengths=np.ones((8, 1, B), dtype=np.int32), indices=ids.astype(np.int64),
                 table_rows=np.array([2 * G]), table_names=["users"])


def _shares(lo):
    return Simulation(_model(), load_system("cpu_2s_spr_ddr5"), trace=_trace(lo), time_limit_s=5).unseen_lookup_shares()


def test_a_stationary_trace_meets_its_estimate_and_a_drifting_one_parts_from_it():
    same = _shares(0)
    assert same["tables"] == ["users"]
    true = (1 - 1 / G) ** (4 * B)          # uniform draws: the share of later lookups to rows 2048 draws missed
    # both within 4 sd of it (sd ~0.011 over 2048 lookups)
    assert abs(same["measured"][0] - true) < 0.045 and abs(same["predicted"][0] - true) < 0.045
    drift = _shares(G)                                                      # the second half: rows never seen
    assert drift["measured"] == [1.0] and drift["predicted"] == same["predicted"]


def test_in_sample_has_no_report():
    sim = Simulation(_model(), load_system("cpu_2s_spr_ddr5"), trace=_trace(0), time_limit_s=5, profile="in-sample")
    assert sim.unseen_lookup_shares() is None
