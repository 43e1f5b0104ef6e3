"""Sequence models: HSTU FLOPs against a hand count, length laws, sequence traces and their generator."""
import numpy as np
import pytest

from embsim.errors import InputError
from embsim.workloads._seqgen import zipf_rows, zipf_rows_into
from embsim.workloads.generators import _FastZipf, generate_trace
from embsim.workloads.model import TableSpec, load_model, model_from_dict
from embsim.workloads.sequence import HstuSpec, LengthSpec, attention_flops_per_batch
from embsim.workloads.zipf import ZipfSampler


def hand_count_layer(n, d, h, dqk, dv, causal):
    """FLOPs of one HSTU layer counted operation by operation over explicit loops (eqs. 1-3)."""
    flops = 0
    for _ in range(n):                          # f1: every position, every output column, d multiply-adds
        flops += 2 * d * h * (2 * dqk + 2 * dv)
    pairs = [(i, j) for i in range(n) for j in range(n) if (j <= i or not causal)]
    flops += len(pairs)                         # rab = rab_p + rab_t, once per pair (shared by heads)
    for _ in range(h):
        for _ in pairs:
            flops += 2 * dqk                    # q . k
            flops += 1 + 4 + 1                  # + rab, SiLU, 1/n
            flops += 2 * dv                     # score x v
    for _ in range(n):
        flops += h * dv * (5 + 1)               # layer norm and the gating by U
        flops += 2 * h * dv * d                 # f2
    return flops


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("causal", [True, False])
def test_layer_flops_match_a_hand_count(n, causal):
    spec = HstuSpec(layers=3, d_model=4, heads=2, d_qk=3, d_v=2, causal=causal)
    assert spec.layer_flops(n) == hand_count_layer(n, 4, 2, 3, 2, causal)
    lengths = [n, 1, 2 * n]
    want = 3 * sum(hand_count_layer(m, 4, 2, 3, 2, causal) for m in lengths)
    assert spec.flops(lengths) == pytest.approx(want, rel=1e-12)


def test_attention_grows_with_the_square_of_the_length():
    spec = load_model("hstu_large").sequence.hstu
    parts = spec.layer_flops_parts(np.array([1024.0, 2048.0]))
    assert parts["qk"][1] / parts["qk"][0] == pytest.approx(4.0, rel=1e-3)        # ~ n^2
    assert parts["f1_projection"][1] / parts["f1_projection"][0] == pytest.approx(2.0)   # ~ n
    # longer sequences: a larger share in the attention products
    share = (parts["qk"] + parts["av"]) / sum(parts.values())
    assert share[1] > share[0]


def test_length_law_bounds_mean_and_samples():
    ln = LengthSpec(kind="powerlaw", alpha=1.2, min_length=20, max_length=200)
    L, p = ln.pmf()
    assert L[0] == 20 and L[-1] == 200 and p.sum() == pytest.approx(1.0)
    assert np.all(np.diff(p) < 0)                     # a falling power law
    x = ln.sample(np.random.default_rng(0), 200_000)
    assert x.min() >= 20 and x.max() <= 200
    assert x.mean() == pytest.approx(ln.mean, rel=0.01)
    assert LengthSpec(kind="fixed", max_length=7).sample(np.random.default_rng(0), 5).tolist() == [7] * 5


def test_presets_load_with_their_sequence_part():
    for name in ("hstu_small", "hstu_large"):
        m = load_model(name)
        idx = m.sequence_table_indices()
        assert len(idx) == 2
        for t in idx:
            assert m.tables[t].pooling_dist == "sequence"
            assert m.tables[t].pooling == pytest.approx(m.sequence.length.mean)
            assert m.tables[t].dim == m.sequence.hstu.d_model
    assert load_model("hstu_large").sequence.max_length == 8192


def _seq_model(**seq):
    base = {"name": "s", "source": "test", "defaults": {"dim": 8},
            "tables": [{"name": "items", "rows": 1000}, {"name": "acts", "rows": 4},
                       {"name": "user", "rows": 50, "pooling": 1}],
            "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [1], "interaction": "cat"},
            "sequence": {"tables": ["items", "acts"], "length": {"kind": "powerlaw", "alpha": 1.0, "min": 1, "max": 64},
                         "hstu": {"layers": 2, "d_model": 8, "heads": 2, "d_qk": 4, "d_v": 4}}}
    base["sequence"].update(seq)
    return base


