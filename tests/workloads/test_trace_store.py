"""The chunked trace store: same trace as the one-file .npz, checked chunks, and no half-written traces."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embsim.errors import InputError
from embsim.sim.replay import CacheLevel, Location, replay, replay_trace
from embsim.workloads.generators import generate_trace, write_generated_trace
from embsim.workloads.stats import hot_order, trace_stats
from embsim.workloads.store import (ChunkedTraceWriter, open_trace, open_trace_writer, read_trace, save_trace)
from embsim.workloads.trace import Trace, load_trace


@pytest.fixture(scope="module")
def trace():
    return generate_trace("rm1", 13, 32, seed=3)


@pytest.fixture
def both(tmp_path, trace):
    """The same trace as a .npz and as a .trace of 4-batch chunks."""
    npz = save_trace(trace, tmp_path / "t.npz")
    folder = save_trace(trace, tmp_path / "t.trace", batches_per_chunk=4)
    return npz, folder


def test_round_trip_is_exact(both, trace):
    npz, folder = both
    r = open_trace(folder)
    assert r.n_chunks == 4 and [c.trace.n_batches for c in r.chunks()] == [4, 4, 4, 1]
    for back in (load_trace(npz), load_trace(folder), read_trace(folder)):
        np.testing.assert_array_equal(back.lengths, trace.lengths)
        np.testing.assert_array_equal(back.indices, trace.indices)
        np.testing.assert_array_equal(back.table_rows, trace.table_rows)
        assert back.table_names == trace.table_names and back.meta == trace.meta
    np.testing.assert_array_equal(r.lookups_per_table(), trace.lookups_per_table())
    # chunks are whole batches, in order, and start where the manifest says
    bounds = trace.batch_bounds()
    for c in r.chunks():
        assert c.first_index == bounds[c.first_batch]
        np.testing.assert_array_equal(c.trace.indices, trace.indices[bounds[c.first_batch]:
                                                                      bounds[c.first_batch + c.trace.n_batches]])


def test_chunks_are_plain_npy(both, trace):
    _, folder = both
    m = json.loads((folder / "manifest.json").read_text())
    first = np.load(folder / m["chunks"][0]["files"]["indices"]["name"], mmap_mode="r")
    assert isinstance(first, np.memmap)
    np.testing.assert_array_equal(first, trace.indices[:first.size])


def test_stats_and_hot_order_identical(both):
    npz, folder = both
    a, b = trace_stats(npz), trace_stats(folder)
    a.source = b.source = "x"
    assert a.to_dict(max_breakpoints=10_000) == b.to_dict(max_breakpoints=10_000)
    for x, y in zip(hot_order(npz), hot_order(folder)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("policy", ["lru", "lfu"])
def test_replay_counters_identical(both, trace, policy):
    npz, folder = both
    locs = [Location("host", "dram", 64, [CacheLevel("llc", policy, 5000, 64)])]
    whole = replay(trace.global_ids(), trace.batch_bounds(), np.full(trace.n_tables, 128.0), trace.row_offsets,
                   locs, total_rows=trace.total_rows)
    for src in (npz, folder):
        got = replay_trace(src, locs, row_bytes=128.0)
        for k in ("lookups", "unique_rows", "hits", "misses", "bytes", "table_lookups", "table_hits"):
            np.testing.assert_array_equal(getattr(got, k), getattr(whole, k), err_msg=k)


def test_generated_chunked_equals_in_memory(tmp_path):
    mem = generate_trace("rm1", 9, 16, generator="stackdist", seed=5)
    r = write_generated_trace(tmp_path / "g.trace", "rm1", 9, 16, generator="stackdist", seed=5, batches_per_chunk=2)
    back = r.load()
    np.testing.assert_array_equal(back.indices, mem.indices)
    np.testing.assert_array_equal(back.lengths, mem.lengths)
    assert back.meta == mem.meta


def test_timestamps_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    lengths = np.ones((5, 2, 3), dtype=np.int32)
    tr = Trace(lengths=lengths, indices=rng.integers(0, 7, 30), table_rows=[7, 9],
               timestamps_s=np.arange(15.0).reshape(5, 3), meta={"source": "log"})
    back = read_trace(save_trace(tr, tmp_path / "ts.trace", batches_per_chunk=2))
    np.testing.assert_array_equal(back.timestamps_s, tr.timestamps_s)


def _flip_byte(path, offset_from_end=3):
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0x55
    path.write_bytes(bytes(data))


def test_bad_checksum_is_one_line(both):
    _, folder = both
    m = json.loads((folder / "manifest.json").read_text())
    bad = folder / m["chunks"][2]["files"]["indices"]["name"]
    _flip_byte(bad)
    with pytest.raises(InputError, match=r"CRC-32 .* the manifest says .*damaged") as e:
        trace_stats(folder)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("edit, fragment", [
    (lambda m: m["chunks"][1].__setitem__("lookups", m["chunks"][1]["lookups"] + 1), "chunks[2]: starts at"),
    (lambda m: m.__setitem__("batches", m["batches"] + 1), "the chunks hold 13 batches"),
    (lambda m: m["chunks"][0].__setitem__("batches", 3), "expected 4 batches per chunk"),
    (lambda m: m["chunks"][0]["files"]["indices"].__setitem__("bytes", 8), "bytes; the manifest says 8"),
    (lambda m: m.__setitem__("tables", 3), "table_rows: expected a list of 3"),
])
def test_manifest_disagreeing_with_chunks_is_one_line(both, edit, fragment):
    _, folder = both
    mp = folder / "manifest.json"
    m = json.loads(mp.read_text())
    edit(m)
    mp.write_text(json.dumps(m))
    with pytest.raises(InputError, match=None) as e:
        for _ in open_trace(folder).chunks():
            pass
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_lengths_disagreeing_with_manifest(both, trace):
    """A chunk rewritten with other (valid) contents and its CRC updated still disagrees in shape/lookups."""
    _, folder = both
    mp = folder / "manifest.json"
    m = json.loads(mp.read_text())
    f = m["chunks"][0]["files"]["indices"]
    np.save(folder / f["name"], trace.indices[:10])
    from embsim.workloads.store import _file_crc32
    f["bytes"], f["crc32"] = (folder / f["name"]).stat().st_size, _file_crc32(folder / f["name"])
    mp.write_text(json.dumps(m))
    with pytest.raises(InputError, match="10 lookups, lengths add up to"):
        next(open_trace(folder).chunks())


def test_missing_chunk_file(both):
    _, folder = both
    next(folder.glob("chunk-000001.indices.npy")).unlink()
    with pytest.raises(InputError, match="missing; the manifest lists it"):
        read_trace(folder)


def test_interrupted_write_leaves_nothing_readable(tmp_path, trace):
    out = tmp_path / "x.trace"
    with pytest.raises(RuntimeError):
        with ChunkedTraceWriter(out, trace.table_rows, trace.table_names, trace.batch_size, batches_per_chunk=2) as w:
            w.append(trace.lengths[:5], trace.indices[:int(trace.batch_bounds()[5])])
            raise RuntimeError("killed")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_killed_writer_leaves_no_trace(tmp_path):
    """SIGKILL in the middle of a chunked write: the target does not exist, the hidden part has no manifest."""
    out = tmp_path / "k.trace"
    code = textwrap.dedent(f"""
        import sys, numpy as np
        from embsim.workloads.store import ChunkedTraceWriter
        w = ChunkedTraceWriter({str(out)!r}, [100], batch_size=4, batches_per_chunk=1)
        for b in range(3):
            w.append(np.ones((1, 1, 4), np.int32), np.arange(4) + b)
        print("written", flush=True)
        sys.stdin.read()
        w.close()
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert p.stdout.readline().strip() == b"written"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not out.exists()
    parts = list(tmp_path.iterdir())
    assert len(parts) == 1 and parts[0].name.startswith(".k.trace.") and any(parts[0].glob("chunk-*"))
    with pytest.raises(InputError, match="without manifest.json"):
        open_trace(parts[0])


