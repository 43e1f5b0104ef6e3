"""What a row layout does to the planner's per-lookup cost: the expected units a batch reads.

When the simulator coalesces (``simulate --layout``), a tier's memory time
follows the distinct units (lines, sectors, bursts, pages) a batch reads, not
the lookups (:mod:`embsim.sim.coalesce`).  The planner prices a lookup in a
slot; this module gives the factor ``read_share`` = expected row reads the
memory serves per lookup (units read / units per row, over lookups), so the
MIP charges ``read_share x lookup_cost``.

Expected units of one table in one slot, from the profile's coverage curve
``C`` (share of accesses served by the hottest fraction of rows; rows on one
segment of slope ``s`` are each looked up with probability ``s / R`` per
lookup), ``n`` lookups per batch, ``R`` rows and ``m`` rows per cost unit
(Poisson approximation ``(1 - p)^n ~ exp(-n p)``):

* ``frequency`` (and ``coaccess``, priced as ``frequency`` here: co-access
  can only be seen in a trace, not in a coverage curve; given the profile
  trace, :mod:`.layout_units` counts every layout on it instead): units hold rows of
  consecutive hot ranks, so a unit on a segment of slope ``s`` is read with
  probability ``1 - exp(-n m s / R)``:
  ``E[units] = sum over segments of (rows / m) (1 - exp(-n m s / R))``.
* ``random`` and ``identity`` (ids taken as unrelated to heat, as a
  generator's or a hashed feature's are): a unit holds ``m`` random rows, so
  ``E[units] = (R / m) (1 - q^m)`` with ``q`` the mean over rows of
  ``exp(-n p)``.

With ``m = 1`` both give the expected distinct rows per batch.  Probabilities
taken from the profile's own counts under-state how many distinct rows a
batch of that profile reads (a row seen once in three batches was in one of
them, not in 28% of each), so when the profile measured its distinct rows
per batch ``U``, both estimates are scaled by ``U / E[units at m = 1]``:
exact at one row per unit, on the profile.  The planner
assumes the whole table sits in the slot (a table cut over tiers coalesces a
little less in its cold part than this says).  The tier's per-row compute
(gather engines, pooling adds) is priced with the memory time, so where a
tier is compute bound the factor under-states its time.
"""
import math
from typing import Optional

import numpy as np

from ..errors import InputError
from ..hw_models.parts import NandFlash
from .layout_units import as_profile

LAYOUTS = ("identity", "frequency", "coaccess", "random")
def tier_unit_sizes_B(system, device: str, tier: str, override: Optional[dict] = None) -> list:
    """Unit sizes coalescing counts at ``device.tier``, the access granularity first, the cost unit last.

    ``override`` {"tier" or "device.tier": [bytes, ...]} wins; else the
    slot's ``granularity_B`` (its tier part's access unit), then a flash
    tier's page when it is a larger multiple (the unit a die senses).
    """
    for key in (f"{device}.{tier}", tier):
        if override and key in override:
            sizes = [int(s) for s in np.atleast_1d(override[key])]
            if not sizes or min(sizes) <= 0 or any(s % sizes[0] for s in sizes):
                raise InputError(f"unit_sizes_B: {key}: {sizes}: expected positive byte sizes, each a multiple "
                                 "of the first (the access granularity)")
            return sizes
    sizes = [int(system.slot(device, tier).granularity_B)]
    part = system.parts.get(f"{device}.{tier}")
    page = int(part.p.page.value) if isinstance(part, NandFlash) else 0
    if page > sizes[0] and page % sizes[0] == 0:
        sizes.append(page)
    return sizes


