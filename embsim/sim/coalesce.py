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

:func:`count_units` runs the Cython kernel ``_coalesce.count_units``;
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


def unit_map(row_location: np.ndarray, address_B: np.ndarray, length_B: np.ndarray,
             unit_sizes_B: Sequence[Sequence[int]]):
    """(map int64 [rows, K, 2], total units): each row's first global unit and span at every size.

    ``unit_sizes_B[l]``: the unit sizes location ``l`` counts, its access
    granularity first.  K is the most sizes any location counts; a location
    with fewer has span 0 at the missing sizes.  Each (location, size) owns
    the global unit range ``[base, base + ceil(end_B / size))``.
    """
    _check_sizes(unit_sizes_B)
    loc = np.asarray(row_location, dtype=np.int64)
    addr = np.asarray(address_B, dtype=np.int64)
    length = np.asarray(length_B, dtype=np.int64)
    if not (loc.shape == addr.shape == length.shape) or loc.ndim != 1:
        raise InputError("coalesce: row_location, address_B and length_B: expected flat arrays of one length")
    if addr.size and (addr.min() < 0 or length.min() <= 0):
        raise InputError("coalesce: address_B must be >= 0 and length_B > 0 for every row")
    L, K = len(unit_sizes_B), max(len(s) for s in unit_sizes_B)
    if loc.size and (loc.min() < 0 or loc.max() >= L):
        raise InputError(f"coalesce: row_location: values {loc.min()}..{loc.max()} but {L} locations")
    end = np.zeros(L, dtype=np.int64)
    if loc.size:
        np.maximum.at(end, loc, addr + length)
    out = np.zeros((loc.size, K, 2), dtype=np.int64)
    out[:, :, 0] = -1
    base = 0
    for li, sizes in enumerate(unit_sizes_B):
        mine = loc == li
        for k, S in enumerate(sizes):
            first = addr[mine] // S
            out[mine, k, 0] = base + first
            out[mine, k, 1] = (addr[mine] + length[mine] - 1) // S - first + 1
            base += -(-int(end[li]) // int(S))
    return out, base


def count_units(ids: np.ndarray, bounds: np.ndarray, row_location: np.ndarray, umap: np.ndarray,
                total_units: int, n_locations: int, reach: Optional[np.ndarray] = None) -> np.ndarray:
    """Distinct units read per (batch, location, size index), int64 ``[batches, locations, K]``.

    ``ids``, ``bounds``: the replay's row ids and batch starts; ``umap``,
    ``total_units`` from :func:`unit_map`; ``reach``: per lookup, True if it
    reached the backing tier (None: every lookup did).
    """
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    use = reach is not None
    r = np.ascontiguousarray(reach if use else np.zeros(1), dtype=np.uint8)
    if use and r.shape != ids.shape:
        raise InputError(f"coalesce: reach: {r.size} entries for {ids.size} lookups")
    return _coalesce.count_units(ids, np.ascontiguousarray(bounds, dtype=np.int64),
                                 np.ascontiguousarray(row_location, dtype=np.int32),
                                 np.ascontiguousarray(umap, dtype=np.int64), r, use,
                                 int(total_units), int(n_locations))


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
