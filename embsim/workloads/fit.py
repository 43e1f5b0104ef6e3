"""Fit generator parameters to a dlrm_datasets ``locality_stats.txt``.

The file (Meta's dlrm_datasets, ``locality_stats.txt``) has one or more
blocks, each like::

    fbgemm_t856_bs65536.pt
    Locality stats after processing 1 batches of size 65536
    Avg # of indices: 887017990
    ...
    Histogram of col sizes:
    (0, 1]: 0.473              <- 17 bins: share of unique rows
    ...
    Ratio of index distribution at different column sizes:
    (0, 1]: 0.069              <- 17 bins: share of accesses
    ...

The bins are the column-size bins of ``locality.py`` (how often a row is
looked up within one batch).  Several blocks are averaged bin by bin.

How a small trace reproduces a huge batch
-----------------------------------------
The 2021 file describes batches of 65,536 samples over 856 tables, about
887 million lookups per batch; we cannot generate that many per fit step.
But the histogram is a distribution over *absolute* per-batch counts, so it
does not depend on how many rows share a count, only on the shape of the
count distribution.  A trace with fewer lookups per batch reproduces it if
its rows take the same counts: fewer rows, same counts.  The fit therefore
uses one synthetic table of ``rows`` rows read by batches of
``FIT_BATCH_SIZE`` samples x ``FIT_POOLING`` lookups (2^20 lookups per
batch, ~1/850 of the original), and fits, together with the shape
parameters, the number of rows the popularity law spreads over.  The top
bin (> 32768 lookups) then holds a handful of rows with >= 3% of a batch,
as the hottest rows of the real file do.

Generators fitted (see ``generators.py``):

- ``stackdist`` (default): reuse_p, stack_alpha, alpha (Zipf of the fresh
  draws), rows.  The LRU re-use clusters make the hump of the histogram at
  4..32 lookups per row, the Zipf draws its flat long tail.
- ``zipf``: alpha, rows.

Search: Nelder-Mead over (parameters, log10 rows) on the TVD between the
target access shares and those of a one-batch trace of the generator itself,
with common random numbers (the same seed for every step) so that the
objective is a deterministic function of the parameters.  The reported TVD
is measured on the written sample trace (>= 10M lookups, several batches),
not on the search trace.
"""
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from typing import Optional

import numpy as np
from scipy import optimize

from ..errors import InputError
from ..fileio import note_input
from ..progress import progress as progress_bar
from . import locality
from .generators import generate_trace
from .model import AccessSpec, DenseSpec, ModelSpec, TableSpec

FIT_BATCH_SIZE = 4096
FIT_POOLING = 256           # 4096 x 256 = 2^20 lookups per batch
SAMPLE_MIN_INDICES = 10_000_000
MAX_EVALUATIONS = {"stackdist": 45, "zipf": 40}
LOG10_ROWS_RANGE = (2.0, 7.3)   # 100 .. 20M rows for the scaled-down table

HIST_HEADER = "Histogram of col sizes:"
ACCESS_HEADER = "Ratio of index distribution at different column sizes:"
_BIN_RE = re.compile(r"^\((\d+), (\d+)\]:\s*(\S+)$|^\((\d+)\+:\s*(\S+)$")
_EXPECTED_LABELS = locality.BIN_LABELS


# ------------------------------------------------------------- parsing ---
@dataclass
class LocalityBlock:
    name: str
    line: int
    n_indices: float | None
    row_share: np.ndarray
    access_share: np.ndarray


@dataclass
class LocalityStats:
    """The blocks of a locality_stats.txt and their bin-by-bin averages."""

    path: str
    blocks: list

    @property
    def row_share(self):
        v = np.mean([b.row_share for b in self.blocks], axis=0)
        return v / v.sum()

    @property
    def access_share(self):
        v = np.mean([b.access_share for b in self.blocks], axis=0)
        return v / v.sum()


