"""Synthetic embedding access traces: ``generate_trace(model, batches, batch_size)``.

Every table draws its own stream of rows, with its own random stream (a child
of ``SeedSequence(seed)``), so a table's accesses do not change when another
table is added or edited, and the same inputs and seed give the same trace
bit for bit.

Pooling (lookups per sample, the bag length) per table:

- ``fixed``: the mean itself; a fractional mean is rounded up or down at
  random so that the average is kept (2.25 -> 2 or 3, 25% threes);
- ``poisson``: Poisson(mean);
- ``lognormal``: exp(N(mu, sigma^2)) with mu = ln(mean) - sigma^2/2, so its
  mean is the table's mean, then randomly rounded as above
  (``pooling_sigma`` is sigma).

Access generators (a table's ``access.kind``, or one name for all tables):

- ``uniform``: every row equally likely, independently.
- ``zipf``: P(rank k) ~ k^-alpha over k = 1..rows (``ZipfSampler``: exact
  head, integral tail), ranks mapped to rows by a per-table seeded
  pseudo-random permutation (``RowPermutation``), so the hot rows are
  scattered, not rows 0..k.
- ``stackdist``: temporal locality from an LRU stack.  Each access, with
  probability ``reuse_p``, re-uses the row at LRU stack depth d, with
  P(d) ~ d^-stack_alpha on 1..m (m = distinct rows seen so far in this table;
  depth 1 is the row just used; d is the floor of a continuous power law on
  [1, m+1), drawn by inverse CDF, so stack_alpha <= 1 is allowed too);
  otherwise it is a *fresh draw* from the
  table's Zipf(alpha) popularity (alpha = 0: uniform).  The re-use clusters
  make the short-range locality, the Zipf draws the long-tailed popularity
  (a pure stack model with uniform fresh draws has no heavy head: its
  per-batch counts are near geometric).  Sequential by nature, so the stack
  walk is a Cython kernel (``_reuse.StackGenerator``, O(log n) per access).
- ``drift``: Zipf(alpha) whose rank -> row map moves over time.  Every
  ``drift_every`` batches, each rank of the hot set (the 65,536 most popular
  ranks, or all rows of a smaller table) independently with probability
  ``drift_fraction`` trades its row with a random colder rank (in a table
  not larger than the hot set, the chosen ranks trade rows among
  themselves).  So ``drift_fraction`` of the hot set is replaced per move
  while the shape of the popularity law stays the same (non-stationary
  traffic as CAFE and HSTU describe production recommendation traces).

Sequence models (a ``sequence`` section, see ``sequence.py``): every
sample draws one history length from the model's length distribution
(its own child of the seed), and each sequence table gets that many
lookups for the sample, the rows of its history in order, oldest first.
A sequence table with ``zipf`` access draws its rows i.i.d. from the
table's Zipf(alpha) popularity in one Cython pass (``_seqgen.zipf_rows``:
the same law as ``zipf`` cut into an alias table (``zipf_table.py``), a
counter-based random stream, no branch per id, and a cheaper seeded
rank -> row bijection), fast enough for 8192-long histories (``bench/seq_gen.py``).

Parameters a table's access spec leaves out take the values in
``DEFAULTS`` below (calibrated or assumed, each labelled); they are recorded
in ``trace.meta``.
"""
import math

import numpy as np

from ..errors import InputError
from ..progress import progress as progress_bar
from . import model as model_mod
from . import _perm  # type: ignore[attr-defined]  # compiled (Cython), no stub
from ._reuse import StackGenerator
from ._seqgen import zipf_rows, zipf_rows_into  # compiled (Cython)
from .trace import Trace
from .zipf import ZipfSampler
from .zipf_table import zipf_table

GENERATORS = ("uniform", "zipf", "stackdist", "drift")

