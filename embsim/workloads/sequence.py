"""Sequence features and HSTU layers: the parts of a generative recommender.

A generative recommender in the sense of HSTU (Zhai et al., "Actions Speak
Louder than Words: Trillion-Parameter Sequential Transducers for Generative
Recommendations", ICML 2024, arXiv:2402.17152) reads a user's history of
actions as one long sequence: at every history position it looks up one row
of the item table (and one row of each action table: the kind of action,
e.g. a rating, on that item), then runs a stack of HSTU layers over the
sequence.  So its embedding traffic is one lookup per history position and
sequence table, unpooled, and its compute grows with the square of the
length.

A model YAML gives the sequence part as a ``sequence`` section::

    sequence:
      tables: [items, ratings]          # tables looked up once per history position
      length: {kind: powerlaw, alpha: 1.2, min: 20, max: 8192}
      hstu: {layers: 24, d_model: 512, heads: 8, d_qk: 64, d_v: 64,
             rab_position_buckets: 8192, rab_time_buckets: 128}

``length`` is the distribution of a user's history length (after truncation
to ``max``): ``powerlaw`` P(L) ~ L^-alpha on the integers min..max (a
discrete truncated power law), ``uniform`` on min..max, or ``fixed`` (every
history is ``max`` long).  Every sequence table of a sample has the same
length: position j of the items and of the ratings are the same event.

HSTU layer and its FLOPs
------------------------
One HSTU layer on a sequence X of n positions and width d (paper, eqs. 1-3)::

    U, V, Q, K = Split(phi1(f1(X)))                     (1) pointwise projection
    A(X)V(X)   = phi2(Q K^T + rab^{p,t}) V              (2) pointwise aggregated attention
    Y(X)       = f2(Norm(A(X)V(X)) * U(X))              (3) pointwise transformation

with h heads, d_qk per head for Q and K and d_v per head for U and V,
phi1 = phi2 = SiLU, no softmax, and rab^{p,t} the relative attention bias
(a learned bias per relative position bucket plus one per bucket of the
time gap between the two actions).  ``n_pairs(n)`` query/key pairs are
scored: n(n+1)/2 with the causal mask the paper uses, n^2 without.
Floating-point operations of one layer (a multiply-add counts 2):

    f1 projection      2 n d h (2 d_qk + 2 d_v)
    Q K^T              2 h d_qk P              (P = n_pairs(n))
    scores * V         2 h d_v  P
    f2 projection      2 n (h d_v) d
    pointwise          P (1 + 6 h) + 6 n h d_v

The matrix products (the first four lines) run on tensor (GPU) or cube
(Ascend) units.  Pointwise: the bias rab = rab_p + rab_t is built once per
pair (1 add, shared by the heads as in the reference implementation), and
per pair and head the bias is added (1), SiLU x*sigmoid(x) costs 4 (exp,
add, divide, multiply) and the 1/n scaling 1; per position and head-value
element the output layer norm costs 5 and the gating by U 1.  At the
shapes of hstu_large (d_qk = d_v = 64, n = 8192) the pointwise share is
about 2% of the FLOPs: they are charged at the same rate as the matrix
products, a simplification the simulation states.

Lengths enter as a whole batch: ``HstuSpec.flops(lengths)`` sums the
per-sequence FLOPs over a batch's jagged lengths (the fused jagged kernels
of the paper do no work on padding).
"""
from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from .. import config

LENGTH_KINDS = ("powerlaw", "uniform", "fixed")
# pointwise FLOPs, as counted in the module docstring
RAB_FLOPS_PER_PAIR = 1
POINTWISE_FLOPS_PER_PAIR_HEAD = 6       # bias add 1, SiLU 4, 1/n scaling 1
POINTWISE_FLOPS_PER_VALUE = 6           # layer norm 5, gating by U 1


# ----------------------------------------------------------------- schema ---
class LengthSchema(config.Schema):
    kind: Literal["powerlaw", "uniform", "fixed"] = "powerlaw"
    alpha: float = Field(1.0, ge=0, description="powerlaw: P(L) ~ L^-alpha")
    min: PositiveInt = Field(1, description="shortest history (powerlaw, uniform)")
    max: PositiveInt = Field(description="longest history: histories are truncated to it")

    @model_validator(mode="after")
    def _order(self):
        if self.kind != "fixed" and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}: expected min <= max")
        return self


class HstuSchema(config.Schema):
    layers: PositiveInt
    d_model: PositiveInt
    heads: PositiveInt
    d_qk: PositiveInt
    d_v: PositiveInt
    causal: bool = True
    rab_position_buckets: int = Field(0, ge=0, description="relative-position bias buckets (0: none)")
    rab_time_buckets: int = Field(0, ge=0, description="time-gap bias buckets (0: none)")