def _read_bins(lines, start, path, header):
    """17 shares following the header at line index ``start`` (0-based)."""
    out = np.zeros(locality.N_BINS)
    for j in range(locality.N_BINS):
        i = start + 1 + j
        if i >= len(lines):
            raise InputError(f"{path}: line {i + 1}: file ends inside '{header}' "
                             f"(expected {locality.N_BINS} bins, got {j})")
        text = lines[i].strip()
        m = _BIN_RE.match(text)
        label = text.split(":")[0] if ":" in text else text
        if not m or label != _EXPECTED_LABELS[j]:
            raise InputError(f"{path}: line {i + 1}: '{text[:60]}': expected bin '{_EXPECTED_LABELS[j]}: <share>' "
                             f"of '{header}'")
        raw = m.group(3) if m.group(3) is not None else m.group(5)
        try:
            v = float(raw)
        except ValueError:
            raise InputError(f"{path}: line {i + 1}: share '{raw}' of bin {_EXPECTED_LABELS[j]}: "
                             f"expected a number between 0 and 1") from None
        if not (0.0 <= v <= 1.0) or not math.isfinite(v):
            raise InputError(f"{path}: line {i + 1}: share {raw} of bin {_EXPECTED_LABELS[j]}: "
                             f"expected a number between 0 and 1")
        out[j] = v
    total = out.sum()
    if not (0.9 <= total <= 1.1):
        raise InputError(f"{path}: line {start + 1}: '{header}' shares add up to {total:.3f}; expected about 1")
    return out


def read_locality_stats(path):
    """Parse a dlrm_datasets ``locality_stats.txt``; one-line InputError on any defect."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such locality stats file")
    note_input(path)
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected a dlrm_datasets locality_stats.txt)") from None
    if not any(l.strip() for l in lines):
        raise InputError(f"{path}: empty file (expected a dlrm_datasets locality_stats.txt)")
    blocks, cur = [], None
    prev_text = ""
    for i, raw in enumerate(lines):
        text = raw.strip()
        if text.startswith("Locality stats after processing"):
            cur = dict(name=prev_text or f"block {len(blocks) + 1}", line=i + 1, n_indices=None, rows=None)
        elif text.startswith("Avg # of indices:") and cur is not None:
            try:
                cur["n_indices"] = float(text.split(":", 1)[1])
            except ValueError:
                raise InputError(f"{path}: line {i + 1}: '{text}': expected a number of indices") from None
        elif text == HIST_HEADER:
            if cur is None or cur.get("rows") is not None:
                cur = dict(name=prev_text or f"block {len(blocks) + 1}", line=i + 1, n_indices=None, rows=None)
            cur["rows"] = _read_bins(lines, i, path, HIST_HEADER)
        elif text == ACCESS_HEADER:
            if cur is None or cur.get("rows") is None:
                raise InputError(f"{path}: line {i + 1}: '{ACCESS_HEADER}' without a '{HIST_HEADER}' before it "
                                 f"in its block")
            acc = _read_bins(lines, i, path, ACCESS_HEADER)
            blocks.append(LocalityBlock(cur["name"], cur["line"], cur["n_indices"], cur["rows"], acc))
            cur = None
        if text:
            prev_text = text
    if not blocks:
        raise InputError(f"{path}: no '{ACCESS_HEADER}' section found (expected a dlrm_datasets "
                         f"locality_stats.txt)")
    return LocalityStats(str(path), blocks)


def write_locality_stats(path, trace, name="trace", force=False):
    """Write ``trace``'s per-batch reuse histograms in the locality_stats.txt format (one block)."""
    from ..fileio import write_text
    rows, acc = locality.reuse_histogram(trace)
    n = trace.n_indices / trace.n_batches
    lines = [name, f"Locality stats after processing {trace.n_batches} batches of size {trace.batch_size}",
             f"Avg # of indices: {n:.0f}", HIST_HEADER]
    lines += [f"{lab}: {v:.3f}" for lab, v in zip(_EXPECTED_LABELS, rows)]
    lines += [ACCESS_HEADER]
    lines += [f"{lab}: {v:.3f}" for lab, v in zip(_EXPECTED_LABELS, acc)]
    write_text(path, "\n".join(lines) + "\n", force=force)