# Values used when a table's access spec leaves a generator parameter out.
DEFAULTS = {
    # stackdist: fitted to Meta's dlrm_datasets 2021 locality_stats.txt by
    # `embsim trace fit` (seed 0; see fit.py and presets/dlrm_datasets_like.yaml).
    "reuse_p": 0.5996,
    "stack_alpha": 1.7856,
    # drift: assumption: one move per batch replacing 10% of the hot set, a
    # moderate churn between the stationary case (0) and a full reshuffle (1).
    "drift_every": 1,
    "drift_fraction": 0.1,
}

# drift: the hot set whose rows move is the HOT_SET most popular ranks.
HOT_SET = 1 << 16

# Indices generated per call of a table's stream (bounds the memory of the
# random numbers to a few times this many 8-byte values).
CHUNK = 1 << 22


# ------------------------------------------------------------ pooling ---
def _random_round(x, rng):
    """Round each value down or up at random so the expectation is kept."""
    lo = np.floor(x)
    return (lo + (rng.random(x.shape) < (x - lo))).astype(np.int64)


def draw_lengths(table, shape, rng):
    """int32 lookups per sample for ``table`` (shape [batches, batch_size])."""
    mean = float(table.pooling)
    dist = table.pooling_dist
    if dist == "fixed":
        if mean == int(mean):
            out = np.full(shape, int(mean), dtype=np.int64)
        else:
            out = _random_round(np.full(shape, mean), rng)
    elif dist == "poisson":
        out = rng.poisson(mean, size=shape)
    elif dist == "lognormal":
        s = float(table.pooling_sigma)
        out = _random_round(rng.lognormal(np.log(mean) - 0.5 * s * s, s, size=shape), rng)
    else:
        raise InputError(f"table '{table.name}': pooling_dist '{dist}': expected fixed, poisson or lognormal")
    if out.max(initial=0) > np.iinfo(np.int32).max:
        raise InputError(f"table '{table.name}': pooling draws exceed int32 lookups per sample")
    return out.astype(np.int32)


