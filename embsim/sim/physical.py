"""The access stream a plan's representations produce: each lookup becomes the physical rows it reads.

A table stored dense or as tensor-train reads its logical row (TT's core
slices are counted in its row bytes).  A row-sharing table (``hash``,
``qr``, ``cafe``, ``memrec``; ``cost_model.compressed``) reads other rows:
its physical tables are laid end to end in one id space per table
(``Representation.physical_rows`` in order), and ``physical_trace`` rewrites
the trace so that every lookup of such a table is replaced by its physical
rows (the sample's length grows by the reads), in one Cython pass
(``_physical.expand``).  The replay, caches, tiers, bandwidth and energy
then see the real pattern: hashing folds cold rows onto fewer rows,
Mem-Rec multiplies reads, CAFE gives hot features their own rows.

CAFE's hot set is found by a HotSketch (``workloads.hotsketch``) of the
representation's sketch slots, run over the table's lookups in trace order
(the state training would leave; inference uses a fixed hot set): the
sketch's ``hot_rows`` largest entries get rows ``0 .. hot_rows - 1`` in that
order; with more than one level the other tracked features are medium.

Hashes are splitmix64 with a per-table seed derived from the simulation
seed, so the same inputs and seed give the same stream.

``collision_report`` measures the quality proxy on the trace: per table, the
share of lookups whose feature's set of physical rows equals another accessed
feature's (``collision_share``), and the share whose rows include one that
another feature also reads (``shared_row_share``).
"""
import numpy as np

from ..errors import InputError
from ..workloads.hotsketch import SLOTS_PER_BUCKET, HotSketch, table_ids
from ..workloads.trace import Trace
from ._physical import encode_many, expand, lookups_per_table, map_insert

KIND_CODE = {"hash": 1, "qr": 2, "cafe": 3, "memrec": 4}
HOT_MEDIUM = -2
SEED_STRIDE = 1000003
ACCURACY_NOTE = ("quality proxies only: collision share (lookups whose feature shares its physical rows with "
                 "another accessed feature) and the format's error bound; model accuracy is not simulated")


