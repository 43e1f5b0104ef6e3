"""Held-out ranks of a profile's rows by leaving one sample out: the simulator's held-out layout, seen from the profile.

The simulator ranks every row of a table on the profile (``sim/heldout.py``)
and replays *another* trace: the rows that trace reads which the profile never
saw sit after every profiled row, by id, each far from the others.  A planner
that has the profile only must guess how many such lookups the evaluation
brings.  The estimate here is Good-Turing's, in its leave-one-out form for
incidence data (Good 1953, "The population frequencies of species and the
estimation of population parameters", Biometrika 40; the incidence form, where
the draws are sampling units and a species counts once per unit: Chao et al.
2014, "Rarefaction and extrapolation with Hill numbers", Ecol. Monogr. 84,
sample coverage ``1 - Q1 / U``).  The draws are the profile's *samples* (one
bag of one table): held out of the profile, a sample's lookup is to a row the
rest of the profile never saw exactly when no other sample reads that row.  So

* a row that only one sample of the profile reads (``Q1`` rows) is read as
  unseen: ranked after every profiled row, by id (``sim/heldout.py``);
* any other row is read as seen, with one lookup fewer (its count in the
  profile less the held-out sample's; assumption: a sample reads a row once,
  exact when bags do not repeat rows, and a row repeated inside a bag is hot
  anyway): the simulator places the rows of that count after the row's own
  (frequency order, or its co-access community's), so it is read as the row
  at its relative place among them (:func:`left_out_partners`);
* a row one sample reads is read once in the profile, but the rows new to a
  batch of the evaluation may repeat inside it: the units the rows read as
  unseen add are scaled by the Good-Toulmin estimate of the distinct new rows
  per batch over ``t Q1`` (:func:`repeat_ratio`, Good & Toulmin 1956).

Reading the whole profile through this placement estimates the units a
trace of the same distribution reads under the simulator's placement made
from the whole profile (profile size ``n`` samples less one: no extrapolation,
no fitted parameter).  The share of lookups read as unseen is the
Good-Turing missing mass ``sum(c_r, rows read by one sample) / lookups``
(:func:`unseen_lookup_share`), which falls as the profile grows.  Cost: one
lexsort of a table's lookups (the distinct (sample, row) pairs).
"""
import numpy as np


