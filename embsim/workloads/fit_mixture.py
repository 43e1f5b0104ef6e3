"""A richer generator family for ``trace fit``: a mixture of per-table popularity components.

Why a mixture
-------------
A locality_stats.txt block pools 856 tables: its column-size histogram is
the sum of very different tables' histograms (a few tiny, hot tables whose
rows are read thousands of times per batch, many large cold ones).  One
table with one law, fitted to the average, bends to that shape only so far
(the one-table stackdist fit is held to TVD <= 0.10 by its test).  A trace made of several kinds of
tables can: because tables never share rows, the histogram of a trace is
exactly the lookup-weighted sum of its tables' histograms.

The family
----------
A *component* is one kind of table: ``rows`` rows, Zipf(``alpha``)
popularity (alpha 0: uniform), ``lookups`` per batch (pooling =
lookups / batch size).  A *mixture* says how many tables of each kind the
trace holds (``copies``), for a fixed ``FIT_LOOKUPS`` per batch in all.
Each component's expected histogram is computed, not sampled: a row of
probability p read by n i.i.d. lookups has a Binomial(n, p) count, so the
expected share of rows and of accesses in every column-size bin follows
from the binomial CDF (``component_histogram``; ranks beyond the exact
head are grouped where p varies by < 2%).

The fit chooses ``copies`` to minimise the total variation distance to
the target's access shares, plus, with weight ``ROW_WEIGHT``, to its row
shares (the "Histogram of col sizes", which a fit to accesses alone can
miss): a linear program (scipy's HiGHS), L1 distances as linear constraints,
whose fractional copies are then rounded to whole tables (``_round``).  The row share is a ratio (rows per bin over all unique rows);
it is linearised at the previous solution's unique-row total and the
program solved again (``ROW_ROUNDS`` times).  The dictionary is the grid
``DICTIONARY_ROWS`` x ``DICTIONARY_ALPHAS`` x ``DICTIONARY_LOOKUPS``.

What is reported is always *measured*: the trace the mixture generates
(``generators.generate_trace`` on ``mixture_model``) and its own histogram.

Cross-validation (``cross_validate``): for each block of the file, fit to
the average of the other blocks, then measure the held-out block's TVD on
the generated trace.
"""
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from ..errors import InputError
from . import locality
from .model import AccessSpec, DenseSpec, ModelSpec, TableSpec
from .zipf import HEAD, ZipfSampler

FIT_BATCH_SIZE = 4096
FIT_LOOKUPS = 1 << 22               # per batch, all components together
DICTIONARY_ROWS = tuple(4 ** i for i in range(12))          # 1 .. 4,194,304
DICTIONARY_ALPHAS = (0.0, 0.6, 0.9, 1.1, 1.4)
DICTIONARY_LOOKUPS = (1 << 12, 1 << 14, 1 << 16)            # per table per batch
ROW_WEIGHT = 1.0
ROW_ROUNDS = 2
SOLVER_TIME_LIMIT_S = 20
# column-size bin j holds counts in (LO[j], HI[j]]
_LO = np.array([0] + [2 ** (j - 1) for j in range(1, locality.N_BINS)], dtype=np.float64)
_HI = np.array([2 ** j for j in range(locality.N_BINS - 1)] + [np.inf])


@dataclass(frozen=True)
class Component:
    rows: int
    alpha: float
    lookups: int        # per table per batch


def _rank_groups(rows, alpha):
    """(probability, multiplicity) of rank groups: the exact head, then tail groups of near-equal p."""
    z = ZipfSampler(rows, alpha)
    k = min(rows, HEAD)
    p_head = z.pmf(np.arange(k))
    if rows <= k or alpha == 0.0:
        if alpha == 0.0:
            return np.array([1.0 / rows]), np.array([float(rows)])
        return p_head, np.ones(k)
    edges = np.unique(np.round(np.geomspace(k, rows, int(np.log(rows / k) / 0.02) + 2)).astype(np.int64))
    lo, hi = edges[:-1], edges[1:]
    mid = np.sqrt(lo * hi.astype(np.float64))
    p_tail = z.pmf(mid - 1.0)
    mass = z.pmf(np.arange(k)).sum()
    p_tail *= (1.0 - mass) / max(float((p_tail * (hi - lo)).sum()), 1e-300)   # keep the tail's total mass
    return np.concatenate([p_head, p_tail]), np.concatenate([np.ones(k), (hi - lo).astype(np.float64)])


