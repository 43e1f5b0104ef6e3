"""Per-user histories from MovieLens / RecBole logs: sequence traces for generative models.

``import_movielens_sequences(path, max_length, batch_size)`` reads the same
files as ``importers.import_movielens`` (MovieLens ``u.data`` or a RecBole
atomic ``.inter``) and makes one *sample per user*: the user's history,
oldest first, as in the sequence layout of ``trace.py``:

- interactions are ordered by timestamp, stably (ties keep file order), and
  grouped by user keeping that order, so every history is chronological;
- a history longer than ``max_length`` keeps its ``max_length`` most recent
  interactions (HSTU truncates the same way: the model sees the latest
  actions); ``meta["truncated_users"]`` counts the users cut;
- table 0 ``items`` holds the items (dense rows in order of first
  appearance in time order, as the two-table importer numbers them); when
  the file has ratings, table 1 ``ratings`` holds the action of each
  position, one row per distinct rating value in ascending order (the
  action table of HSTU; u.data always has ratings, a RecBole file when it
  has a ``rating`` field);
- users are ordered by the time of their last kept interaction, the moment
  a recommendation for them would be asked; ``timestamps_s`` holds that
  time, so ``simulate --arrival trace`` replays the users in time order;
- users are cut into batches of ``batch_size`` samples; a trailing partial
  batch is dropped and ``meta["dropped_users"]`` says how many.

Every sequence table of a sample has the same length (position j of items
and ratings is one interaction), and the lengths add up to the interactions
kept: sum(lengths) = tables x sum(min(history, max_length)).
"""
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import importers
from .trace import Trace


def import_movielens_sequences(path, max_length, batch_size):
    """Per-user chronological histories of a u.data / .inter file, truncated to ``max_length``."""
    path = Path(path)
    importers._check_file(path)
    importers._check_batch_size(batch_size, path)
    if not isinstance(max_length, (int, np.integer)) or max_length < 1:
        raise InputError(f"{path}: max_length {max_length!r}: expected a positive number of positions")
    first = importers._first_line(path)
    if first is None:
        raise InputError(f"{path}: empty file; expected MovieLens u.data lines or a RecBole .inter header "
                         f"({importers.RECBOLE_EXAMPLE})")
    users, items, ts, fmt, ratings = importers._read_interactions(path, first)
    import pandas as pd
    order = np.argsort(ts, kind="stable")                       # time order, ties keep file order
    u_codes, _ = pd.factorize(users[order], use_na_sentinel=False)
    i_codes, i_uniques = pd.factorize(items[order], use_na_sentinel=False)
    by_user = np.argsort(u_codes, kind="stable")                # group by user, keep time order inside
    u_sorted = u_codes[by_user]
    n_users = int(u_sorted[-1]) + 1 if u_sorted.size else 0
    count = np.bincount(u_sorted, minlength=n_users).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    keep = np.minimum(count, int(max_length))
    first_kept = start + count - keep                            # most recent max_length interactions
    last_ts = ts[order][by_user][start + count - 1]
    user_order = np.argsort(last_ts, kind="stable")              # users by the time of their last action
    n_batches = n_users // int(batch_size)
    if n_batches == 0:
        raise InputError(f"{path}: {n_users} users, fewer than one batch of {batch_size}; expected at least "
                         f"batch_size users (choose a smaller --batch-size)")
    chosen = user_order[: n_batches * int(batch_size)]
    lens = keep[chosen]
    pos = np.repeat(first_kept[chosen] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())
    rows_of = [i_codes[by_user][pos]]
    names, table_rows = ["items"], [len(i_uniques)]
    if ratings is not None:
        values, r_codes = np.unique(ratings[order][by_user], return_inverse=True)
        rows_of.append(r_codes.ravel()[pos])
        names.append("ratings")
        table_rows.append(int(values.size))
    return _batched(path, rows_of, lens, names, table_rows, last_ts[chosen], int(batch_size), dict(
        source=str(path), format=fmt, importer="movielens --sequences", interactions=int(ts.size),
        users=n_users, dropped_users=int(n_users - chosen.size), max_length=int(max_length),
        truncated_users=int((count[chosen] > max_length).sum()),
        kept_interactions=int(lens.sum()),
        sequence={"tables": names, "max_length": int(max_length)},
        rating_values=None if ratings is None else [float(v) for v in values],
        id_mapping="items: dense rows in order of first appearance after the stable sort by timestamp; "
                   "ratings: one row per distinct value, ascending"))


def _batched(path, rows_of, lens, names, table_rows, times_s, batch_size, meta):
    """The Trace: batch-major, then table, then user, then position (oldest first)."""
    T, nb = len(rows_of), lens.size // batch_size
    per_user = np.concatenate([[0], np.cumsum(lens)])
    indices = np.empty(T * int(per_user[-1]), dtype=np.int64)
    out = 0
    for b in range(nb):
        lo, hi = int(per_user[b * batch_size]), int(per_user[(b + 1) * batch_size])
        for t in range(T):
            indices[out:out + hi - lo] = rows_of[t][lo:hi]
            out += hi - lo
    lengths = np.repeat(lens.reshape(nb, 1, batch_size), T, axis=1).astype(np.int32)
    return Trace(lengths=lengths, indices=indices, table_rows=np.array(table_rows, dtype=np.int64),
                 table_names=names, timestamps_s=np.asarray(times_s, dtype=np.float64).reshape(nb, batch_size),
                 meta=meta).validate(str(path))
