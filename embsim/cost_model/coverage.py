"""Coverage curves: what share of a table's lookups its hottest rows serve.

``coverage(f)`` is the share of accesses that go to the hottest fraction ``f``
of a table's rows.  It rises from (0, 0) to (1, 1) and is concave (rows sorted
hottest first have non-increasing access counts), which is what lets the
sharding MIP say "the hottest rows take the fastest tier" with linear
constraints: the share of accesses a tier prefix serves is at most the
coverage of the rows it holds, and a concave piecewise-linear curve is the
minimum of its segment lines (tangents).

A :class:`CoverageCurve` is such a piecewise-linear curve, given by
breakpoints.  Curves come either from a trace (``TraceStats``, measured) or,
without one, from a table's access distribution in the model:

- ``uniform``: the diagonal, coverage(f) = f;
- ``zipf(alpha)`` over N rows: coverage(f) = H(fN, alpha) / H(N, alpha), with
  H the generalised harmonic number, summed exactly for the first terms and
  by the Euler-Maclaurin integral beyond;
- ``stackdist`` and ``drift`` tables have no closed form for row popularity;
  they are treated as zipf with their ``alpha`` (documented approximation:
  give a trace for measured curves).
"""
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .partition import discount, unseen_share

# Breakpoints of model-derived curves: 0, a geometric grid of hot fractions
# from 1e-6 to 1 (4 per decade), then 1.  The curve between breakpoints is the
# chord, which under-states the true (concave) coverage by a little, so a plan
# is never promised more hits than the distribution gives.
GRID_PER_DECADE = 4
GRID_MIN_FRACTION = 1e-6
EXACT_TERMS = 2000


@dataclass(frozen=True)
class CoverageCurve:
    """A concave piecewise-linear coverage curve through (f[i], c[i]), f[0]=c[0]=0, f[-1]=c[-1]=1."""

    f: tuple
    c: tuple

    def __post_init__(self):
        f, c = np.asarray(self.f, float), np.asarray(self.c, float)
        if len(f) < 2 or len(f) != len(c):
            raise InputError(f"coverage curve: needs matching breakpoints (got {len(f)} and {len(c)})")
        if abs(f[0]) > 1e-12 or abs(c[0]) > 1e-12 or abs(f[-1] - 1) > 1e-9 or abs(c[-1] - 1) > 1e-6:
            raise InputError("coverage curve: must run from (0, 0) to (1, 1)")
        if np.any(np.diff(f) <= 0):
            raise InputError("coverage curve: fractions must increase")
        s = np.diff(c) / np.diff(f)
        if np.any(s < -1e-9) or np.any(np.diff(s) > 1e-6 * max(1.0, float(s.max()))):
            raise InputError("coverage curve: must be non-decreasing and concave (hottest rows first)")

    @property
    def slopes(self):
        return np.diff(np.asarray(self.c)) / np.diff(np.asarray(self.f))

    def __call__(self, x):
        return np.interp(x, self.f, self.c)

    def tangents(self):
        """(slope, intercept) of each segment: coverage(x) = min over lines of slope*x + intercept."""
        f, c = np.asarray(self.f), np.asarray(self.c)
        s = self.slopes
        return list(zip(s, c[:-1] - s * f[:-1]))

    def segments(self):
        """(width, access share) of each segment, hottest first."""
        return list(zip(np.diff(np.asarray(self.f)), np.diff(np.asarray(self.c))))


def uniform_curve():
    return CoverageCurve((0.0, 1.0), (0.0, 1.0))


