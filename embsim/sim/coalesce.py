"""Coalescing: the distinct access units a batch reads, given where each row sits in its tier.

Real memories move whole units: a 64 B DDR line, a 32 B HBM sector, a 512 B
Ascend DMA burst, a 4 KiB flash sector in a 16 KiB flash page.  Rows smaller
than a unit share it, so how many units a batch reads depends on which rows
it reads *and* where they sit (the layout, :mod:`embsim.workloads.row_layout`).

Model (what the counters mean)
------------------------------
* **Addresses.** Inside a location (a tier of a device), each row has a byte
  address and a length.  :func:`row_addresses` packs the rows of one shard in
  layout order: a row no larger than the tier's access granularity ``g``
  never straddles a ``g`` unit (``floor(g / row)`` rows per unit, the rest of
  the unit is padding, as SCRec's flash packing and an aligned DMA buffer
  do); a larger row starts on a unit boundary and takes
  ``ceil(row / g)`` units.  So with one row per unit a lookup costs exactly
  the ``ceil(row / g)`` units the per-row counters charge.
* **Units.** A location may count several unit sizes (flash: the 4 KiB
  sector the channel moves and the 16 KiB page the die senses); each is a
  multiple of ``g``, so a small row never straddles one either.  A row
  touches the units ``floor(a / S) .. floor((a + len - 1) / S)``.
* **A batch reads a unit once.**  Over the lookups of one batch that reach
  the backing tier (a lookup a cache above the tier served does not), the
  count at size ``S`` is the number of distinct size-``S`` units touched, as
  a page buffer or a DMA engine that merges requests of one batch reads it.
  Caches above the tier hold rows in slots of their own, not in layout
  order, so they are not coalesced (their per-row counters stand).

:class:`UnitCounter` (and :func:`count_units`, one call) runs the Cython kernel ``_coalesce.count_units``;
:func:`reference_units` is the pure-Python specification the tests compare
it with.  Units: bytes for addresses and sizes, counts for units.
"""
from typing import Optional, Sequence

import numpy as np

from ..errors import InputError
from . import _coalesce  # type: ignore[attr-defined]  # compiled (Cython), no stub