def component_histogram(c: Component):
    """(access_share[17], row_share[17], unique_rows) expected of one table of kind ``c`` in one batch."""
    p, w = _rank_groups(c.rows, c.alpha)
    n = int(c.lookups)
    P, LO, HI = p[:, None], _LO[None, :], np.minimum(_HI, n)[None, :]
    rows_in = sps.binom.cdf(HI, n, P) - sps.binom.cdf(LO, n, P)                 # P(count in bin)
    acc_in = n * P * (sps.binom.cdf(HI - 1, n - 1, P) - sps.binom.cdf(LO - 1, n - 1, P))  # E[count; in bin]
    rows_b = np.clip((w[:, None] * rows_in).sum(axis=0), 0.0, None)
    acc_b = np.clip((w[:, None] * acc_in).sum(axis=0), 0.0, None)
    U = float(rows_b.sum())
    return acc_b / max(acc_b.sum(), 1e-300), rows_b / max(U, 1e-300), U


def dictionary():
    """The candidate components and their expected histograms (A [k, 17], R [k, 17], U [k])."""
    comps = []
    for rows in DICTIONARY_ROWS:
        for alpha in (DICTIONARY_ALPHAS if rows > 1 else (0.0,)):
            for n in DICTIONARY_LOOKUPS:
                comps.append(Component(rows, alpha, n))
    hist = [component_histogram(c) for c in comps]
    return comps, np.array([h[0] for h in hist]), np.array([h[1] for h in hist]), np.array([h[2] for h in hist])


def _round(frac, comps):
    """Whole copies from the LP's fractional ones, keeping the total at FIT_LOOKUPS, deterministically.

    Floor every count, then hand the missing lookups out one copy at a time
    to the components with the largest fractional lookups that still fit;
    the smallest tables (DICTIONARY_LOOKUPS[0] lookups, which divides every
    other size and the total) close the last gap.
    """
    n = np.array([c.lookups for c in comps], dtype=np.int64)
    copies = np.floor(frac + 1e-9).astype(np.int64)
    left = FIT_LOOKUPS - int(copies @ n)
    for k in np.argsort(-(frac - copies) * n, kind="stable"):
        if left <= 0:
            break
        if frac[k] - copies[k] > 1e-9 and n[k] <= left:
            copies[k] += 1
            left -= int(n[k])
    if left > 0:
        small = [k for k in np.argsort(-frac, kind="stable") if n[k] == min(n)]
        copies[small[0]] += left // int(n[small[0]])
    return copies


def _solve(comps, A, R, U, target_acc, target_rows, S0, time_limit_s):
    """Copies minimising access L1 (+ ROW_WEIGHT x row L1 linearised at unique-row total S0).

    A linear program (scipy's HiGHS; its optimum does not depend on the
    machine's speed, a time-limited integer program's would), then ``_round``.
    Variables: copies m [K], access residuals e [17], row residuals f [17].
    """
    from scipy.optimize import linprog
    K, nb = len(comps), locality.N_BINS
    n = np.array([c.lookups for c in comps], dtype=np.float64)
    acc = (A * (n / FIT_LOOKUPS)[:, None]).T                       # [17, K]: access share per copy
    eye, zero = np.eye(nb), np.zeros((nb, nb))
    rows_ub = [np.hstack([acc, -eye, zero]), np.hstack([-acc, -eye, zero])]
    b_ub = [target_acc, -target_acc]
    cost = np.concatenate([np.zeros(K), np.ones(nb), np.full(nb, ROW_WEIGHT if S0 else 0.0)])
    if S0:
        g = (U[:, None] * (R - target_rows[None, :]) / S0).T       # [17, K]
        rows_ub += [np.hstack([g, zero, -eye]), np.hstack([-g, zero, -eye])]
        b_ub += [np.zeros(nb), np.zeros(nb)]
    bounds = [(0, FIT_LOOKUPS / c.lookups) for c in comps] + [(0, None)] * (2 * nb)
    res = linprog(cost, A_ub=np.vstack(rows_ub), b_ub=np.concatenate(b_ub),
                  A_eq=np.concatenate([n, np.zeros(2 * nb)])[None, :], b_eq=[float(FIT_LOOKUPS)],
                  bounds=bounds, method="highs", options={"time_limit": float(time_limit_s)})
    if res.status != 0:
        raise RuntimeError(f"mixture fit: linear program: {res.message}")
    return _round(np.maximum(res.x[:K], 0.0), comps)


def predicted(copies, comps, A, R, U):
    """(access_share, row_share) the mixture's expected histogram."""
    n = np.array([c.lookups for c in comps], dtype=np.float64)
    acc = (copies * n) @ A
    rows = (copies * U) @ R
    return acc / acc.sum(), rows / rows.sum()


