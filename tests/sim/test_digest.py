"""The trace digest that names a result's trace: one value however the trace is held or sent."""
import pickle

from embsim.sim.digest import TraceDigest, trace_digest
from embsim.workloads.store import open_trace, save_trace

from simtoys import small_model, small_trace


def _trace(batches=6, seed=0):
    return small_trace(small_model(), batches=batches, seed=seed)


def test_the_threaded_digest_equals_the_direct_one():
    t = _trace()
    assert TraceDigest(t).value == trace_digest(t)


def test_a_different_trace_has_a_different_digest():
    t = _trace()
    other = _trace()
    other.indices = other.indices.copy()
    other.indices[0] = (other.indices[0] + 1) % int(other.table_rows[0])
    assert trace_digest(other) != trace_digest(t)


def test_a_pickled_digest_keeps_its_value_and_drops_the_trace():
    t = _trace()
    d = TraceDigest(t)
    back = pickle.loads(pickle.dumps(d))
    assert back.value == d.value
    assert back._trace is None


def test_a_streamed_trace_has_the_in_memory_digest(tmp_path):
    t = _trace(batches=7)
    folder = save_trace(t, tmp_path / "t.trace", batches_per_chunk=2)
    npz = save_trace(t, tmp_path / "t.npz")
    want = trace_digest(t)
    assert trace_digest(open_trace(folder)) == want
    assert trace_digest(open_trace(npz)) == want