def row_addresses(positions: np.ndarray, row_bytes: float, granularity_B: int, base_B: int = 0):
    """(address_B, length_B), int64 per row: rows at ``positions`` (0, 1, ...) packed from ``base_B``.

    ``row_bytes`` may be fractional (a tensor-train row); the row occupies
    ``ceil(row_bytes)`` bytes.  See the module docstring for the packing rule.
    """
    g = int(granularity_B)
    if g <= 0:
        raise InputError(f"coalesce: granularity_B = {granularity_B!r}: expected a positive number of bytes")
    length = int(np.ceil(row_bytes - 1e-9))
    if length <= 0:
        raise InputError(f"coalesce: row_bytes = {row_bytes!r}: expected a positive number of bytes")
    pos = np.asarray(positions, dtype=np.int64)
    if length <= g:
        per_unit = g // length
        addr = (pos // per_unit) * g + (pos % per_unit) * length
    else:
        addr = pos * (-(-length // g) * g)
    return addr + int(base_B), np.full(pos.shape, length, dtype=np.int64)


def shard_bytes(n_rows: int, row_bytes: float, granularity_B: int) -> int:
    """Bytes ``n_rows`` rows packed by :func:`row_addresses` span (whole units)."""
    g = int(granularity_B)
    length = int(np.ceil(row_bytes - 1e-9))
    if length <= g:
        return -(-int(n_rows) // (g // length)) * g
    return int(n_rows) * (-(-length // g) * g)


def _check_sizes(unit_sizes_B):
    for li, sizes in enumerate(unit_sizes_B):
        if not sizes:
            raise InputError(f"coalesce: unit_sizes_B[{li}]: empty; expected at least the tier's granularity")
        for s in sizes:
            if not isinstance(s, (int, np.integer)) or s <= 0:
                raise InputError(f"coalesce: unit_sizes_B[{li}]: {s!r}: expected a positive integer of bytes")
            if s % sizes[0]:
                raise InputError(f"coalesce: unit_sizes_B[{li}]: {s} B is not a multiple of the granularity "
                                 f"{sizes[0]} B")


MAX_LOCATIONS = 1 << 15        # the kernel keeps a row's location in 16 bits


def _build(row_location, address_B, length_B, unit_sizes_B, first, word):
    """Check the rows and fill ``first`` and ``word``, int32 ``[rows, K]`` views of a unit map.

    ``row_location`` None: every row at location 0.  Returns (shared units, any exclusive).
    """
    _check_sizes(unit_sizes_B)
    addr = np.ascontiguousarray(address_B, dtype=np.int64)
    length = np.ascontiguousarray(length_B, dtype=np.int64)
    one_location = row_location is None
    loc = np.zeros(1, dtype=np.int32) if one_location else np.ascontiguousarray(row_location, dtype=np.int32)
    if addr.ndim != 1 or addr.shape != length.shape or (not one_location and loc.shape != addr.shape):
        raise InputError("coalesce: row_location, address_B and length_B: expected flat arrays of one length")
    L, K = len(unit_sizes_B), max(len(s) for s in unit_sizes_B)
    if L > MAX_LOCATIONS:
        raise InputError(f"coalesce: {L} locations; at most {MAX_LOCATIONS}")
    if not one_location and loc.size and (loc.min() < 0 or loc.max() >= L):
        raise InputError(f"coalesce: row_location: values {loc.min()}..{loc.max()} but {L} locations")
    one_location = one_location or L == 1      # every row at location 0: the kernel need not read it
    sizes = np.zeros((L, K), dtype=np.int64)
    for li, ss in enumerate(unit_sizes_B):
        sizes[li, :len(ss)] = ss
    n_sizes = np.array([len(ss) for ss in unit_sizes_B], dtype=np.int64)
    if one_location or addr.size < 2:
        in_order = addr.size < 2 or bool((addr[1:] > addr[:-1]).all())
    else:
        dl = np.diff(loc)
        in_order = bool((dl >= 0).all() and (np.diff(addr)[dl == 0] > 0).all())
    if in_order:
        order = np.zeros(1, dtype=np.int64)
    else:
        order = np.lexsort((addr, loc) if not one_location else (addr,)).astype(np.int64)
    shared, exclusive = _coalesce.build_unit_map(addr, length, loc, one_location, order, in_order, sizes,
                                                 n_sizes, first, word)
    _raise_for(-2 if shared >= 2 ** 31 else shared)
    return int(shared), bool(exclusive)


def unit_map(row_location: Optional[np.ndarray], address_B: np.ndarray, length_B: np.ndarray,
             unit_sizes_B: Sequence[Sequence[int]]):
    """(map int32 [rows, K, 2], shared units, any exclusive): the kernel's view of every row's units.

    ``unit_sizes_B[l]``: the unit sizes location ``l`` counts, its access
    granularity first; ``row_location`` None: every row at location 0.
    K is the most sizes any location counts.  Entry
    ``[g, k] = (first, span | location << 16)``: at a size where rows never
    share a unit ``first`` is ``-(span + 1)`` and the kernel counts the row's
    ``span`` units when the row is new in the batch; else ``first`` is the
    dense number of the row's first unit among all shared units and ``span``
    the units it touches.  A location with fewer sizes has span 0 there.
    """
    n_rows = np.shape(address_B)[0] if np.ndim(address_B) == 1 else 0
    out = np.empty((n_rows, max((len(s) for s in unit_sizes_B), default=1), 2), dtype=np.int32)
    shared, exclusive = _build(row_location, address_B, length_B, unit_sizes_B, out[:, :, 0], out[:, :, 1])
    return out, shared, exclusive


def ring_unit_ids(address_B: np.ndarray, length_B: np.ndarray, unit_sizes_B: Sequence[int], out: np.ndarray):
    """Fill ``out`` (int32 ``[rows, W]``), the LRU ring's row state: columns 0 and 1 with -1 (empty),
    column ``2 + k`` with the row's unit id at size ``unit_sizes_B[k]`` (rows at one location).

    An id is the first word of a :func:`unit_map` entry: ``-(span + 1)`` at a size where rows never
    share a unit, else the row's shared unit, numbered over all sizes together in one pass.  Returns
    the number of shared units, or None if a shared entry spans several units (rows larger than a
    unit, not aligned to it), which the ring does not count.
    """
    _check_sizes([unit_sizes_B])
    addr = np.ascontiguousarray(address_B, dtype=np.int64)
    length = np.ascontiguousarray(length_B, dtype=np.int64)
    if addr.ndim != 1 or addr.shape != length.shape or out.shape[0] != addr.shape[0]:
        raise InputError("coalesce: address_B and length_B: expected flat arrays of one length, one per row")
    in_order = addr.size < 2 or bool((addr[1:] > addr[:-1]).all())
    order = np.zeros(1, dtype=np.int64) if in_order else np.argsort(addr, kind="stable").astype(np.int64)
    shared = _coalesce.ring_unit_ids(addr, length, order, in_order, np.asarray(unit_sizes_B, dtype=np.int64),
                                     out)
    _raise_for(shared)
    if shared >= 2 ** 31:
        _raise_for(-2)
    return None if shared == -4 else int(shared)


def _raise_for(code):
    """The InputError of a negative code of the map kernels (-4, a wide shared entry, is the caller's)."""
    if code == -3:
        raise InputError("coalesce: address_B must be >= 0, length_B > 0 and their sum below 2^62 bytes for every row")
    if code == -1:
        raise InputError("coalesce: two rows of one location overlap in bytes; expected disjoint rows")
    if code == -2:
        raise InputError("coalesce: a row touches 65536 or more shared units, or there are 2^31 in all; "
                         "the kernel counts fewer")


class UnitCounter:
    """The unit map of a replay's rows and the stamps that persist while its stream is fed chunk by chunk."""

    def __init__(self, row_location: Optional[np.ndarray], address_B: np.ndarray, length_B: np.ndarray,
                 unit_sizes_B: Sequence[Sequence[int]]):
        self.umap, shared, self.any_exclusive = unit_map(row_location, address_B, length_B, unit_sizes_B)
        self.n_locations = len(unit_sizes_B)
        self.K = self.umap.shape[1]
        self.stamps = np.full(max(shared, 1), -1, dtype=np.int32)
        self.row_stamps = np.full(self.umap.shape[0] if self.any_exclusive else 1, -1, dtype=np.int32)

    def count(self, ids: np.ndarray, bounds: np.ndarray, first_batch: int,
              reach: Optional[np.ndarray] = None) -> np.ndarray:
        """Distinct units per (batch, location, size) of batches ``first_batch ..`` (``bounds``: their starts in ``ids``).

        ``reach``: per lookup, True if it reached the backing tier (None: every lookup did).
        Batches must come in increasing order over the calls.
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        bounds = np.ascontiguousarray(bounds, dtype=np.int64)
        use = reach is not None
        r = np.ascontiguousarray(reach if use else np.zeros(1), dtype=np.uint8)
        if use and r.shape != ids.shape:
            raise InputError(f"coalesce: reach: {r.size} entries for {ids.size} lookups")
        if first_batch + bounds.size - 1 >= 2 ** 31:
            raise InputError(f"coalesce: {first_batch + bounds.size - 1} batches; at most 2^31 - 1 are stamped")
        out = np.zeros((max(bounds.size - 1, 0), self.n_locations, self.K), dtype=np.int64)
        _coalesce.count_units(ids, bounds, self.umap, r, use, self.stamps, self.row_stamps,
                              int(first_batch), out, self.any_exclusive)
        return out


def count_units(ids, bounds, row_location, address_B, length_B, unit_sizes_B, reach=None) -> np.ndarray:
    """Distinct units read per (batch, location, size index), int64 ``[batches, locations, K]``, in one call.

    ``ids``, ``bounds``: row ids and batch starts; addresses as for
    :func:`unit_map`; ``reach``: per lookup, True if it reached the backing
    tier (None: every lookup did).
    """
    return UnitCounter(row_location, address_B, length_B, unit_sizes_B).count(ids, bounds, 0, reach)


def reference_units(ids, bounds, row_location, address_B, length_B, unit_sizes_B, reach=None):
    """Pure-Python :func:`count_units` from the addresses themselves: a set of (unit size, unit) per batch."""
    B = len(bounds) - 1
    K = max(len(s) for s in unit_sizes_B)
    out = np.zeros((B, len(unit_sizes_B), K), dtype=np.int64)
    for b in range(B):
        seen = set()
        for i in range(int(bounds[b]), int(bounds[b + 1])):
            if reach is not None and not reach[i]:
                continue
            g = int(ids[i])
            li = int(row_location[g])
            a, n = int(address_B[g]), int(length_B[g])
            for k, S in enumerate(unit_sizes_B[li]):
                for u in range(a // S, (a + n - 1) // S + 1):
                    if (li, k, u) not in seen:
                        seen.add((li, k, u))
                        out[b, li, k] += 1
    return out
