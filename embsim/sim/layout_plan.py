"""A row layout inside a plan: where every row the trace touches sits in its tier, and which units a tier counts.

``simulate(..., layout=NAME)`` calls :func:`plan_row_addresses` after the
row map: every shard of the plan is one contiguous region of its tier
(shards of one location follow each other, each starting on a boundary of
the location's largest unit), and inside a shard the rows sit in the order
of the layout (:mod:`embsim.workloads.row_layout`), ranked by the profile
(held out, ``sim/heldout.py``, or the simulated trace itself in-sample):

``identity``  by row id (within the shard's row-wise part);
              rows the trace never touches keep their place between them.
``frequency`` by hot rank (the hottest row of the shard first).
``coaccess``  by the table's co-access order (hottest cluster first).
``random``    each touched row at a seeded random place among the shard's rows.

The placement functions live in :mod:`embsim.cost_model.layout_units`, so
that the planner, counting units on its profile, places rows as this does.

Unit sizes per tier (:func:`embsim.cost_model.coalescing.tier_unit_sizes_B`,
shared with the planner): the tier's access
granularity (``Slot.granularity_B`` when the system declares it, else the
simulator's reading of the tier's graph node), then a flash tier's page
(``page_B`` of its node) when it is a larger multiple.  The largest size
is the tier's *cost unit*: the unit whose reads the tier's time follows
(a flash die senses whole pages).  ``unit_sizes_B`` of ``simulate``
overrides both, per ``"tier"`` or ``"device.tier"``.
"""
import numpy as np

from ..cost_model.coalescing import tier_unit_sizes_B  # noqa: F401  (re-exported for the simulator)
from ..cost_model.layout_units import (LayoutProfile, heldout_coaccess_positions, hot_ranks, part_and_index,
                                       shard_positions)
from ..workloads.row_layout import check_layout
from .coalesce import row_addresses, shard_bytes


def plan_row_addresses(trace, shards, by_table, labels, offsets, n_rows, locations, layout, seed=0, profile=None,
                       rank_trace=None):
    """(address_B, length_B) int64 per compact row (see the module docstring).

    ``labels[t]`` = (table row of each compact label, its lookups) from
    ``compact_rows``; ``offsets[t]`` the first compact id of table t;
    ``n_rows`` the compact rows in all (each table's spare id included).
    ``profile``: the planner's LayoutProfile of this trace, layout and seed,
    if it priced the plan (its co-access orders are reused, not clustered again).
    ``rank_trace``: the held-out profile in the replay's id space, whose co-access order ranks the rows
    (default ``trace``: in-sample); a layout never learns which rows the evaluation reads.
    """
    check_layout(layout)
    source = trace if rank_trace is None else rank_trace      # co-access is clustered on the profile
    if profile is None or profile.trace is not source or profile.layout != layout or profile.seed != seed:
        profile = LayoutProfile(source, layout, seed)
    addr = np.zeros(n_rows, dtype=np.int64)
    length = np.ones(n_rows, dtype=np.int64)
    end = [0] * len(locations)                                  # bytes used so far per location
    spares = []
    for t, mine in enumerate(by_table):
        rows, counts = labels[t][:2]
        P = mine[0].parts
        part, x = part_and_index(P, getattr(mine[0], "partition", None), rows)
        # a held-out profile (sim/heldout.py) gives each row's rank and its place by id in its shard
        rank = labels[t][2] if len(labels[t]) > 2 else hot_ranks(x, counts, part, P)
        ident = labels[t][3] if len(labels[t]) > 3 else None
        seen = labels[t][4] if len(labels[t]) > 4 else None
        key = profile.coaccess_key(t, rows) if layout == "coaccess" else None
        for sh in mine:
            loc = locations[sh.location]
            sizes = loc.units_counted_B
            g, top = sizes[0], sizes[-1]
            sel = np.flatnonzero((part == sh.part) & (rank >= sh.lo) & (rank < sh.hi))
            touched_sorted = np.sort(x[part == sh.part])
            if layout == "identity" and ident is not None:
                pos = ident[sel]
            elif layout == "coaccess" and seen is not None:
                pos = heldout_coaccess_positions(profile, t, rows[sel], rank[sel], sh, seen)
            else:
                pos = shard_positions(layout, x, sel, rank, sh, touched_sorted, key, seed)
            base = -(-end[sh.location] // top) * top
            a, n = row_addresses(pos, sh.row_bytes, g, base)
            addr[offsets[t] + sel], length[offsets[t] + sel] = a, n
            end[sh.location] = base + shard_bytes(sh.hi - sh.lo, sh.row_bytes, g)
        spares.append((offsets[t] + rows.size, mine[0]))          # never looked up: placed after every shard
    for spare, sh in spares:
        n = int(np.ceil(sh.row_bytes - 1e-9))
        addr[spare], length[spare] = end[sh.location], n
        end[sh.location] += n
    return addr, length


def coalesced_loads(counters, shards, locations, share):
    """(units, bytes, reads) per [batch, shard] at each shard's tier, from the replay's coalesced counters.

    The cost unit is the location's largest unit size; ``reads`` = cost units
    / the cost units one row touches alone (``ceil(row / unit)``), so with
    one row per unit and no row read twice in a batch, ``reads`` = lookups.
    A location's units are split over its shards by ``share`` (see
    ``Simulation._loads``).
    """
    locs = np.array([s.location for s in shards], dtype=np.int64)
    last = np.array([len(locations[s.location].units_counted_B) - 1 for s in shards], dtype=np.int64)
    unit = np.array([locations[s.location].units_counted_B[-1] for s in shards], dtype=np.float64)
    per_row = np.array([max(1.0, np.ceil(np.ceil(s.row_bytes - 1e-9) / u)) for s, u in zip(shards, unit)])
    units = counters.units[:, locs, last] * share
    return units, units * unit, units / per_row
