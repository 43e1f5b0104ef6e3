"""Reading one file of a chunked trace: straight from the disk into a reused buffer, CRC-32 and header checked.

A streamed replay reads every byte of a trace once, and a trace larger than
memory is not in the page cache, so how a chunk file is read decides what
streaming costs next to a replay from memory.  Measured on the 2-core
development VM (8 chunk files of 64 MiB, evicted from the page cache with
``posix_fadvise(DONTNEED)`` first, CRC-32 included, machine at a load of 7-8;
``bench/trace_scale.py`` measures the effect on the replay):

================================  ==============  =====================
how                               wall            CPU per lookup (8 B)
================================  ==============  =====================
``np.memmap``, CRC touches pages  150-800 MB/s    1.3-7.1 ns
buffered ``readinto`` new array   250-650 MB/s    2.3-4.5 ns
``O_DIRECT`` into reused buffer   1000-1400 MB/s  0.44-0.57 ns
================================  ==============  =====================

(The replay kernel itself takes about 22 ns per lookup.)  So a chunk file is
read with ``O_DIRECT`` (the device writes into our buffer: no page-cache
copy, no page faults, no cold page cache for the kernel to reclaim) into a
page-aligned buffer of a :class:`BufferPool`, which hands a buffer out again
once nothing views it (numpy views hold their owner, so the owner's
reference count says so): a fresh 64 MiB buffer costs 16,384 page faults and
zeroing, a reused one nothing.  Where the file system refuses ``O_DIRECT``
(tmpfs, some network file systems) the same buffer is filled by a plain
read.  ``O_DIRECT`` reads what the device holds after the kernel wrote back
any dirty pages of the file, so a trace just written reads the same.
"""
import errno
import io
import os
import sys
import threading
import zlib

import numpy as np

from ..errors import InputError

try:   # the same CRC-32 as zlib's, about 7x faster (ISA-L; pip install 'embsim[fast]')
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - depends on the environment
    _crc32 = zlib.crc32

#: alignment of O_DIRECT buffers, offsets and lengths (4 KiB: a multiple of any disk's logical block)
DIRECT_ALIGN_B = 4096
#: buffers a pool keeps (a chunk has 2-3 files; the consumer's, the queued and the reading chunks are alive)
POOL_BUFFERS = 12
#: bytes the CRC-32 covers per call (ISA-L holds the GIL for a call: a few ms at most)
CRC_PIECE_B = 8 << 20
_O_DIRECT = getattr(os, "O_DIRECT", 0)


def crc32(data, value: int = 0) -> int:
    """zlib's CRC-32 of ``data`` (bytes or a byte array), continued from ``value``, in pieces."""
    mv = memoryview(data).cast("B")
    for k in range(0, mv.nbytes, CRC_PIECE_B):
        value = _crc32(mv[k:k + CRC_PIECE_B], value)
    return value


def _round_up(n: int, a: int = DIRECT_ALIGN_B) -> int:
    return -(-int(n) // a) * a


def _aligned(raw: np.ndarray, nbytes: int) -> np.ndarray:
    """The ``nbytes`` of ``raw`` starting at its first page-aligned byte (a view: it holds ``raw``)."""
    off = (-raw.ctypes.data) % DIRECT_ALIGN_B
    return raw[off:off + nbytes]


class BufferPool:
    """Page-aligned byte buffers, each handed out again once no array views it (thread-safe)."""

    def __init__(self, keep: int = POOL_BUFFERS):
        self.keep, self._lock = int(keep), threading.Lock()
        self._owners: list = []

    def get(self, nbytes: int) -> np.ndarray:
        """A page-aligned uint8 buffer of ``nbytes`` rounded up to whole pages."""
        need = _round_up(nbytes)
        with self._lock:
            for raw in self._owners:
                # free: referenced by the list, this loop and getrefcount's argument only
                if need + DIRECT_ALIGN_B <= raw.size <= 2 * (need + DIRECT_ALIGN_B) and sys.getrefcount(raw) == 3:
                    return _aligned(raw, need)
            raw = np.empty(need + DIRECT_ALIGN_B, dtype=np.uint8)
            if len(self._owners) < self.keep:
                self._owners.append(raw)
            return _aligned(raw, need)


def _fill(fpath, buf: np.ndarray, size: int, direct: bool) -> int:
    """Read up to ``size`` bytes of ``fpath`` into ``buf``; bytes read."""
    fd = os.open(fpath, os.O_RDONLY | (_O_DIRECT if direct else 0))
    got, mv = 0, memoryview(buf)  # type: ignore[arg-type]  # numpy arrays export the buffer protocol
    with open(fd, "rb", buffering=0) as f:
        while got < size:
            n = f.readinto(mv[got:])       # O_DIRECT: got stays page-aligned until the end of the file
            if not n:
                break
            got += n
    return got


def read_file(fpath, size: int, pool=None) -> np.ndarray:
    """The ``size`` bytes of ``fpath`` in a page-aligned buffer (O_DIRECT where the file system allows)."""
    buf = pool.get(size) if pool is not None else _aligned(np.empty(_round_up(size) + DIRECT_ALIGN_B, np.uint8),
                                                          _round_up(size))
    try:
        got = _fill(fpath, buf, size, direct=bool(_O_DIRECT))
    except OSError as e:
        if e.errno != errno.EINVAL or not _O_DIRECT:
            raise
        got = _fill(fpath, buf, size, direct=False)     # O_DIRECT refused here: a plain read
    return buf[:got]


def read_checked(fpath, entry: dict, dtype, pool=None) -> np.ndarray:
    """The array of one ``.npy`` chunk file; InputError if its size, CRC-32 or dtype disagrees with ``entry``.

    ``entry``: the manifest's {name, bytes, crc32} of the file.  The array
    is a view of a buffer of ``pool`` (reused once the array is dropped).
    """
    try:
        size = fpath.stat().st_size
    except OSError:
        raise InputError(f"{fpath}: missing; the manifest lists it (the trace folder is incomplete)") from None
    if size != entry["bytes"]:
        raise InputError(f"{fpath}: {size} bytes; the manifest says {entry['bytes']} (truncated or replaced chunk)")
    try:
        data = read_file(fpath, size, pool)
        head = io.BytesIO(data[:min(data.size, 1 << 16)].tobytes())
        version = np.lib.format.read_magic(head)
        shape, fortran, dt = (np.lib.format.read_array_header_1_0(head) if version == (1, 0)
                              else np.lib.format.read_array_header_2_0(head))
        offset, nbytes = head.tell(), int(np.prod(shape)) * dt.itemsize
        if data.size != size or offset + nbytes != size:
            raise ValueError(f"{data.size} bytes read, header {offset} + data {nbytes} bytes, file {size}")
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{fpath}: not a readable .npy chunk ({e.__class__.__name__}: {e})") from None
    crc = crc32(data)
    if crc != entry["crc32"]:
        raise InputError(f"{fpath}: CRC-32 {crc:08x}, the manifest says {entry['crc32']:08x}; the chunk is damaged")
    if dt != dtype or fortran:
        raise InputError(f"{fpath}: dtype {dt}{' (Fortran order)' if fortran else ''}; expected {dtype} in C order")
    if nbytes == 0:
        return np.zeros(shape, dtype=dt)
    return data[offset:].view(dt).reshape(shape)