class SequenceSchema(config.Schema):
    tables: list[str] = Field(min_length=1)
    length: LengthSchema
    hstu: HstuSchema
    source: str = ""


# ---------------------------------------------------------------- objects ---
@dataclass(frozen=True)
class LengthSpec:
    """Distribution of a history's length, integers in [min_length, max_length]."""

    kind: str = "powerlaw"
    alpha: float = 1.0
    min_length: int = 1
    max_length: int = 8192

    def support(self):
        lo = self.max_length if self.kind == "fixed" else self.min_length
        return np.arange(lo, self.max_length + 1, dtype=np.int64)

    def pmf(self):
        """(lengths, probabilities) over the support."""
        L = self.support()
        if self.kind == "powerlaw":
            w = L.astype(np.float64) ** -self.alpha
        else:
            w = np.ones(L.size)
        return L, w / w.sum()

    @property
    def mean(self):
        L, p = self.pmf()
        return float((L * p).sum())

    def sample(self, rng, size):
        """int32 lengths of ``size`` histories (inverse CDF on the exact pmf)."""
        L, p = self.pmf()
        cdf = np.cumsum(p)
        cdf[-1] = 1.0
        k = np.searchsorted(cdf, rng.random(size), side="right")
        return L[np.minimum(k, L.size - 1)].astype(np.int32)


@dataclass(frozen=True)
class HstuSpec:
    """A stack of HSTU layers (see the module docstring for the FLOP count)."""

    layers: int
    d_model: int
    heads: int
    d_qk: int
    d_v: int
    causal: bool = True
    rab_position_buckets: int = 0
    rab_time_buckets: int = 0

    def n_pairs(self, n):
        """Query/key pairs scored in a sequence of ``n`` positions."""
        n = np.asarray(n, dtype=np.float64)
        return n * (n + 1) / 2 if self.causal else n * n

    def layer_flops_parts(self, n):
        """FLOPs of one layer on one sequence of length ``n``, by part (dict of floats or arrays)."""
        d, h, dqk, dv = self.d_model, self.heads, self.d_qk, self.d_v
        n = np.asarray(n, dtype=np.float64)
        P = self.n_pairs(n)
        return {
            "f1_projection": 2.0 * n * d * h * (2 * dqk + 2 * dv),
            "qk": 2.0 * h * dqk * P,
            "av": 2.0 * h * dv * P,
            "f2_projection": 2.0 * n * h * dv * d,
            "pointwise": P * (RAB_FLOPS_PER_PAIR + POINTWISE_FLOPS_PER_PAIR_HEAD * h)
                         + POINTWISE_FLOPS_PER_VALUE * n * h * dv,
        }

    def layer_flops(self, n):
        """FLOPs of one HSTU layer on one sequence of ``n`` positions (eqs. 1-3 of Zhai et al. 2024)."""
        return sum(self.layer_flops_parts(n).values())

    def flops(self, lengths):
        """FLOPs of the whole stack on a batch of sequences of the given jagged ``lengths``."""
        lengths = np.asarray(lengths, dtype=np.float64)
        return float(self.layers * np.sum(self.layer_flops(lengths)))

    @property
    def parameters(self):
        """Dense parameters: f1 and f2 weights and biases, norms, and the relative attention bias."""
        d, h, dqk, dv = self.d_model, self.heads, self.d_qk, self.d_v
        per_layer = d * h * (2 * dqk + 2 * dv) + h * (2 * dqk + 2 * dv) + h * dv * d + d + 2 * h * dv
        per_layer += self.rab_position_buckets + self.rab_time_buckets
        return self.layers * per_layer


@dataclass(frozen=True)
class SequenceSpec:
    """The sequence part of a model: which tables it reads per position, lengths, and the HSTU stack."""

    tables: tuple
    length: LengthSpec
    hstu: HstuSpec
    source: str = ""

    @property
    def max_length(self):
        return self.length.max_length


def sequence_from_schema(s: SequenceSchema) -> SequenceSpec:
    ln = s.length
    length = LengthSpec(kind=ln.kind, alpha=float(ln.alpha), min_length=int(ln.min), max_length=int(ln.max))
    return SequenceSpec(tables=tuple(s.tables), length=length, hstu=HstuSpec(**s.hstu.model_dump()),
                        source=s.source)


def attention_flops_per_batch(model, lengths) -> Optional[np.ndarray]:
    """float64 [batches]: HSTU FLOPs of each batch of a trace's ``lengths`` [batches, tables, batch_size].

    None for a model without a sequence part.  The history length of a sample
    is its bag length in the first sequence table.
    """
    seq = getattr(model, "sequence", None)
    if seq is None:
        return None
    t = [tb.name for tb in model.tables].index(seq.tables[0])
    L = np.asarray(lengths)[:, t, :].astype(np.float64)
    return seq.hstu.layers * seq.hstu.layer_flops(L).sum(axis=1)
