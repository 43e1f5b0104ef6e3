"""The alias table of a Zipf law, drawn by the sequence kernel (``_seqgen``) without a branch per id.

The law is ``ZipfSampler``'s: ranks 0..K-1 with their exact weights, and a
tail whose continuous inverse ``ZipfSampler._tail_inverse`` is exact.  The
table cuts it into outcomes:

- the K head ranks, each with its probability;
- ``segments`` tail segments of equal mass (1 - p_head) / segments,
  segment j the part of the tail with v in [j/S, (j+1)/S); inside it a
  draw evaluates the quadratic through the continuous inverse at the
  segment's two ends and midpoint, minus 1/2, and truncates: the nearest
  rank, 0-based, as ``ZipfSampler.sample`` rounds.  A quadratic that would
  not be increasing on the segment (not seen for the laws here, but
  checked) is replaced by the chord;
- zero-probability padding up to N = 2^b columns (b >= 1), so that the
  kernel picks a column with a shift.

Walker's alias method (Vose's construction, "A linear algorithm for
generating random numbers with a given distribution", IEEE TSE 1991):
each column of mass 1/N holds its own outcome with probability thr and an
alias outcome otherwise; ``cols`` packs round(thr 2^32) (capped at
2^32 - 1, a full column then aliased to itself) above the alias index.
The quantised thresholds move each outcome's probability by at most
2^-32 / N per column it appears in, so the table's law is within a total
variation distance of 2^-32 of the outcome probabilities.
"""
from dataclasses import dataclass

import numpy as np

from .zipf import ZipfSampler

TAIL_SEGMENTS = 1 << 12
_SCALE = float(1 << 32)


@dataclass(frozen=True)
class ZipfTable:
    """The kernel's tables for one law: ``cols`` uint64 [N], ``coef`` float64 [N, 3], and what they encode."""

    cols: np.ndarray
    coef: np.ndarray
    probs: np.ndarray      # float64 [N]: each outcome's probability before quantisation
    head: int              # K: outcomes 0..K-1 are the head ranks
    segments: int          # S: outcomes K..K+S-1 are the tail segments
    n_ranks: int


def vose(p: np.ndarray) -> tuple:
    """(thr float64 [N], alias int64 [N]) of Walker's alias method for probabilities ``p`` (Vose's pairing)."""
    N = p.size
    q = np.asarray(p, dtype=np.float64) * N
    thr, alias = np.ones(N), np.arange(N, dtype=np.int64)
    small = [int(i) for i in np.flatnonzero(q < 1.0)[::-1]]
    large = [int(i) for i in np.flatnonzero(q >= 1.0)[::-1]]
    ql = q.tolist()
    while small and large:
        s, g = small.pop(), large.pop()
        thr[s], alias[s] = ql[s], g
        ql[g] = (ql[g] + ql[s]) - 1.0
        (small if ql[g] < 1.0 else large).append(g)
    # what is left is full up to rounding: those columns keep their own outcome
    return thr, alias


def _tail_coefficients(sampler: ZipfSampler, segments: int) -> np.ndarray:
    """[segments, 3]: c0, c1, c2 of each tail segment's quadratic (0-based rank before truncation)."""
    v = np.arange(2 * segments + 1, dtype=np.float64) / (2 * segments)
    g = sampler._tail_inverse(v) - 0.5
    g0, gm, g1 = g[0:-1:2], g[1::2], g[2::2]
    c = np.stack([g0, 4 * gm - 3 * g0 - g1, 2 * g0 + 2 * g1 - 4 * gm], axis=1)
    bent = (c[:, 1] < 0) | (c[:, 1] + 2 * c[:, 2] < 0)          # not increasing on [0, 1]: use the chord
    c[bent, 1], c[bent, 2] = (g1 - g0)[bent], 0.0
    return c


def zipf_table(sampler: ZipfSampler, segments: int = TAIL_SEGMENTS) -> ZipfTable:
    """The alias table of ``sampler``'s law (module docstring)."""
    K = sampler._k
    head_p = np.diff(np.concatenate([[0.0], sampler._head_cdf])) * sampler._p_head
    S = segments if sampler.n > K else 0
    n_out = K + S
    N = 1 << max(1, (n_out - 1).bit_length())
    probs = np.zeros(N)
    coef = np.zeros((N, 3))
    probs[:K] = head_p
    coef[:K, 0] = np.arange(K, dtype=np.float64)
    if S:
        probs[K:n_out] = (1.0 - sampler._p_head) / S
        coef[K:n_out] = _tail_coefficients(sampler, S)
    probs /= probs.sum()
    thr, alias = vose(probs)
    t = np.minimum(np.round(thr * _SCALE), _SCALE - 1).astype(np.uint64)
    alias = np.where(thr >= 1.0, np.arange(N), alias).astype(np.uint64)
    cols = (t << np.uint64(32)) | alias
    return ZipfTable(cols=cols, coef=coef, probs=probs, head=K, segments=S, n_ranks=sampler.n)


def outcome_probabilities(table: ZipfTable) -> np.ndarray:
    """float64 [N]: each outcome's probability as the quantised table draws it (the tests check it)."""
    N = table.cols.size
    thr = (table.cols >> np.uint64(32)).astype(np.float64) / _SCALE
    alias = (table.cols & np.uint64(0xFFFFFFFF)).astype(np.int64)
    own = np.where(alias == np.arange(N), 1.0, thr)
    return (own + np.bincount(alias, weights=np.where(alias == np.arange(N), 0.0, 1.0 - thr), minlength=N)) / N
