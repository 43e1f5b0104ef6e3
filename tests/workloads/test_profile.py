"""Held-out profiling: a trace split into a profile part and a disjoint evaluation part."""
import numpy as np
import pytest

from embsim.errors import InputError
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.profile import IN_SAMPLE, BatchRangeReader, split, split_batch
from embsim.workloads.store import open_trace, save_trace


@pytest.fixture(scope="module")
def model():
    return model_from_dict({
        "name": "p", "source": "test model",
        "defaults": {"dim": 8, "dtype": "fp32", "pooling": 3, "access": {"kind": "zipf", "alpha": 1.1}},
        "tables": [{"name": "a", "rows": 5000}, {"name": "b", "rows": 300}],
        "dense": {"dense_features": 4, "bottom_mlp": [8, 8], "top_mlp": [8, 1], "interaction": "dot"}}, source="t")


@pytest.fixture(scope="module")
def trace(model):
    return generate_trace(model, batches=9, batch_size=16, seed=1)


@pytest.mark.parametrize("n, share, want", [(9, 0.5, 4), (2, 0.5, 1), (10, 0.01, 1), (10, 0.99, 9)])
def test_split_batch_keeps_both_parts_non_empty(n, share, want):
    assert split_batch(n, share) == want


def test_one_batch_or_a_bad_share_cannot_split():
    with pytest.raises(InputError, match="--profile"):
        split_batch(1)
    for share in (0.0, 1.0):
        with pytest.raises(InputError, match="share"):
            split_batch(10, share)


def test_default_split_is_disjoint_and_complete(trace):
    s = split(trace)
    assert s.kind == "split"
    p, e = s.profile_info["batches"], s.evaluation_info["batches"]
    assert p == [0, 4] and e == [4, 9]                       # disjoint, in time order, together the whole trace
    assert s.profile_info["lookups"] + s.evaluation_info["lookups"] == trace.n_indices
    bounds = trace.batch_bounds()
    np.testing.assert_array_equal(s.evaluation.indices, trace.indices[bounds[4]:])
    np.testing.assert_array_equal(s.profile.lengths, trace.lengths[:4])


def test_in_sample_and_file_profiles(model, trace):
    s = split(trace, IN_SAMPLE)
    assert s.profile is trace and s.evaluation is trace and s.profile_info["kind"] == IN_SAMPLE
    other = generate_trace(model, batches=3, batch_size=8, seed=2)
    f = split(trace, other)
    assert f.kind == "file" and f.evaluation is trace and f.profile_info["batches"] == [0, 3]
    wrong = generate_trace(model.with_tables(model.tables[:1]), batches=2, batch_size=8, seed=2)
    with pytest.raises(InputError, match="same tables"):
        split(trace, wrong)


def test_batch_range_reader_equals_the_slice(tmp_path, trace):
    folder = save_trace(trace, tmp_path / "t.trace", batches_per_chunk=2)
    for b0, b1 in ((0, 4), (4, 9), (3, 6), (8, 9)):
        r = BatchRangeReader(open_trace(folder), b0, b1)
        want = trace.batch_slice(b0, b1)
        got = r.load()
        assert r.n_batches == b1 - b0 and r.n_indices == want.n_indices
        np.testing.assert_array_equal(got.lengths, want.lengths)
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(r.lookups_per_table(), want.lookups_per_table())
    with pytest.raises(InputError):
        BatchRangeReader(open_trace(folder), 5, 5)


def test_a_range_is_counted_from_the_lengths_alone(tmp_path, trace, monkeypatch):
    """Opening a range of a chunked store reads no indices (an extra pass over a streamed trace, before)."""
    from embsim.workloads.store import ChunkedTraceReader, MemoryTraceReader
    folder = save_trace(trace, tmp_path / "t.trace", batches_per_chunk=2)

    def no_chunk_reads(self, k, pool=None):
        raise AssertionError("a chunk's indices were read to count a range")
    monkeypatch.setattr(ChunkedTraceReader, "read_chunk", no_chunk_reads)
    for b0, b1 in ((0, 4), (3, 6), (8, 9)):
        want = trace.batch_slice(b0, b1).lookups_per_table()
        for reader in (open_trace(folder), MemoryTraceReader(trace)):
            r = BatchRangeReader(reader, b0, b1)
            np.testing.assert_array_equal(r.lookups_per_table(), want)
            inner = BatchRangeReader(r, 1, r.n_batches) if r.n_batches > 1 else None   # a range of a range
            if inner is not None:
                np.testing.assert_array_equal(inner.lookups_per_table(),
                                              trace.batch_slice(b0 + 1, b1).lookups_per_table())