def samples_per_row(ids: np.ndarray, sample: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Number of distinct samples reading each of ``rows`` (ascending, every id of ``ids`` among them).

    ``ids``: a table's lookups; ``sample``: the sample (bag) of each lookup."""
    order = np.lexsort((ids, sample))
    s, r = sample[order], ids[order]
    first = np.ones(r.size, dtype=bool)
    first[1:] = (s[1:] != s[:-1]) | (r[1:] != r[:-1])      # first lookup of each (sample, row)
    return np.bincount(np.searchsorted(rows, r[first]), minlength=rows.size).astype(np.int64)


def first_samples(ids: np.ndarray, sample: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """First sample reading each of ``rows`` (``sample`` rising along ``ids``, as :func:`table_samples` gives)."""
    _, first = np.unique(ids, return_index=True)
    return sample[first] if rows.size else np.zeros(0, dtype=np.int64)


def table_samples(trace, t: int) -> np.ndarray:
    """Sample of each lookup of table t, in the order of the table's segments (batch by batch)."""
    per_sample = trace.lengths[:, t, :].reshape(-1)
    return np.repeat(np.arange(per_sample.size, dtype=np.int64), per_sample)


def unseen_lookup_share(counts: np.ndarray, samples: np.ndarray) -> float:
    """Good-Turing missing mass of a profile (module doc): share of its lookups to rows only one sample reads."""
    n = float(np.sum(counts))
    return float(np.sum(counts[samples == 1])) / n if n > 0 else 1.0


def new_rows_per_batch(samples: np.ndarray, profile_samples: int, batch_samples: int) -> float:
    """Good-Toulmin estimate of the distinct rows a batch of ``batch_samples`` new samples reads that a
    profile of ``profile_samples`` samples never saw: ``sum_k (-1)^(k+1) t^k Q_k``, ``t`` = batch / profile
    samples, ``Q_k`` the rows ``k`` samples read (``samples``: samples reading each profiled row).
    Good & Toulmin 1956, Biometrika 43; near-optimal for ``t <= 1`` (Orlitsky, Suresh & Wu 2016, PNAS 113)."""
    t = batch_samples / max(profile_samples, 1)
    q = np.bincount(samples)[1:].astype(np.float64)          # Q_1, Q_2, ...
    k = np.arange(1, q.size + 1)
    terms = q * np.exp(k * np.log(t)) * np.where(k % 2 == 1, 1.0, -1.0) if t > 0 else np.zeros(1)
    return float(np.sum(terms))


def repeat_ratio(samples: np.ndarray, profile_samples: int, batch_samples: int) -> float:
    """Distinct new rows per batch (Good-Toulmin) over those a left-out reading brings (``t Q_1``: each row of
    one sample read once, so never twice in a batch), in [0, 1]: how much a batch's new rows repeat."""
    t = batch_samples / max(profile_samples, 1)
    q1 = float(np.sum(samples == 1))
    if q1 == 0 or t <= 0:
        return 1.0
    return float(min(1.0, max(0.0, new_rows_per_batch(samples, profile_samples, batch_samples) / (t * q1))))


def leave_one_out_ranks(rank: np.ndarray, x: np.ndarray, samples: np.ndarray, part: np.ndarray,
                        parts: int) -> np.ndarray:
    """Hot rank within its part of each profiled row read with its own sample left out (module doc).

    ``rank``: the simulator's hot ranks of the profile's rows (``layout_units.hot_ranks``), ``x`` their
    index within the part, ``samples`` the samples reading each.
    A row another sample reads keeps the simulator's rank (falling count, ties to the lower row); a row
    read by one sample only ranks at ``n_part + (ids below it that the profile never saw)``, as
    ``sim/heldout.py`` ranks unseen rows."""
    rank = rank.copy()
    for p in range(parts):
        m = np.flatnonzero((part == p) & (samples == 1))
        ids = np.sort(x[part == p])
        rank[m] = ids.size + x[m] - np.searchsorted(ids, x[m])
    return rank


def left_out_partners(order_key: np.ndarray, part: np.ndarray, counts: np.ndarray, samples: np.ndarray,
                      first_sample=None) -> np.ndarray:
    """Row each profiled row is read as, its sample left out (module doc): index into the same rows.

    A row of count ``c`` read by other samples too holds, left out, ``c - 1`` lookups: the evaluation's
    reads of such rows land on the profile's rows of count ``c - 1``, so it is read as the row at its
    relative place in that block, both blocks taken in layout order (``order_key``: a row's place in the
    layout within its part; the hot rank for frequency, so a block is one stretch of the layout; the
    co-access place for coaccess, so rows of one community stay together).  Rows are never read as one:
    a block moves only into a block at least as large that itself moves on (or holds rows one sample
    reads, which are read as unseen); otherwise, and for a row one sample reads, a row is read as itself.
    Spread over the larger block, rows read together would part: with ``first_sample`` (each row's first
    sample), rows next to each other in the layout and first read by one sample move as one chunk,
    keeping their adjacency (the chunk's first row takes the relative place; chunks never overlap)."""
    n = counts.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    o = np.lexsort((order_key, -counts, part))                    # blocks of one count, each in layout order
    c, ps = counts[o].astype(np.int64), part[o]
    brk = np.ones(n, dtype=bool)
    brk[1:] = ps[1:] != ps[:-1]
    run = np.cumsum(brk) - 1
    new_block = brk.copy()
    new_block[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new_block)
    sizes = np.diff(np.append(starts, n))
    blk = np.cumsum(new_block) - 1
    moves = _block_moves(run[starts], c[starts], sizes)
    k = blk + 1                                                      # the next block of a moving block
    ok = moves[blk] & (samples[o] >= 2)
    j = np.arange(n) - starts[blk]
    chunk = new_block.copy()                                         # first row of each chunk
    if first_sample is not None:
        fs, key = first_sample[o], order_key[o]
        chunk[1:] |= (key[1:] != key[:-1] + 1) | (fs[1:] != fs[:-1])
    else:
        chunk[:] = True
    j0 = j[np.flatnonzero(chunk)[np.cumsum(chunk) - 1]]              # j of each row's chunk start
    at = np.arange(n)
    at[ok] = starts[k[ok]] + (j0[ok] * sizes[k[ok]]) // sizes[blk[ok]] + (j - j0)[ok]
    out = np.empty(n, dtype=np.int64)
    out[o] = o[at]
    return out


def _block_moves(run: np.ndarray, count: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Whether each block (by part, counts falling inside a part) is read in the next block of its part,
    of count one less (``left_out_partners``): that block is at least as large and vacated."""
    moves = np.zeros(run.size, dtype=bool)
    vacated_next = False
    for b in range(run.size - 1, -1, -1):                         # the next block is decided first
        nxt = b + 1 < run.size and run[b + 1] == run[b] and count[b + 1] == count[b] - 1
        moves[b] = nxt and size[b + 1] >= size[b] and vacated_next
        vacated_next = moves[b] or count[b] == 1
    return moves


def unseen_shares(profile, evaluation) -> list:
    """Per table, the share of the evaluation's lookups to rows the profile never saw: Good-Turing's
    estimate from the profile alone (:func:`unseen_lookup_share`) beside the share measured.

    The estimate assumes the evaluation's samples are drawn as the profile's are (exchangeable).  A
    measured share well above the estimate says the trace drifts: it reads rows its profile could not
    know of (a time-ordered log whose later half brings new users and items, for instance), and every
    held-out figure of the cost model is optimistic by as much.  Returns
    ``[{"table", "predicted", "measured"}]``, in table order."""
    from ..workloads.hotsketch import table_ids
    out = []
    for t in range(profile.n_tables):
        ids, ev = table_ids(profile, t), table_ids(evaluation, t)
        rows, counts = np.unique(ids, return_counts=True)
        predicted = unseen_lookup_share(counts, samples_per_row(ids, table_samples(profile, t), rows))
        measured = float(np.mean(~np.isin(ev, rows))) if ev.size else 0.0
        out.append({"table": t, "predicted": predicted, "measured": measured})
    return out