def harmonic(n, alpha):
    """Generalised harmonic number H(n, alpha) = sum_{i=1..n} i^-alpha for real n >= 0 (vectorised).

    Exact for n <= EXACT_TERMS; beyond, the exact head plus the integral of
    x^-alpha from EXACT_TERMS + 1/2 to n + 1/2 (midpoint rule, error < 1e-7 relative).
    Fractional n interpolates linearly between integers.
    """
    n = np.asarray(n, float)
    head_i = np.arange(1, EXACT_TERMS + 1, dtype=float)
    head = np.concatenate([[0.0], np.cumsum(head_i ** -alpha)])
    out = np.empty_like(n)
    small = n <= EXACT_TERMS
    if np.any(small):
        out[small] = np.interp(n[small], np.arange(EXACT_TERMS + 1), head)
    big = ~small
    if np.any(big):
        a, b = EXACT_TERMS + 0.5, n[big] + 0.5
        tail = np.log(b / a) if abs(alpha - 1) < 1e-12 else (b ** (1 - alpha) - a ** (1 - alpha)) / (1 - alpha)
        out[big] = head[-1] + tail
    return out


def zipf_curve(rows, alpha):
    """Coverage of zipf(alpha) over ``rows`` rows on the geometric grid of hot fractions."""
    if rows <= 1 or alpha <= 0:
        return uniform_curve()
    decades = -np.log10(GRID_MIN_FRACTION)
    grid = np.logspace(-decades, 0, int(decades * GRID_PER_DECADE) + 1)
    grid = grid[grid * rows >= 1.0]                   # below one row the curve is the first row's chord
    f = np.unique(np.concatenate([[0.0, 1.0 / rows], grid, [1.0]]))
    c = harmonic(f * rows, alpha) / harmonic(np.array([rows]), alpha)[0]
    c[0], c[-1] = 0.0, 1.0
    return CoverageCurve(tuple(f), tuple(np.minimum(c, 1.0)))


def curve_from_access(table):
    """Coverage curve of a TableSpec from its access distribution (no trace)."""
    kind, alpha = table.access.kind, table.access.alpha
    if kind == "uniform":
        return uniform_curve()
    return zipf_curve(table.rows, alpha)


def curve_from_points(f, c, source="stats"):
    """A CoverageCurve from measured points, made concave by its upper hull (a measured curve is
    concave up to sampling noise; the hull never under-states the hits of the hottest rows)."""
    f = np.concatenate([[0.0], np.asarray(f, float), [1.0]])
    c = np.concatenate([[0.0], np.asarray(c, float), [1.0]])
    order = np.argsort(f, kind="stable")
    f, c = f[order], np.clip(c[order], 0, 1)
    hull = []
    for p in zip(f, c):
        if hull and abs(p[0] - hull[-1][0]) < 1e-15:
            hull[-1] = (p[0], max(p[1], hull[-1][1]))
            continue
        while len(hull) >= 2 and (hull[-1][1] - hull[-2][1]) * (p[0] - hull[-2][0]) <= \
                (p[1] - hull[-2][1]) * (hull[-1][0] - hull[-2][0]):
            hull.pop()
        hull.append(p)
    fx, cx = zip(*hull)
    cx = np.maximum.accumulate(np.asarray(cx))
    return CoverageCurve(tuple(fx), tuple(cx))


@dataclass(frozen=True)
class TableAccess:
    """What the cost model needs from statistics for one table: lookups per batch and its curve."""

    name: str
    accesses: float
    coverage: CoverageCurve