def test_existing_output_needs_force(tmp_path, trace):
    out = save_trace(trace, tmp_path / "t.trace")
    with pytest.raises(InputError, match="already exists"):
        save_trace(trace, out)
    half = trace.batch_slice(0, 6)
    save_trace(half, out, force=True)
    assert read_trace(out).n_batches == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.trace"]


@pytest.mark.parametrize("name", ["t.txt", "t"])
def test_output_suffix(tmp_path, trace, name):
    with pytest.raises(InputError, match=r"end in \.npz .* or \.trace"):
        open_trace_writer(tmp_path / name, trace.table_rows)


def test_writer_checks_blocks(tmp_path):
    with ChunkedTraceWriter(tmp_path / "w.trace", [5, 6], batch_size=2) as w:
        with pytest.raises(InputError, match="lengths add up to 4 lookups but 3 indices"):
            w.append(np.ones((1, 2, 2), np.int32), [0, 1, 2])
        with pytest.raises(InputError, match=r"lengths shape \(1, 3, 2\)"):
            w.append(np.ones((1, 3, 2), np.int32), np.zeros(6))
        w.abort()


def test_out_of_range_index_in_a_chunk(tmp_path):
    tr = Trace(lengths=np.ones((4, 1, 2), np.int32), indices=[0, 1, 2, 3, 4, 9, 5, 6], table_rows=[7])
    folder = save_trace(tr, tmp_path / "bad.trace", batches_per_chunk=2)
    with pytest.raises(InputError, match=r"indices\[1\] = 9 is outside table 0"):
        read_trace(folder)


def test_cli_gen_stats_replay_on_both_formats(run_cli, tmp_path):
    """`trace gen -o T.trace` and `-o T.npz` make the same trace; stats and replay print the same figures."""
    out = {}
    for name in ("g.npz", "g.trace"):
        path = str(tmp_path / name)
        r = run_cli("trace", "gen", "--model", "rm1", "--batches", "5", "--batch-size", "16", "--generator", "zipf",
                    "-o", path)
        assert r.code == 0, r
        s = run_cli("trace", "stats", path, "--json")
        p = run_cli("replay", path, "--cache-rows", "2000", "--policy", "lru", "--json")
        assert s.code == 0 and p.code == 0, (s, p)
        stats, rep = json.loads(s.out), json.loads(p.out)
        stats.pop("source"), rep.pop("trace")
        out[name] = (stats, rep)
    assert out["g.npz"] == out["g.trace"]


def test_cli_damaged_chunk_exits_2(run_cli, tmp_path, trace):
    folder = save_trace(trace, tmp_path / "t.trace", batches_per_chunk=4)
    _flip_byte(next(folder.glob("chunk-000001.indices.npy")))
    for args in (("trace", "stats", str(folder)), ("replay", str(folder), "--cache-rows", "10", "--policy", "lru")):
        r = run_cli(*args)
        assert r.code == 2 and "CRC-32" in r.err and len(r.err.strip().splitlines()) == 1, r