def fit_mixture(target_acc, target_rows=None, time_limit_s=SOLVER_TIME_LIMIT_S, book=None):
    """The mixture (list of (Component, copies)) fitted to target access (and row) shares."""
    comps, A, R, U = book or dictionary()
    t_acc = np.asarray(target_acc, float) / np.sum(target_acc)
    t_rows = None if target_rows is None else np.asarray(target_rows, float) / np.sum(target_rows)
    copies = _solve(comps, A, R, U, t_acc, t_rows, None, time_limit_s)
    for _ in range(ROW_ROUNDS if t_rows is not None else 0):
        S0 = float(copies @ U)
        copies = _solve(comps, A, R, U, t_acc, t_rows, S0, time_limit_s)
    return [(c, int(k)) for c, k in zip(comps, copies) if k > 0]


def mixture_model(mixture, name="mixture"):
    """The ModelSpec of a mixture: ``copies`` tables of each component, batches of FIT_BATCH_SIZE samples."""
    tables = []
    for j, (c, copies) in enumerate(mixture):
        for i in range(copies):
            tables.append(TableSpec(name=f"c{j}_{i}", rows=int(c.rows), dim=64,
                                    pooling=c.lookups / FIT_BATCH_SIZE, pooling_dist="fixed",
                                    access=AccessSpec(kind="zipf" if c.alpha > 0 else "uniform", alpha=c.alpha)))
    if not tables:
        raise InputError("mixture fit: no component chosen")
    dense = DenseSpec(dense_features=1, bottom_mlp=(1,), top_mlp=(1,))
    return ModelSpec(name=name, tables=tuple(tables), dense=dense,
                     source=f"embsim trace fit --generator mixture: {len(mixture)} kinds of tables, "
                            f"{FIT_LOOKUPS} lookups per batch of {FIT_BATCH_SIZE}")


def mixture_from_params(params):
    """The mixture a ``mixture_params`` dict describes."""
    return [(Component(int(c["rows"]), float(c["alpha"]), int(c["lookups_per_table"])), int(c["tables"]))
            for c in params["components"]]


def mixture_params(mixture):
    """JSON-able description: one entry per kind of table."""
    return {"kind": "mixture", "lookups_per_batch": FIT_LOOKUPS, "batch_size": FIT_BATCH_SIZE,
            "components": [{"rows": c.rows, "alpha": c.alpha, "lookups_per_table": c.lookups, "tables": k}
                           for c, k in mixture]}


_BOOK: dict = {}


def cached_dictionary():
    """``dictionary()`` computed once per process (a few seconds)."""
    if "book" not in _BOOK:
        _BOOK["book"] = dictionary()
    return _BOOK["book"]


def measure(mixture, batches=1, seed=0):
    """(access_share, row_share, trace) of the trace the mixture generates."""
    from .generators import generate_trace
    tr = generate_trace(mixture_model(mixture), batches, FIT_BATCH_SIZE, seed=seed)
    rows, acc = locality.reuse_histogram(tr)
    return acc, rows, tr


@dataclass
class HeldOut:
    """One fold of the leave-one-block-out cross-validation."""

    block: str
    access_tvd: float          # measured on the generated trace against the held-out block
    row_tvd: float
    train_access_tvd: float    # the same trace against the average of the other blocks
    kinds: int                 # kinds of tables in the fitted mixture


def cross_validate(stats, batches=1, seed=0, time_limit_s=SOLVER_TIME_LIMIT_S, progress=None):
    """Leave-one-block-out: fit to the other blocks' average, measure on the held-out block."""
    from .fit import tvd
    blocks = stats.blocks
    if len(blocks) < 2:
        raise InputError(f"{stats.path}: {len(blocks)} block; cross-validation needs at least 2")
    book = cached_dictionary()
    out = []
    for i, held in enumerate(blocks):
        rest = [b for j, b in enumerate(blocks) if j != i]
        t_acc = np.mean([b.access_share for b in rest], axis=0)
        t_rows = np.mean([b.row_share for b in rest], axis=0)
        mix = fit_mixture(t_acc, t_rows, time_limit_s=time_limit_s, book=book)
        acc, rows, _ = measure(mix, batches=batches, seed=seed)
        out.append(HeldOut(held.name, tvd(acc, held.access_share), tvd(rows, held.row_share),
                           tvd(acc, t_acc), len(mix)))
        if progress is not None:
            progress.update(1)
    return out
