"""Reading chunk files: reused buffers never overwrite a chunk still held, O_DIRECT or not, same bytes and CRC."""
import zlib
from pathlib import Path

import numpy as np
import pytest

from embsim.errors import InputError
from embsim.workloads import chunk_io
from embsim.workloads.chunk_io import DIRECT_ALIGN_B, BufferPool, crc32, read_checked
from embsim.workloads.generators import generate_trace
from embsim.workloads.store import open_trace, save_trace


def _entry(path):
    data = Path(path).read_bytes()
    return {"name": Path(path).name, "bytes": len(data), "crc32": zlib.crc32(data)}


def test_crc_in_pieces_is_zlibs(monkeypatch):
    data = np.random.default_rng(0).integers(0, 256, 3 * 1024 * 1024 + 17, dtype=np.uint8)
    monkeypatch.setattr(chunk_io, "CRC_PIECE_B", 1 << 20)
    assert crc32(data) == zlib.crc32(data.tobytes())
    assert crc32(data[:0]) == 0


def test_pool_reuses_a_buffer_only_when_nothing_views_it():
    pool = BufferPool(keep=4)
    a = pool.get(10_000)
    assert a.ctypes.data % DIRECT_ALIGN_B == 0 and a.size == 12_288
    addr = a.ctypes.data
    held = a[128:].view(np.int64)
    del a
    b = pool.get(10_000)                     # the first buffer is still viewed: another one
    baddr = b.ctypes.data
    assert baddr != addr
    del held, b
    c = pool.get(10_000)                     # both free now: one of them again, no new buffer
    assert c.ctypes.data in (addr, baddr)
    assert pool.get(10_000).ctypes.data in (addr, baddr) and pool.get(100).size == DIRECT_ALIGN_B


@pytest.mark.parametrize("direct", [True, False])
def test_read_checked_gives_the_files_array(tmp_path, monkeypatch, direct):
    if not direct:
        monkeypatch.setattr(chunk_io, "_O_DIRECT", 0)
    for arr in (np.arange(123_457, dtype=np.int64), np.zeros(0, dtype=np.int64),
                np.arange(24, dtype=np.int32).reshape(2, 3, 4)):
        f = tmp_path / "x.npy"
        np.save(f, arr)
        got = read_checked(f, _entry(f), arr.dtype, BufferPool())
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)


def test_read_checked_refuses_a_wrong_crc_dtype_or_size(tmp_path):
    f = tmp_path / "x.npy"
    np.save(f, np.arange(1000, dtype=np.int64))
    e = _entry(f)
    with pytest.raises(InputError, match="CRC-32"):
        read_checked(f, {**e, "crc32": e["crc32"] ^ 1}, np.dtype(np.int64))
    with pytest.raises(InputError, match="dtype"):
        read_checked(f, e, np.dtype(np.int32))
    with pytest.raises(InputError, match="bytes"):
        read_checked(f, {**e, "bytes": e["bytes"] + 1}, np.dtype(np.int64))
    f.write_bytes(f.read_bytes()[:-8])
    with pytest.raises(InputError, match="not a readable"):
        read_checked(f, {**e, "bytes": e["bytes"] - 8}, np.dtype(np.int64))


def test_chunks_kept_by_the_consumer_stay_intact(tmp_path):
    """A consumer keeping every chunk (buffers cannot be reused) and one dropping each see the same trace."""
    tr = generate_trace("rm1", 24, 16, seed=5)
    folder = save_trace(tr, tmp_path / "t.trace", batches_per_chunk=2)
    kept = list(open_trace(folder).chunks())
    assert len(kept) == 12
    bounds = tr.batch_bounds()
    for c in kept:
        np.testing.assert_array_equal(c.trace.indices, tr.indices[bounds[c.first_batch]:
                                                                   bounds[c.first_batch + c.trace.n_batches]])
    total = sum(int(c.trace.indices.sum()) for c in open_trace(folder).chunks())
    assert total == int(tr.indices.sum())


def test_a_file_system_refusing_o_direct_reads_the_same(tmp_path, monkeypatch):
    """Where O_DIRECT reads fail with EINVAL (some file systems), the reader falls back to a plain read."""
    import errno
    tr = generate_trace("rm1", 6, 16, seed=6)
    folder = save_trace(tr, tmp_path / "t.trace", batches_per_chunk=2)
    fill, tried = chunk_io._fill, []

    def no_direct(fpath, buf, size, direct):
        tried.append(direct)
        if direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return fill(fpath, buf, size, direct)

    monkeypatch.setattr(chunk_io, "_fill", no_direct)
    back = open_trace(folder).load()
    np.testing.assert_array_equal(back.indices, tr.indices)
    np.testing.assert_array_equal(back.lengths, tr.lengths)
    assert True in tried and False in tried