def test_sequence_section_errors_name_the_field():
    with pytest.raises(InputError, match=r"sequence.tables\[1\]: 'actz' is not a table"):
        model_from_dict(_seq_model(tables=["items", "actz"]), source="m.yaml")
    bad = _seq_model()
    bad["sequence"]["hstu"]["d_model"] = 16
    with pytest.raises(InputError, match="dim 8, but sequence.hstu.d_model is 16"):
        model_from_dict(bad, source="m.yaml")
    bad = _seq_model()
    bad["sequence"]["length"].update(min=100)
    with pytest.raises(InputError, match="min 100 > max 64"):
        model_from_dict(bad, source="m.yaml")


def test_sequence_trace_conserves_lookups_and_shares_lengths():
    m = model_from_dict(_seq_model(), source="m.yaml")
    tr = generate_trace(m, batches=6, batch_size=32, seed=3).validate()
    items, acts, user = tr.lengths[:, 0, :], tr.lengths[:, 1, :], tr.lengths[:, 2, :]
    assert np.array_equal(items, acts)                       # one history per sample, in every sequence table
    assert items.min() >= 1 and items.max() <= 64
    assert np.all(user == 1)
    assert tr.n_indices == int(items.sum()) * 2 + int(user.sum())   # sum of lengths = lookups
    assert tr.lookups_per_table().tolist() == [int(items.sum()), int(items.sum()), int(user.sum())]
    again = generate_trace(m, batches=6, batch_size=32, seed=3)
    assert np.array_equal(again.indices, tr.indices) and np.array_equal(again.lengths, tr.lengths)
    flops = attention_flops_per_batch(m, tr.lengths)
    assert flops.shape == (6,)
    assert flops[0] == pytest.approx(m.sequence.hstu.flops(items[0]))
    assert tr.meta["sequence"]["max_length"] == 64


@pytest.mark.parametrize("rows,alpha", [(100, 1.1), (9000, 0.8), (50_000, 1.0)])
def test_fast_zipf_draws_the_zipf_law(rows, alpha):
    rng = np.random.default_rng(5)
    z = _FastZipf(TableSpec("t", rows, 8), {"alpha": alpha}, rng)
    out = z(400_000, 0)
    assert out.min() >= 0 and out.max() < rows
    # back to ranks through the reference bijection, then compare with the exact pmf
    inv = np.empty(rows, dtype=np.int64)
    inv[z.permutation_reference(np.arange(rows)).astype(np.int64)] = np.arange(rows)
    ranks = inv[out]
    counts = np.bincount(ranks, minlength=rows) / out.size
    pmf = ZipfSampler(rows, alpha).pmf(np.arange(rows))
    head = 50
    assert 0.5 * np.abs(counts[:head] - pmf[:head]).sum() < 0.01
    assert counts[head:].sum() == pytest.approx(pmf[head:].sum(), abs=0.005)


@pytest.mark.parametrize("rows", [1, 2, 7, 64, 1000, 4097, 70_000])
def test_fast_zipf_kernel_rows_are_the_reference_bijection_of_its_ranks(rows):
    for mode in (1, 2):
        z = _FastZipf(TableSpec("t", rows, 8), {"alpha": 1.0}, np.random.default_rng(rows), mode=mode)
        perm = np.asarray(z.permutation_reference(np.arange(min(rows, 5000))), dtype=np.int64)
        if rows <= 5000:
            assert sorted(perm.tolist()) == list(range(rows))        # a bijection of 0..rows-1
        ranks, got = np.empty(20_000, dtype=np.int64), np.empty(20_000, dtype=np.int64)
        zipf_rows(ranks, 11, *z.kernel_args(0))
        zipf_rows(got, 11, *z.kernel_args())
        assert ranks.min() >= 0 and ranks.max() < rows
        assert np.array_equal(got, np.asarray(z.permutation_reference(ranks), dtype=np.int64))