# ----------------------------------------------------------------- fit ---
def tvd(p, q):
    """Total variation distance 0.5 * sum |p - q| of two histograms (each normalised)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    return 0.5 * float(np.abs(p / p.sum() - q / q.sum()).sum())


def fitted_model(params, name="fitted"):
    """The one-table ModelSpec a fit's parameters describe (dim 64: irrelevant to locality)."""
    acc = AccessSpec(kind=params["kind"], alpha=params["alpha"],
                     reuse_p=params.get("reuse_p"), stack_alpha=params.get("stack_alpha"))
    table = TableSpec(name=name, rows=int(params["rows"]), dim=64, pooling=float(FIT_POOLING),
                      pooling_dist="fixed", access=acc)
    dense = DenseSpec(dense_features=1, bottom_mlp=(1,), top_mlp=(1,))
    return ModelSpec(name=name, tables=(table,), dense=dense,
                     source="embsim trace fit: one table scaled to 2^20 lookups per batch")


@dataclass
class FitResult:
    """Fitted parameters, the TVD reached and the histograms compared."""

    generator: str
    params: dict                      # kind, alpha, rows, [reuse_p, stack_alpha]
    tvd: float                        # on the sample trace (or on the search trace if no sample)
    target: np.ndarray                # access share per bin, averaged over the file's blocks
    achieved: np.ndarray              # access share per bin of the sample trace
    target_rows: Optional[np.ndarray] = None    # share of unique rows per bin (not fitted; for reference)
    achieved_rows: Optional[np.ndarray] = None
    search_tvd: Optional[float] = None
    evaluations: int = 0
    blocks: int = 1
    trace: object = field(default=None, repr=False)

    @property
    def model(self):
        if self.params.get("kind") == "mixture":
            from .fit_mixture import mixture_from_params, mixture_model
            return mixture_model(mixture_from_params(self.params))
        return fitted_model(self.params)

    def to_dict(self):
        r = lambda a: [round(float(x), 5) for x in a]
        return {
            "generator": self.generator,
            "params": self.params,
            "lookups_per_batch": self.params.get("lookups_per_batch", FIT_BATCH_SIZE * FIT_POOLING),
            "batch_size": self.params.get("batch_size", FIT_BATCH_SIZE),
            "pooling": None if self.generator == "mixture" else FIT_POOLING,
            "tvd": round(self.tvd, 5),
            "search_tvd": None if self.search_tvd is None else round(self.search_tvd, 5),
            "evaluations": self.evaluations,
            "blocks": self.blocks,
            "bins": list(_EXPECTED_LABELS),
            "target_access_share": r(self.target),
            "achieved_access_share": r(self.achieved),
            "target_row_share": r(self.target_rows) if self.target_rows is not None else None,
            "achieved_row_share": r(self.achieved_rows) if self.achieved_rows is not None else None,
            "sample_indices": None if self.trace is None else self.trace.n_indices,
        }


FIT_GENERATORS = ("stackdist", "zipf", "mixture")
_NAMES = {"stackdist": ("reuse_p", "stack_alpha", "alpha", "log10_rows"),
          "zipf": ("alpha", "log10_rows")}
_START = {"stackdist": [0.5, 1.0, 1.0, 5.5], "zipf": [1.0, 5.5]}
_STEP = {"reuse_p": -0.2, "stack_alpha": 0.5, "alpha": 0.15, "log10_rows": 1.0}
_BOUNDS = {"reuse_p": (0.0, 0.97), "stack_alpha": (0.1, 3.0), "alpha": (0.0, 2.5),
           "log10_rows": LOG10_ROWS_RANGE}


def _params(generator, x):
    p = dict(zip(_NAMES[generator], (float(v) for v in x)))
    out = {"kind": generator, "alpha": round(p["alpha"], 4), "rows": int(round(10 ** p["log10_rows"]))}
    if generator == "stackdist":
        out["reuse_p"] = round(p["reuse_p"], 4)
        out["stack_alpha"] = round(p["stack_alpha"], 4)
    return out


def _inside(generator, x):
    return all(_BOUNDS[n][0] <= v <= _BOUNDS[n][1] for n, v in zip(_NAMES[generator], x))