class Encoders:
    """Per table: kind code, parameters and (CAFE) the hot map, as the kernels take them."""

    def __init__(self, model, plan, trace, seed=0):
        T = model.n_tables
        self.kind = np.zeros(T, dtype=np.int64)
        self.spec = np.zeros((T, 8), dtype=np.int64)
        # a table left as it is keeps the trace's rows (a replicated table's copies are rows of their own)
        self.rows = np.asarray(trace.table_rows, dtype=np.int64).copy()
        self.reads = np.ones(T)
        self.reps = [plan.table(t.name).representation for t in model.tables]
        maps = []
        for t, rep in enumerate(self.reps):
            if not rep.shares_rows:
                continue
            if int(trace.table_rows[t]) != model.tables[t].rows:
                raise InputError(f"plan: table '{model.tables[t].name}': {rep.label} on a replicated table "
                                 "(expected a row-sharing table to live whole in one slot, not copied)")
            pr = [int(r) for r in rep.physical_rows]
            self.kind[t] = KIND_CODE[rep.kind]
            self.rows[t] = sum(pr)
            self.reads[t] = rep.reads_per_lookup
            self.spec[t, 7] = (int(seed) * SEED_STRIDE + t) & 0x7FFFFFFFFFFFFFFF
            if rep.kind == "hash":
                self.spec[t, 0] = pr[0]
            elif rep.kind == "qr":
                self.spec[t, 0], self.spec[t, 1] = pr[1], pr[0]          # remainder rows m, quotient rows q
            elif rep.kind == "cafe":
                self.spec[t, 0], self.spec[t, 1], self.spec[t, 2] = pr[0], pr[1], len(pr) - 1
                maps.append((t, self._cafe_map(rep, table_ids(trace, t), int(self.spec[t, 7]))))
            else:
                self.spec[t, 0], self.spec[t, 1], self.spec[t, 2] = pr[0], pr[1], rep.params["k"]
        self._build_maps(T, maps)

    @staticmethod
    def _cafe_map(rep, ids, seed):
        p = rep.params
        sk = HotSketch(max(1, p["sketch_slots"] // SLOTS_PER_BUCKET), seed=seed)
        sk.insert(ids)
        keys, _ = sk.entries()
        hot = keys[:p["hot_rows"]]
        vals = np.arange(hot.size, dtype=np.int64)
        if p["levels"] > 1:
            medium = keys[p["hot_rows"]:]
            hot = np.concatenate([hot, medium])
            vals = np.concatenate([vals, np.full(medium.size, HOT_MEDIUM, dtype=np.int64)])
        return hot, vals

    def _build_maps(self, T, maps):
        self.map_base = np.zeros(T, dtype=np.int64)
        self.map_mask = np.zeros(T, dtype=np.int64)
        sizes = {t: 1 << int(np.ceil(np.log2(2 * max(1, k.size) + 2))) for t, (k, _) in maps}
        self.hot_map = np.full(2 * max(1, sum(sizes.values())), -1, dtype=np.int64)   # (key, value) pairs
        base = 0
        for t, (k, v) in maps:
            self.map_base[t], self.map_mask[t] = base, sizes[t] - 1
            map_insert(self.hot_map, base, sizes[t] - 1, int(self.spec[t, 7]), np.ascontiguousarray(k, dtype=np.int64),
                       np.ascontiguousarray(v, dtype=np.int64))
            base += sizes[t]

    @property
    def map_keys(self):
        return self.hot_map[0::2]

    @property
    def map_vals(self):
        return self.hot_map[1::2]

    @property
    def any(self):
        return bool(np.any(self.kind))

    def max_reads(self, t):
        k, p = int(self.kind[t]), self.spec[t]
        return {0: 1, 1: 1, 2: 2, 3: int(max(1, p[2])), 4: int(p[2]) + 1}[k]

    def encode(self, t, ids):
        """Physical rows of ``ids`` of table t: int64 [len, max reads], -1 past each id's reads."""
        return encode_many(np.ascontiguousarray(ids, dtype=np.int64), int(self.kind[t]), self.spec[t],
                           self.hot_map, int(self.map_base[t]), int(self.map_mask[t]), self.max_reads(t))


def physical_trace(trace, enc):
    """The trace rewritten into physical rows (a new Trace; the input is not changed).

    The output is allocated once at its exact size (every kind but multi-level CAFE reads a fixed number
    of rows per lookup; that one gets its upper bound and a view).  When every table reads one row per
    lookup the samples' lengths do not change, and the new trace shares them (read-only) instead of a copy."""
    lengths = np.ascontiguousarray(trace.lengths, dtype=np.int32)
    per_table = lookups_per_table(lengths)
    reads = [enc.max_reads(t) for t in range(len(per_table))]
    cap = int(sum(int(n) * r for n, r in zip(per_table, reads)))
    out = np.empty(cap, dtype=np.int64)
    same_lengths = max(reads, default=1) == 1
    if same_lengths:
        out_len = lengths.view()
        out_len.flags.writeable = False
    else:
        out_len = np.empty_like(lengths)
    w = expand(np.ascontiguousarray(trace.indices, dtype=np.int64), lengths, enc.kind, enc.spec, enc.hot_map,
               enc.map_base, enc.map_mask, out, None if same_lengths else out_len)
    meta = dict(trace.meta)
    meta["physical"] = {"tables_rewritten": [trace.table_names[t] if trace.table_names else t
                                             for t in np.flatnonzero(enc.kind)]}
    return Trace(lengths=out_len, indices=out[:w] if w < cap else out, table_rows=enc.rows.copy(),
                 table_names=trace.table_names, timestamps_s=trace.timestamps_s, meta=meta)


def _table_collisions(enc, t, ids, rows):
    """(collision share, shared-row share) of one table's lookups ``ids``."""
    if ids.size == 0:
        return 0.0, 0.0
    if rows <= 4 * ids.size + 1024:
        counts = np.bincount(ids, minlength=rows)
        feats = np.flatnonzero(counts)
        counts = counts[feats]
    else:
        feats, counts = np.unique(ids, return_counts=True)
    codes = enc.encode(t, feats)                                   # [features, reads], -1 padded
    if enc.kind[t] == 4:                                           # a Bloom signature is a set of token rows
        k = int(enc.spec[t, 2])
        codes[:, :k] = np.sort(codes[:, :k], axis=1)
    _, inv, n_same = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    collided = n_same[inv.ravel()] > 1
    once = codes.copy()
    once[_repeats_within(codes)] = -1            # a row a feature reads twice counts once for it
    flat = once.ravel()
    valid = flat >= 0
    readers = np.bincount(flat[valid], minlength=int(enc.rows[t]))  # features reading each physical row
    hit = np.zeros(flat.size, dtype=bool)
    hit[valid] = readers[flat[valid]] > 1
    shared = hit.reshape(codes.shape).any(axis=1)
    total = float(counts.sum())
    return float(counts[collided].sum()) / total, float(counts[shared].sum()) / total


def _repeats_within(codes):
    """True where a feature's row repeats one of its earlier rows (counted once in ``readers``)."""
    dup = np.zeros(codes.shape, dtype=bool)
    for j in range(1, codes.shape[1]):
        dup[:, j] = (codes[:, :j] == codes[:, j:j + 1]).any(axis=1) & (codes[:, j] >= 0)
    return dup


def quality_report(trace, enc):
    """``SimResult.quality``: lookup-weighted collision_share, shared_row_share and the largest
    rel_error_bound over all tables, ``per_table`` (a list in model order, so that a sweep's flat
    metrics keep only the summary) and the note that accuracy is not simulated."""
    per = collision_report(trace, enc)
    w = trace.lookups_per_table().astype(np.float64)
    total = float(w.sum()) or 1.0
    vals = list(per.values())
    return {"collision_share": float(sum(v["collision_share"] * n for v, n in zip(vals, w)) / total),
            "shared_row_share": float(sum(v["shared_row_share"] * n for v, n in zip(vals, w)) / total),
            "max_rel_error_bound": max((v["rel_error_bound"] for v in vals), default=0.0),
            "per_table": [{"table": k, **v} for k, v in per.items()], "note": ACCURACY_NOTE}


def collision_report(trace, enc):
    """Per table name: collision_share, shared_row_share, rel_error_bound, representation, reads."""
    names = trace.table_names or [f"t{t}" for t in range(trace.n_tables)]
    out = {}
    for t, rep in enumerate(enc.reps):
        entry = {"representation": rep.label, "rel_error_bound": float(rep.rel_error_bound or 0.0)}
        if rep.shares_rows:
            c, s = _table_collisions(enc, t, table_ids(trace, t), int(trace.table_rows[t]))
            entry.update(collision_share=c, shared_row_share=s, predicted_collision_share=rep.collision_share,
                         physical_rows=int(enc.rows[t]))
        else:
            entry.update(collision_share=0.0, shared_row_share=0.0)
        out[names[t]] = entry
    return out