def test_a_streamed_sequence_trace_is_the_in_memory_one(tmp_path, monkeypatch):
    """Written block by block into a chunked .trace, the histories are bit for bit generate_trace's,
    and the history lengths do not depend on how the batches are cut into blocks."""
    from embsim.workloads import generators
    from embsim.workloads.generators import write_generated_trace
    m = model_from_dict(_seq_model(), source="m.yaml")
    whole = generate_trace(m, batches=9, batch_size=16, seed=4)
    monkeypatch.setattr(generators, "CHUNK", 600)           # blocks of about one batch
    assert generators.TraceGenerator(m, 9, 16, seed=4).block_batches < 9
    mem = generate_trace(m, batches=9, batch_size=16, seed=4)
    back = write_generated_trace(tmp_path / "s.trace", m, 9, 16, seed=4, batches_per_chunk=2).load()
    assert np.array_equal(back.lengths, mem.lengths) and np.array_equal(back.indices, mem.indices)
    assert np.array_equal(mem.lengths, whole.lengths)


def test_zipf_rows_into_segments_equals_one_draw_cut_up():
    z = _FastZipf(TableSpec("t", 30_000, 8), {"alpha": 1.0}, np.random.default_rng(2))
    whole = np.empty(1000, dtype=np.int64)
    zipf_rows(whole, 7, *z.kernel_args())
    out = np.full(1700, -1, dtype=np.int64)
    starts, counts = np.array([0, 400, 900, 1200], dtype=np.int64), np.array([300, 0, 250, 450], dtype=np.int64)
    zipf_rows_into(out, starts, counts, 7, *z.kernel_args())
    got = np.concatenate([out[a:a + c] for a, c in zip(starts, counts)])
    assert np.array_equal(got, whole)
    assert (out[300:400] == -1).all() and (out[650:900] == -1).all()     # nothing outside the segments
    with pytest.raises(ValueError, match="outside"):
        zipf_rows_into(out, np.array([1600]), np.array([200]), 7, *z.kernel_args())


def test_a_generated_sequence_trace_fits_its_popularity_and_length_laws():
    """Chi-square tests of a whole generated trace: history lengths against the length law, the item
    table's ranks (rows mapped back through the stream's bijection) against its Zipf law."""
    from scipy import stats

    from embsim.workloads.generators import TraceGenerator
    d = _seq_model(length={"kind": "powerlaw", "alpha": 1.2, "min": 5, "max": 300})
    d["tables"][0].update(rows=30_000, access={"kind": "zipf", "alpha": 0.9})
    m = model_from_dict(d, source="m.yaml")
    tr = generate_trace(m, batches=40, batch_size=128, seed=8)
    L, p = m.sequence.length.pmf()
    got = np.bincount(tr.lengths[:, 0, :].ravel() - L[0], minlength=L.size)
    edges = np.unique(np.concatenate([np.arange(15), np.geomspace(15, L.size, 12).astype(int), [L.size]]))
    obs, exp = np.add.reduceat(got, edges[:-1]), np.add.reduceat(p, edges[:-1]) * got.sum()
    assert exp.min() > 50 and stats.chisquare(obs, exp).pvalue > 1e-3
    table_of_segment = np.tile(np.arange(tr.n_tables), tr.n_batches)
    items = tr.indices[np.repeat(table_of_segment == 0, tr.segment_lengths())]
    stream = TraceGenerator(m, 40, 128, seed=8)._streams()[1][0]
    inv = np.empty(30_000, dtype=np.int64)
    inv[np.asarray(stream.permutation_reference(np.arange(30_000)), dtype=np.int64)] = np.arange(30_000)
    counts = np.bincount(inv[items], minlength=30_000)
    pmf = ZipfSampler(30_000, 0.9).pmf(np.arange(30_000))
    edges = np.unique(np.concatenate([np.arange(100), np.geomspace(100, 30_000, 40).astype(int), [30_000]]))
    obs, exp = np.add.reduceat(counts, edges[:-1]), np.add.reduceat(pmf, edges[:-1])
    exp *= obs.sum() / exp.sum()
    assert exp.min() > 50 and stats.chisquare(obs, exp).pvalue > 1e-3