def table_access(model, stats=None, batch_size=1):
    """Per-table accesses per batch and coverage curves, from ``stats`` or the model.

    ``stats`` may be any object with per-table entries (``stats.tables`` or
    ``stats.per_table``, a list in model order or a dict by name), each with
    ``accesses`` (lookups per batch; or total lookups when the stats give a
    ``batches`` count) and a coverage curve as ``coverage`` (a CoverageCurve
    or a pair of arrays) or ``coverage_f``/``coverage_c`` breakpoints.
    Without stats: accesses = pooling x batch_size, curve from the access
    distribution.
    """
    if stats is None:
        return [TableAccess(t.name, t.pooling * batch_size, curve_from_access(t)) for t in model.tables]
    if hasattr(stats, "coverage_breakpoints") and hasattr(stats, "accesses_per_batch"):
        return _from_trace_stats(model, stats, batch_size)
    per = getattr(stats, "tables", None)
    if per is None:
        per = getattr(stats, "per_table", None)
    if per is None:
        raise InputError("stats: expected per-table statistics (.tables or .per_table)")
    batches = getattr(stats, "batches", None) or getattr(stats, "n_batches", None)
    out = []
    for i, t in enumerate(model.tables):
        s = per.get(t.name) if isinstance(per, dict) else (per[i] if i < len(per) else None)
        if s is None:
            raise InputError(f"stats: no statistics for table '{t.name}' of model '{model.name}'")
        get = s.get if isinstance(s, dict) else (lambda k, s=s: getattr(s, k, None))
        acc = float(get("accesses"))
        if get("accesses_per_batch") is not None:
            acc = float(get("accesses_per_batch"))
        elif batches:
            acc = acc / float(batches)
        cov = get("coverage")
        if isinstance(cov, CoverageCurve):
            curve = cov
        elif cov is not None:
            curve = curve_from_points(*cov)
        else:
            curve = curve_from_points(get("coverage_f"), get("coverage_c"))
        out.append(TableAccess(t.name, acc, curve))
    return out


MAX_MEASURED_BREAKPOINTS = 32     # a measured curve is thinned to this many points (chords stay below it)


def _from_trace_stats(model, stats, batch_size):
    """From embsim.workloads.stats.TraceStats: tables matched by name, accesses scaled from the
    trace's batch size to ``batch_size``, curves thinned to MAX_MEASURED_BREAKPOINTS."""
    per_batch = stats.accesses_per_batch
    scale = batch_size / stats.batch_size if getattr(stats, "batch_size", None) else 1.0
    out = []
    for t in model.tables:
        try:
            i = stats.table_index(t.name)
        except (KeyError, IndexError):
            raise InputError(f"stats ({getattr(stats, 'source', '') or 'trace'}): no table '{t.name}' of model "
                             f"'{model.name}' (the trace has {stats.n_tables} tables: "
                             f"{', '.join(stats.table_names[:5])}{', ...' if stats.n_tables > 5 else ''})") from None
        x, y = stats.coverage_breakpoints(i, max_points=MAX_MEASURED_BREAKPOINTS)
        if getattr(stats, "held_out", False) and stats.row_counts is not None:
            x, y = with_unseen_rows(x, y, stats.row_counts[i][1], int(stats.table_rows[i]))
        out.append(TableAccess(t.name, float(per_batch[i]) * scale, curve_from_points(x[1:-1], y[1:-1])))
    return out


def with_unseen_rows(x, y, counts, rows: int):
    """Breakpoints of a profile's coverage curve with the lookups it predicts for rows it never saw.

    A profile's curve gives the rows it never saw no lookups (its last segment
    is flat), so a plan made from it promises the cold tiers almost nothing.
    The profile's share of future lookups is the absolute-discounting estimate
    of ``partition.unseen_share`` (the one estimator the row-wise parts use):
    every seen row gives up the discount ``D``, so the curve over the seen
    rows drops by ``D R / N`` per unit of row fraction (a linear term: concave
    stays concave, chords stay chords), and the unseen rows, ranked after the
    seen ones, carry ``m0`` evenly up to (1, 1).  ``counts``: the profile's
    count of each row it saw; ``x``, ``y``: breakpoints from 0 to 1 (thinned or not).
    """
    counts = np.asarray(counts, dtype=np.float64)
    m0 = unseen_share(counts, rows) if counts.size else 0.0
    if m0 <= 0.0 or counts.size >= rows:
        return x, y
    seen = counts.size / rows                                      # fraction of the rows the profile saw
    drop = discount(counts, rows) * rows / float(counts.sum())
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = x < seen - 1e-12
    xs = np.concatenate([x[keep], [seen, 1.0]])
    ys = np.concatenate([y[keep] - drop * x[keep], [1.0 - m0, 1.0]])
    return xs, ys