def achieved_histogram(params, batches=1, seed=0):
    """(row_share, access_share, trace) of a trace of the fitted one-table model."""
    tr = generate_trace(fitted_model(params), batches, FIT_BATCH_SIZE, seed=seed)
    rows, acc = locality.reuse_histogram(tr)
    return rows, acc, tr


def _fit_mixture(stats, seed, sample, sample_min_indices):
    """``fit_locality`` with the mixture family (``fit_mixture.py``), to access and row shares."""
    from . import fit_mixture as fm
    mix = fm.fit_mixture(stats.access_share, stats.row_share)
    batches = 1 if not sample else max(1, -(-int(sample_min_indices) // fm.FIT_LOOKUPS))
    acc, rows, tr = fm.measure(mix, batches=batches, seed=seed)
    d = tvd(acc, stats.access_share)
    tr.meta.update({"source": f"embsim trace fit {Path(stats.path).name} --generator mixture", "fit_tvd": d})
    return FitResult(generator="mixture", params=fm.mixture_params(mix), tvd=d, target=stats.access_share,
                     achieved=acc, target_rows=stats.row_share, achieved_rows=rows, search_tvd=None,
                     evaluations=0, blocks=len(stats.blocks), trace=tr if sample else None)


def fit_locality(path, generator="stackdist", seed=0, sample=True, max_evaluations=None,
                 sample_min_indices=None, progress=False):
    """Fit ``generator``'s parameters to the access shares of a locality_stats.txt.

    Returns a FitResult; with ``sample=True`` (default) it holds the sample
    trace (>= ``sample_min_indices`` lookups, default ``SAMPLE_MIN_INDICES`` =
    10M, in whole batches of 2^20) made with the fitted parameters, and
    ``tvd`` is measured on it.
    """
    if sample_min_indices is None:
        sample_min_indices = SAMPLE_MIN_INDICES
    if generator not in _NAMES and generator != "mixture":
        raise InputError(f"generator '{generator}': the fit supports {', '.join(FIT_GENERATORS)}")
    stats = read_locality_stats(path) if not isinstance(path, LocalityStats) else path
    if generator == "mixture":
        return _fit_mixture(stats, seed, sample, sample_min_indices)
    target = stats.access_share
    budget = max_evaluations or MAX_EVALUATIONS[generator]
    seen = {}

    def objective(x):
        if not _inside(generator, x):
            return 1.0 + sum(max(0.0, b[0] - v, v - b[1]) for v, b in zip(x, (_BOUNDS[n] for n in _NAMES[generator])))
        key = tuple(np.round(x, 6))
        if key not in seen:
            _, acc, _ = achieved_histogram(_params(generator, x), batches=1, seed=seed)
            seen[key] = tvd(acc, target)
            bar.update(1)
        return seen[key]

    bar = progress_bar(total=budget + 1, desc="fitting", unit="trace", enabled=None if progress else False)
    x0 = np.array(_START[generator], dtype=float)
    simplex = [x0] + [x0 + np.eye(len(x0))[i] * _STEP[n] for i, n in enumerate(_NAMES[generator])]
    res = optimize.minimize(objective, x0, method="Nelder-Mead",
                            options=dict(maxfev=budget, initial_simplex=np.array(simplex),
                                         xatol=1e-3, fatol=1e-4))
    best = _params(generator, res.x)
    search_tvd = float(res.fun)
    result = FitResult(generator=generator, params=best, tvd=search_tvd, target=target,
                       achieved=None, target_rows=stats.row_share, search_tvd=search_tvd,
                       evaluations=len(seen), blocks=len(stats.blocks))
    per_batch = FIT_BATCH_SIZE * FIT_POOLING
    batches = 1 if not sample else max(1, -(-int(sample_min_indices) // per_batch))
    rows, acc, tr = achieved_histogram(best, batches=batches, seed=seed)
    tr.meta.update({"source": f"embsim trace fit {Path(stats.path).name}", "fit_tvd": tvd(acc, target)})
    result.achieved, result.achieved_rows = acc, rows
    result.tvd = tvd(acc, target)
    result.trace = tr if sample else None
    bar.close()
    return result