# ------------------------------------------------------ access streams ---
class RowPermutation:
    """A seeded pseudo-random permutation of 0..rows-1 (rank -> row) in O(1) memory.

    A 4-round Feistel network on the smallest even-bit domain 2^(2h) >= rows,
    with cycle walking (re-apply until the value falls below ``rows``; the
    domain is < 4x rows, so a few rounds on a shrinking remainder).  It is a
    true bijection, costs a few vectorised integer operations per draw, and
    needs no 40M-entry shuffled array per table (a shuffle of a 40M-row table
    takes seconds and 160 MB).
    """

    _C1 = np.uint64(0x9E3779B97F4A7C15)
    _C2 = np.uint64(0xBF58476D1CE4E5B9)

    def __init__(self, rows, rng):
        self.rows = int(rows)
        bits = max(2, int(self.rows - 1).bit_length())
        self.h = np.uint64((bits + 1) // 2)
        self.mask = np.uint64((1 << int(self.h)) - 1)
        self.keys = [np.uint64(k) for k in rng.integers(0, 2**63, size=4, dtype=np.int64)]
        self._keys = np.array(self.keys, dtype=np.uint64)

    def _round_trip(self, x):
        left, right = x >> self.h, x & self.mask
        for k in self.keys:
            f = (right * self._C1) ^ k
            f ^= f >> np.uint64(29)
            f *= self._C2
            f = (f >> np.uint64(32)) & self.mask
            left, right = right, left ^ f
        return (left << self.h) | right

    def reference(self, ranks):
        """The same map in plain numpy (the tests check the kernel against it)."""
        y = self._round_trip(np.asarray(ranks, dtype=np.uint64))
        bad = np.flatnonzero(y >= self.rows)
        while bad.size:
            y[bad] = self._round_trip(y[bad])
            bad = bad[y[bad] >= self.rows]
        return y.astype(np.int64)

    def __call__(self, ranks):
        """int64 rows of 0-based ``ranks`` (Cython kernel, one pass)."""
        ranks = np.ascontiguousarray(ranks, dtype=np.int64)
        out = np.empty(ranks.shape[0], dtype=np.int64)
        _perm.permute(ranks, out, self._keys, int(self.h), self.rows)
        return out


class _Uniform:
    def __init__(self, table, params, rng):
        self.rows, self.rng = table.rows, rng

    def __call__(self, n, batch):
        return self.rng.integers(0, self.rows, size=n, dtype=np.int64)


class _Zipf:
    def __init__(self, table, params, rng):
        self.rng = rng
        self.sampler = ZipfSampler(table.rows, params["alpha"])
        self.perm = RowPermutation(table.rows, rng)

    def __call__(self, n, batch):
        return self.perm(self.sampler.sample(self.rng, n))


class _FastZipf:
    """The Zipf law of ``_Zipf`` drawn in one Cython pass (``_seqgen.zipf_rows``, ``zipf_table``): sequence tables."""

    def __init__(self, table, params, rng, mode=None):
        self.rng = rng
        z = self.sampler = ZipfSampler(table.rows, params["alpha"])
        self.table = zipf_table(z)
        R = int(table.rows)
        self.bits = max(1, (R - 1).bit_length())
        keys = rng.integers(0, 2**63, size=4, dtype=np.int64).astype(np.uint64)
        keys[0] |= np.uint64(1)
        keys[2] |= np.uint64(1)
        self.mode = (1 if R < 2**31 else 2) if mode is None else int(mode)   # tests pick the mode
        if self.mode == 1:     # a coprime to R, c in 0..R-1
            a = int(rng.integers(1, max(R, 2)))
            while math.gcd(a, R) != 1:
                a = a % R + 1
            keys[0], keys[1] = np.uint64(a % R if R > 1 else 0), np.uint64(int(keys[1]) % R)
        self.keys = keys

    def kernel_args(self, mode=None):
        """The law and permutation arguments of ``zipf_rows`` after (out, seed); ``mode=0``: ranks."""
        t = self.table
        return (t.cols, t.coef, t.n_ranks, self.keys, self.bits, self.mode if mode is None else mode)

    def __call__(self, n, batch):
        out = np.empty(n, dtype=np.int64)
        zipf_rows(out, int(self.rng.integers(0, 2**63, dtype=np.int64)), *self.kernel_args())
        return out

    def fill(self, indices, starts, counts):
        """Draw sum(counts) rows straight into ``indices[starts[s]:starts[s] + counts[s]]`` (no copy)."""
        seed = int(self.rng.integers(0, 2**63, dtype=np.int64))
        zipf_rows_into(indices, starts, counts, seed, *self.kernel_args())

    def permutation_reference(self, ranks):
        """The kernel's rank -> row bijection in plain numpy (the tests compare them)."""
        k = self.keys
        if self.mode == 1:
            return (np.asarray(ranks, dtype=object) * int(k[0]) + int(k[1])) % self.sampler.n
        mask, shift = np.uint64((1 << self.bits) - 1), np.uint64(self.bits // 2 + 1)

        def mix(x):
            x = (x * k[0] + k[1]) & mask
            x ^= x >> shift
            x = (x * k[2] + k[3]) & mask
            return x ^ (x >> shift)

        y = mix(np.asarray(ranks, dtype=np.uint64))
        bad = np.flatnonzero(y >= np.uint64(self.sampler.n))
        while bad.size:
            y[bad] = mix(y[bad])
            bad = bad[y[bad] >= np.uint64(self.sampler.n)]
        return y.astype(np.int64)


class _StackDist:
    def __init__(self, table, params, rng, total):
        self.rng = rng
        self.zipf = _Zipf(table, params, rng)
        self.reuse_p = params["reuse_p"]
        self.stack = StackGenerator(total, table.rows, params["reuse_p"], params["stack_alpha"])

    def __call__(self, n, batch):
        u_reuse, u_depth = self.rng.random(n), self.rng.random(n)
        if self.stack.distinct == 0 and n:
            u_reuse[0] = 1.0            # the first access of a table is cold (its stack is empty)
        cold = self.zipf(int(np.count_nonzero(u_reuse >= self.reuse_p)), batch)
        out = np.empty(n, dtype=np.int64)
        self.stack.step(u_reuse, u_depth, cold, out)
        return out


class _Drift:
    def __init__(self, table, params, rng):
        self.rng = rng
        self.rows = table.rows
        self.sampler = ZipfSampler(table.rows, params["alpha"])
        self.base = RowPermutation(table.rows, rng)
        # rank -> rank map that the moves edit (identity at first); row = base(sigma[rank])
        self.perm = np.arange(table.rows, dtype=np.int32 if table.rows < 2**31 else np.int64)
        self.every = int(params["drift_every"])
        self.fraction = float(params["drift_fraction"])
        self.epoch = 0

    def _move(self):
        hot = min(self.rows, HOT_SET)
        chosen = np.flatnonzero(self.rng.random(hot) < self.fraction)
        if chosen.size == 0:
            return
        if self.rows <= hot:
            # small table: the chosen ranks trade rows among themselves
            self.perm[chosen] = self.perm[self.rng.permutation(chosen)]
            return
        k = min(chosen.size, self.rows - hot)
        chosen = chosen[:k]
        colder = hot + self.rng.choice(self.rows - hot, size=k, replace=False)
        a = self.perm[chosen].copy()
        self.perm[chosen] = self.perm[colder]
        self.perm[colder] = a

    def __call__(self, n, batch):
        epoch = batch // self.every
        while self.epoch < epoch:
            self._move()
            self.epoch += 1
        return self.base(self.perm[self.sampler.sample(self.rng, n)])


def access_params(table, kind, alpha=None):
    """The generator parameters one table uses (its spec, overrides, then DEFAULTS)."""
    acc = table.access
    p = {"kind": kind}
    if kind in ("zipf", "stackdist", "drift"):
        p["alpha"] = float(acc.alpha if alpha is None else alpha)
    if kind == "stackdist":
        p["reuse_p"] = float(acc.reuse_p if acc.reuse_p is not None else DEFAULTS["reuse_p"])
        p["stack_alpha"] = float(acc.stack_alpha if acc.stack_alpha is not None else DEFAULTS["stack_alpha"])
    if kind == "drift":
        p["drift_every"] = int(acc.drift_every if acc.drift_every is not None else DEFAULTS["drift_every"])
        p["drift_fraction"] = float(acc.drift_fraction if acc.drift_fraction is not None else DEFAULTS["drift_fraction"])
    return p


# ------------------------------------------------------------- driver ---
def _check_args(model, batches, batch_size, generator, alpha):
    if not isinstance(model, model_mod.ModelSpec):
        model = model_mod.load_model(model)
    batches, batch_size = _positive_int(batches, "batches"), _positive_int(batch_size, "batch_size")
    if generator is not None and generator not in GENERATORS:
        raise InputError(f"generator '{generator}': expected one of {', '.join(GENERATORS)}")
    if alpha is not None:
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            raise InputError(f"alpha {alpha!r}: expected a number >= 0") from None
        if not np.isfinite(alpha) or alpha < 0:
            raise InputError(f"alpha {alpha!r}: expected a number >= 0")
    return model, batches, batch_size, alpha


class TraceGenerator:
    """A seeded synthetic trace of ``batches`` x ``batch_size`` samples of ``model``, made a block at a time.

    :meth:`blocks` yields ``(lengths, indices)`` of consecutive runs of
    whole batches (``block_batches`` each, the last maybe fewer), holding
    about ``CHUNK`` lookups; every table keeps its own random streams and
    state from block to block.  The blocks depend on the model and the
    arguments only, never on where they go, so a trace written block by
    block (``write_generated_trace``) is bit for bit the one
    ``generate_trace`` returns.  Memory: one block, plus the generators'
    state (``stackdist`` keeps 12 bytes per lookup of its table in its LRU
    stack; the others a few arrays per table).
    """

    def __init__(self, model, batches, batch_size, generator=None, alpha=None, seed=0):
        self.model, self.batches, self.batch_size, self.alpha = _check_args(model, batches, batch_size, generator, alpha)
        self.generator, self.seed = generator, int(seed)
        m = self.model
        self.kinds = [generator or t.access.kind for t in m.tables]
        self.params = [access_params(t, k, self.alpha) for t, k in zip(m.tables, self.kinds)]
        self.seq_tables = set(m.sequence_table_indices())
        per_batch = self.batch_size * sum(float(t.pooling) for t in m.tables)
        self.block_batches = min(self.batches, max(1, int(CHUNK // max(per_batch, 1.0))))

    @property
    def meta(self):
        m = self.model
        return {
            "source": "generated",
            "model": m.name,
            "generator": self.generator or "per-table",
            "alpha_override": self.alpha,
            "seed": self.seed,
            "batches": self.batches,
            "batch_size": self.batch_size,
            "tables": [dict(name=tb.name, pooling=tb.pooling, pooling_dist=tb.pooling_dist,
                            **({"pooling_sigma": tb.pooling_sigma} if tb.pooling_dist == "lognormal" else {}), **p)
                       for tb, p in zip(m.tables, self.params)],
            **({"sequence": self._sequence_meta()} if self.seq_tables else {}),
        }

    def _sequence_meta(self):
        ln = self.model.sequence.length
        return {"tables": list(self.model.sequence.tables), "length_kind": ln.kind, "alpha": ln.alpha,
                "min_length": ln.min_length, "max_length": ln.max_length}

    def _pool_rngs(self):
        """(children seeds, rngs): one pooling rng per table, then the history-length rng of a sequence model."""
        root = np.random.SeedSequence(self.seed)
        children = root.spawn(self.model.n_tables)
        rngs = [np.random.default_rng(c.spawn(2)[0]) for c in children]
        return children, rngs + ([np.random.default_rng(root.spawn(1)[0])] if self.seq_tables else [])

    def _lengths(self, pool_rngs):
        """Yield each block's lengths, int32 [k, tables, batch_size]."""
        m, T, B = self.model, self.model.n_tables, self.batch_size
        for b0 in range(0, self.batches, self.block_batches):
            nb = min(self.block_batches, self.batches - b0)
            lengths = np.empty((nb, T, B), dtype=np.int32)
            if self.seq_tables:   # one history length per sample, shared by every sequence table
                history = m.sequence.length.sample(pool_rngs[T], (nb, B))
            for t, table in enumerate(m.tables):
                lengths[:, t, :] = history if t in self.seq_tables else draw_lengths(table, (nb, B), pool_rngs[t])
            yield b0, lengths

    def _table_totals(self):
        """Lookups of each table over the whole trace: one pass over the lengths alone (a stackdist
        table's stack is sized to them), with the same draws as the blocks will make."""
        tot = np.zeros(self.model.n_tables, dtype=np.int64)
        for _, lengths in self._lengths(self._pool_rngs()[1]):
            tot += lengths.sum(axis=(0, 2), dtype=np.int64)
        return tot

    def _streams(self):
        m = self.model
        children, pool_rngs = self._pool_rngs()
        totals = self._table_totals() if "stackdist" in self.kinds else None
        streams = []
        for t, table in enumerate(m.tables):
            kind, p = self.kinds[t], self.params[t]
            rng = np.random.default_rng(children[t].spawn(2)[1])
            if kind == "uniform":
                streams.append(_Uniform(table, p, rng))
            elif kind == "zipf":
                streams.append(_FastZipf(table, p, rng) if t in self.seq_tables else _Zipf(table, p, rng))
            elif kind == "stackdist":
                streams.append(_StackDist(table, p, rng, int(totals[t])))
            else:
                streams.append(_Drift(table, p, rng))
        return pool_rngs, streams

    def blocks(self, progress=False, out=None):
        """Yield ``(lengths int32 [k, tables, batch_size], indices int64)`` block after block.

        ``out``: an int64 array of the whole trace's lookups; each block's
        indices are then written into (and yielded as) its slice of ``out``.
        """
        T = self.model.n_tables
        pool_rngs, streams = self._streams()
        at = 0
        with progress_bar(total=self.batches, desc="generating", unit="batch",
                          enabled=None if progress else False) as bar:
            for b0, lengths in self._lengths(pool_rngs):
                nb = lengths.shape[0]
                per_seg = lengths.sum(axis=2, dtype=np.int64)           # [nb, tables]
                starts = np.concatenate([[0], np.cumsum(per_seg.ravel())]).astype(np.int64)
                n = int(starts[-1])
                indices = np.empty(n, dtype=np.int64) if out is None else out[at:at + n]
                at += n
                for t in range(T):
                    _fill(indices, starts, per_seg, t, T, streams[t], b0)
                bar.update(nb)
                yield lengths, indices


def generate_trace(model, batches, batch_size, generator=None, alpha=None, seed=0, progress=False):
    """A seeded synthetic ``Trace`` of ``batches`` x ``batch_size`` samples of ``model``, in memory.

    ``model`` is a ModelSpec, or a preset name / YAML path for ``load_model``.
    ``generator=None`` uses each table's own ``access.kind``; a name from
    ``GENERATORS`` overrides every table.  ``alpha`` overrides every table's
    Zipf exponent (the popularity law of zipf, drift and stackdist's fresh
    draws).  ``progress=True`` shows a bar on a terminal.  A trace too large
    for memory: :func:`write_generated_trace`.
    """
    gen = TraceGenerator(model, batches, batch_size, generator, alpha, seed)
    # one array for all the indices, filled block by block in place (no concatenation: first touches of
    # fresh memory and copies cost more than drawing the ids)
    indices = np.empty(int(gen._table_totals().sum()), dtype=np.int64)
    lengths = np.concatenate([lg for lg, _ in gen.blocks(progress, out=indices)])
    return Trace(lengths=lengths, indices=indices, table_rows=gen.model.table_rows,
                 table_names=[tb.name for tb in gen.model.tables], meta=gen.meta)


def write_generated_trace(path, model, batches, batch_size, generator=None, alpha=None, seed=0, progress=False,
                          force=False, batches_per_chunk=None):
    """Generate the trace ``generate_trace`` would and write it to ``path`` block by block; return its reader.

    A ``.trace`` path is written chunk by chunk in bounded memory (one block
    and one chunk); a ``.npz`` path collects the trace in memory first.
    """
    from .store import open_trace, open_trace_writer
    gen = TraceGenerator(model, batches, batch_size, generator, alpha, seed)
    m = gen.model
    with open_trace_writer(path, m.table_rows, [tb.name for tb in m.tables], gen.batch_size, force=force,
                           batches_per_chunk=batches_per_chunk) as w:
        for lengths, indices in gen.blocks(progress):
            w.append(lengths, indices)
        w.close(gen.meta)
    return open_trace(path, validate=False)


def _fill(indices, starts, per_seg, t, T, stream, b_first):
    """Write table ``t``'s stream into its segment of every batch of the block, a few batches per call."""
    B = per_seg.shape[0]
    if isinstance(stream, _FastZipf):      # one kernel call writes every segment of the block in place
        stream.fill(indices, np.ascontiguousarray(starts[t:B * T:T], dtype=np.int64),
                    np.ascontiguousarray(per_seg[:, t], dtype=np.int64))
        return
    b = 0
    while b < B:
        # group batches until the group holds about CHUNK indices (at least one batch)
        e, n = b + 1, int(per_seg[b, t])
        while e < B and n + per_seg[e, t] <= CHUNK and not isinstance(stream, _Drift):
            n += int(per_seg[e, t])
            e += 1
        rows = stream(n, b_first + b) if n else np.empty(0, dtype=np.int64)
        pos = 0
        for bb in range(b, e):
            s, k = int(starts[bb * T + t]), int(per_seg[bb, t])
            indices[s:s + k] = rows[pos:pos + k]
            pos += k
        b = e


def _positive_int(x, name):
    try:
        v = int(x)
    except (TypeError, ValueError):
        raise InputError(f"{name} {x!r}: expected a positive integer") from None
    if v != x and not (isinstance(x, str) and str(v) == x.strip()):
        raise InputError(f"{name} {x!r}: expected a positive integer")
    if v <= 0:
        raise InputError(f"{name} {v}: expected a positive integer (> 0)")
    return v
