"""``embsim replay``: output contract, agreement with the reference, and bad input."""
import json

import numpy as np
import pytest

from conftest import assert_input_error
from embsim.sim.reference import reference_replay
from embsim.sim.replay import CacheLevel, Location
from embsim.workloads.trace import Trace


def make_trace(tmp_path, rng, batches=6, batch_size=16, table_rows=(50, 200, 7), name="t.npz"):
    T = len(table_rows)
    lengths = rng.integers(0, 4, (batches, T, batch_size)).astype(np.int32)
    idx = []
    for b in range(batches):
        for t in range(T):
            n = int(lengths[b, t].sum())
            idx.append(rng.zipf(1.4, n) % table_rows[t])
    tr = Trace(lengths=lengths, indices=np.concatenate(idx), table_rows=np.array(table_rows),
               table_names=[f"tab{t}" for t in range(T)])
    path = tmp_path / name
    tr.save(path)
    return tr, path


@pytest.mark.parametrize("policy", ["lru", "lfu", "static", "none"])
def test_json_matches_reference(run_cli, tmp_path, rng, policy):
    tr, path = make_trace(tmp_path, rng)
    r = run_cli("replay", path, "--cache-rows", 20, "--policy", policy, "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    gids = tr.global_ids()
    pinned = None
    if policy == "static":
        counts = np.bincount(gids, minlength=tr.total_rows)
        pinned = np.argsort(-counts, kind="stable")[:20]        # ties to the lower id
        pinned = pinned[counts[pinned] > 0]
    loc = Location("h", "m", 1, [CacheLevel("c", policy, 20, 1, pinned)])
    ref = reference_replay(gids, tr.batch_bounds(), np.ones(3), tr.row_offsets, [loc], total_rows=tr.total_rows)
    assert d["accesses"] == tr.n_indices == d["hits"] + d["misses"]
    assert d["hits"] == int(ref.hits[:, 0, 0].sum())
    assert d["hit_rate"] == pytest.approx(d["hits"] / d["accesses"])
    assert set(d["per_table"]) == {"tab0", "tab1", "tab2"}
    for t, name in enumerate(tr.table_names):
        pt = d["per_table"][name]
        assert pt["accesses"] == int(tr.lookups_per_table()[t])
        assert pt["hits"] == int(ref.table_hits[t, 0, 0])
        assert pt["hits"] + pt["misses"] == pt["accesses"]
    assert sum(p["hits"] for p in d["per_table"].values()) == d["hits"]
    if policy == "none":
        assert d["hits"] == 0


def test_static_oracle_beats_small_lru_and_bytes(run_cli, tmp_path, rng):
    tr, path = make_trace(tmp_path, rng, batches=10)
    res = {p: json.loads(run_cli("replay", path, "--cache-rows", 10, "--policy", p, "--json",
                                 "--row-bytes", 256).out) for p in ("static", "none")}
    assert res["static"]["hits"] > 0
    assert res["none"]["miss_bytes"] == res["none"]["accesses"] * 256
    s = res["static"]
    assert s["hit_bytes"] + s["miss_bytes"] == s["accesses"] * 256


def test_text_output(run_cli, tmp_path, rng):
    _, path = make_trace(tmp_path, rng)
    r = run_cli("replay", path, "--cache-rows", 5, "--policy", "lru")
    assert r.code == 0, r
    assert "hit rate" in r.out and "tab1" in r.out
    assert r.err == ""   # no progress bar when not on a terminal


def test_bad_input(run_cli, tmp_path, rng):
    _, path = make_trace(tmp_path, rng)
    assert_input_error(run_cli("replay", tmp_path / "missing.npz", "--cache-rows", 5, "--policy", "lru"),
                       "missing.npz")
    assert_input_error(run_cli("replay", path, "--cache-rows", -1, "--policy", "lru"), "--cache-rows")
    assert_input_error(run_cli("replay", path, "--cache-rows", 5, "--policy", "fifo"), "fifo", "lru")
    assert_input_error(run_cli("replay", path, "--cache-rows", 5, "--policy", "lru", "--row-bytes", 0),
                       "--row-bytes")
    assert_input_error(run_cli("replay", path, "--policy", "lru"), "cache-rows")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    assert_input_error(run_cli("replay", junk, "--cache-rows", 5, "--policy", "lru"), "junk.npz")
    bad = Trace(lengths=np.ones((1, 1, 2), np.int32), indices=np.array([0, 9]), table_rows=np.array([5]))
    np.savez(tmp_path / "bad.npz", lengths=bad.lengths, indices=bad.indices, table_rows=bad.table_rows)
    assert_input_error(run_cli("replay", tmp_path / "bad.npz", "--cache-rows", 5, "--policy", "lru"),
                       "bad.npz", "indices")
