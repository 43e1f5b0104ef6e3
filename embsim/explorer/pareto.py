"""Pareto fronts: the designs no other design beats on every objective.

    front = pareto_front(df, {"throughput_qps": "max", "energy_per_query_J": "min", "cost_usd": "min"})

Design *a* dominates *b* when *a* is at least as good on every objective and
strictly better on at least one.  The front is every row no row dominates.

Ties and duplicates: two rows with equal objective values do not dominate
each other, so **every copy of a non-dominated point is kept** (two designs
that differ only in a knob the objectives do not see are both worth
showing; ``drop_duplicates`` on the result removes them if wanted).  A row
with a missing (NaN) objective, or whose ``status`` is not ``ok``, is never
on the front and never dominates.
"""
import numpy as np
import pandas as pd

from ..errors import InputError


def _matrix(df, objectives):
    """Objective values as a float matrix oriented so that larger is better."""
    if not objectives:
        raise InputError("pareto: no objectives given")
    cols = []
    for name, sense in objectives.items():
        if name not in df.columns:
            have = [c for c in df.columns if c not in ("key", "space", "idx", "status", "error")]
            raise InputError(f"pareto: objective '{name}' is not a column of the results "
                             f"(have: {', '.join(map(str, have))})")
        if sense not in ("max", "min"):
            raise InputError(f"pareto: objective '{name}': expected 'max' or 'min', got {sense!r}")
        v = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
        cols.append(v if sense == "max" else -v)
    return np.column_stack(cols) if cols else np.empty((len(df), 0))


def pareto_mask(values):
    """Boolean mask of the non-dominated rows of ``values`` (n x k, larger is better; NaN rows excluded).

    Sorting by the objectives first means a row can only be dominated by rows
    before it, and rows already found dominated need not be compared against.
    Worst case O(n^2 k), vectorised over the candidates.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    valid = ~np.isnan(values).any(axis=1) if n else np.zeros(0, bool)
    mask = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return mask
    v = values[idx]
    order = np.lexsort(tuple(-v[:, j] for j in reversed(range(v.shape[1]))))   # best first, lexicographic
    v = v[order]
    front = np.ones(len(v), dtype=bool)
    for i in range(len(v)):
        if not front[i]:
            continue
        # i dominates j: i >= j everywhere and i > j somewhere.
        ge = (v[i] >= v).all(axis=1)
        gt = (v[i] > v).any(axis=1)
        front &= ~(ge & gt)
    mask[idx[order[front]]] = True
    return mask


def pareto_front(df, objectives, sort=True):
    """The rows of ``df`` on the Pareto front of ``objectives`` ({column: "max" | "min"}).

    Only rows with ``status == "ok"`` (when the column exists) are considered.
    The result keeps ``df``'s index; with ``sort`` it is ordered by the first
    objective, best first.
    """
    if df is None or len(df) == 0:
        return df.iloc[0:0] if df is not None else pd.DataFrame()
    values = _matrix(df, objectives)
    if "status" in df.columns:
        values[(df["status"] != "ok").to_numpy()] = np.nan
    out = df[pareto_mask(values)]
    if sort and len(out):
        first, sense = next(iter(objectives.items()))
        out = out.sort_values(first, ascending=(sense == "min"), kind="stable")
    return out


def dominates(a, b, senses):
    """True when objective vector ``a`` dominates ``b`` (``senses``: "max"/"min" per position)."""
    a = [x if s == "max" else -x for x, s in zip(a, senses)]
    b = [x if s == "max" else -x for x, s in zip(b, senses)]
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))