def rows_per_unit(row_bytes: float, sizes: list) -> tuple:
    """(rows per cost unit, cost units per row) for rows packed at granularity ``sizes[0]``."""
    g, S = int(sizes[0]), int(sizes[-1])
    length = int(math.ceil(row_bytes - 1e-9))
    if length <= g:
        return (g // length) * (S // g), 1
    stride = -(-length // g) * g
    if stride <= S:
        return S // stride, 1
    return 1, -(-stride // S)


def expected_units(curve, rows: float, lookups: float, m: int, layout: str, rank_range=(0.0, 1.0)) -> float:
    """Expected distinct cost units one batch reads (module docstring), for ``m`` rows per unit.

    ``rank_range``: the hot-rank fractions ``[lo, hi)`` of the table the slot
    holds (``lookups`` are the whole table's lookups per batch).
    """
    if layout not in LAYOUTS:
        raise InputError(f"layout: {layout!r}: expected one of {', '.join(LAYOUTS)}")
    lo, hi = rank_range
    if lookups <= 0 or rows <= 0 or hi <= lo:
        return 0.0
    f, c = np.asarray(curve.f, float), np.asarray(curve.c, float)
    p = np.diff(c) / np.maximum(np.diff(f), 1e-300) / rows          # per-row probability per lookup
    seg_rows = np.clip(np.minimum(f[1:], hi) - np.maximum(f[:-1], lo), 0.0, None) * rows
    if layout in ("frequency", "coaccess"):
        return float(np.sum(seg_rows / m * -np.expm1(-lookups * m * p)))
    held = seg_rows.sum()
    q = float(np.sum(seg_rows * np.exp(-lookups * p)) / held) if held > 0 else 1.0
    return float(held / m * (1.0 - q ** m))


def read_share(curve, rows: float, lookups: float, row_bytes: float, sizes: list, layout: str,
               distinct_per_batch: Optional[float] = None, rank_range=(0.0, 1.0)) -> float:
    """Expected row reads the memory serves per lookup that reaches it (<= 1) under ``layout``.

    ``distinct_per_batch``: the profile's measured distinct rows per batch
    (anchors the estimate, module docstring), or None.  ``rank_range``: the
    hot-rank fractions the slot holds (default: the whole table); its
    lookups are the curve's share of them.
    """
    lo, hi = rank_range
    reaching = lookups * float(curve(hi) - curve(lo))
    if reaching <= 0:
        return 1.0
    m, _ = rows_per_unit(row_bytes, sizes)
    reads = expected_units(curve, rows, lookups, m, layout, rank_range)   # a row of several units: m = 1
    if distinct_per_batch:
        one = expected_units(curve, rows, lookups, 1, layout)
        reads *= distinct_per_batch / one if one > 0 else 1.0
    return float(min(1.0, reads / reaching))


def coalesced_read_shares(inst, coalescing: dict, stats=None) -> dict:
    """{(item index, rep index, slot index): read share} for an Instance's items under ``coalescing``.

    ``coalescing``: {"layout": name, "unit_sizes_B": optional override per tier,
    "ranges": optional {(table name, part, device, tier): (rank_lo, rank_hi)},
    "profile": optional profile trace (a ``Trace`` of the model's tables, or a
    :class:`~.layout_units.LayoutProfile` of it), "seed": the layout's seed}.
    With a profile, a dense item's share is counted on the profile's batches
    laid out as the simulator lays them (:mod:`.layout_units`: this is how the
    planner tells ``coaccess`` from ``frequency``); without one, or for a
    row-sharing representation (whose physical ids the profile does not
    hold), it is the coverage-curve estimate of the module docstring.
    An item's lookups per batch are those of its part of the table; its
    distinct rows per batch (``stats.unique_rows_per_batch``, if measured) too.
    ``ranges`` (from a first plan, :func:`ranges_of_plan`) prices a slot by
    the hot ranks it held there instead of the whole table.
    """
    ranges = coalescing.get("ranges") or {}
    measured = getattr(stats, "unique_rows_per_batch", None) if not getattr(stats, "analytic", False) else None
    layout = coalescing.get("layout")
    if layout not in LAYOUTS:
        raise InputError(f"layout: {layout!r}: expected one of {', '.join(LAYOUTS)}")
    profile = as_profile(coalescing.get("profile"), layout, int(coalescing.get("seed", 0) or 0))
    if profile is not None:
        profile.check_matches([t.rows for t in inst.model.tables])
    sizes = {k: tier_unit_sizes_B(inst.system, s.device, s.tier, coalescing.get("unit_sizes_B"))
             for k, s in enumerate(inst.slots)}
    out = {}
    for i, it in enumerate(inst.items):
        u = float(measured[it.table]) / it.parts if measured is not None else None
        for r, rep in enumerate(it.reps):
            for k, s in enumerate(inst.slots):
                rr = ranges.get((it.name, it.part, s.device, s.tier), (0.0, 1.0))
                if profile is not None and not rep.shares_rows:
                    out[(i, r, k)] = profile.read_share(it.table, it.partition, it.part, rr, rep.row_bytes, sizes[k])
                else:
                    out[(i, r, k)] = read_share(it.curve, it.rows, it.accesses, rep.row_bytes, sizes[k], layout, u, rr)
    return out


def ranges_of_plan(plan) -> dict:
    """{(table, part, device, tier): (rank_lo, rank_hi)} of a plan's shards, for ``coalescing["ranges"]``."""
    out = {}
    for tp in plan.tables:
        for s in tp.shards:
            out[(tp.table, int(getattr(s, "part", 0) or 0), s.device, s.tier)] = (float(s.rank_lo), float(s.rank_hi))
    return out
