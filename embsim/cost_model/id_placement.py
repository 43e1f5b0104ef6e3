"""Placement without statistics: the statistical-sharding ablation of SCRec's Data Statistic Analyzer.

Statistical sharding knows which rows are hot (the profile's coverage curves) and puts the
hottest rows of a table in its fastest tier.  Switched off, a planner knows only each table's
size and lookups per batch, and a row's tier follows from its id:

- ``heat_blind_stats(model, stats, batch_size)``: the profile with every coverage curve the
  diagonal (the hottest share f of rows serves share f of lookups) and no per-row counts, so
  the MIP sizes each tier as if rows were equally hot;
- ``place_by_id(plan, model)``: a plan whose every hot-rank range becomes a contiguous range of
  row ids (a range partition, one part per shard, each wholly in one tier).  Row ids are hashed
  (generators permute rows), so a range of ids holds hot and cold rows as the table does; the
  simulator's hot order inside a part then decides nothing (each part sits in one tier).

Tables that are not dense (tensor trains, row sharing) and replicated tables are kept as
they are: their placement does not rank rows.
"""
from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

from .coverage import table_access, uniform_curve
from .plan import Shard, ShardingPlan, TablePlan

REPLICATED = "replicated"        # a data-parallel table (sim/replicas.py: the same name)


def heat_blind_stats(model, stats, batch_size: int) -> SimpleNamespace:
    """``stats`` as a planner without hot-row knowledge sees it: lookups per table, diagonal coverage."""
    acc = table_access(model, stats, batch_size)
    return SimpleNamespace(tables=[{"accesses": a.accesses, "accesses_per_batch": a.accesses, "coverage": uniform_curve()}
                                   for a in acc])


def _part_rows(tp: TablePlan, rows: int, parts: int) -> list:
    if tp.partition == "range" and tp.row_bounds:
        b = [int(x) for x in tp.row_bounds]
        return [b[p + 1] - b[p] for p in range(parts)]
    return [(rows - p + parts - 1) // parts for p in range(parts)]


def _by_id(tp: TablePlan, rows: int) -> TablePlan:
    """One table's shards as contiguous id ranges of the same sizes, in part then rank order."""
    parts = int(tp.shards[0].parts or 1)
    sizes = _part_rows(tp, rows, parts)
    pieces = []                                   # (device, tier, rows, core, strategy)
    for p in range(parts):
        mine = sorted((s for s in tp.shards if int(s.part or 0) == p), key=lambda s: s.rank_lo)
        left = sizes[p]
        for i, s in enumerate(mine):
            # rounded down: a tier never holds more rows than the plan gave it; the last (slowest) the rest
            n = left if i == len(mine) - 1 else min(left, int(math.floor((s.rank_hi - s.rank_lo) * sizes[p] + 1e-9)))
            left -= n
            if n > 0:
                pieces.append((s.device, s.tier, n, s.core, s.strategy))
    bounds, shards = [0], []
    for k, (device, tier, n, core, strategy) in enumerate(pieces):
        bounds.append(bounds[-1] + n)
        shards.append(Shard(device, tier, 0.0, 1.0, n / rows, core=core, strategy=strategy, part=k,
                            parts=len(pieces)))
    return dataclasses.replace(tp, shards=shards, partition="range", row_bounds=bounds,
                               part_shares=[piece[2] / rows for piece in pieces])


def place_by_id(plan: ShardingPlan, model) -> ShardingPlan:
    """``plan`` with every dense, not replicated table's rows placed by id instead of by heat (module doc)."""
    rows = {t.name: int(t.rows) for t in model.tables}
    tables = []
    for tp in plan.tables:
        dense = tp.representation.kind == "dense" and not getattr(tp.representation, "shares_rows", False)
        if not dense or tp.partition == REPLICATED or len(tp.shards) == 1:
            tables.append(tp)           # nothing ranked: a whole table (or part) in one tier, or not by rows
            continue
        tables.append(_by_id(tp, rows[tp.table]))
    out = dataclasses.replace(plan, tables=tables, notes=list(plan.notes) + [
        "statistical sharding off: every table's rows placed by id ranges (cost_model/id_placement.py)"])
    return out
