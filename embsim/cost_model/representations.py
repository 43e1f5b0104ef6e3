"""Candidate representations of an embedding table: dense dtypes and tensor-train.

A representation trades memory for accuracy and, for tensor-train, for
compute.  embsim models the memory, bytes read and multiply-adds of each, NOT
its effect on model accuracy: quantisation (DQRM, FBGEMM row-wise int8/int4)
and tensor-train decomposition (TT-Rec, Rec-AD, SCRec) change what the model
predicts, and whether that is acceptable is the user's call.  That is why the
default is the table's own dtype only; a user opts in to the others with
``representations=("fp32", "fp16", "int8", "int4", "tt")``.

Dense
    ``rows x dim`` values.  Quantised int8/int4 rows carry a per-row scale and
    bias as FBGEMM's fused row-wise formats do (fp32 pair = 8 B for int8, fp16
    pair = 4 B for int4).  A dense table can be split by hot rank across the
    tiers of its device.  Only dtypes no wider than the table's own are
    candidates (a table cannot gain precision).

Tensor-train (3 cores, ranks [1, r, r, 1])
    rows = n1 n2 n3 (padded up: n_i near the cube root), dim = d1 d2 d3.
    Core k holds n_k x d_k x r_{k-1} x r_k values.  A lookup reads one slice
    of each core, ``d1 r + r d2 r + r d3`` values, and rebuilds the row with
    ``r d1 d2 (r + d3)`` multiply-adds (first G1 x G2, then x G3).  The cores
    are small and shared by all rows, so a TT table lives whole in one tier.
    Ranks: 8, 16, 32 (TT-Rec's range); a TT candidate is offered only when it
    is at least 2x smaller than the dense fp32 table.

Row sharing (``hash:RATIO``, ``qr:RATIO``, ``cafe:RATIO[:LEVELS]``, ``memrec:RATIO[:K]``)
    The hashing trick, quotient-remainder, CAFE and Mem-Rec, sized by a
    compression ratio 0 < RATIO < 1 of the table's own dense bytes (see
    :mod:`.compressed` for each structure and its source).  Their lookups read
    other physical rows than the logical ones; the simulation replays those.
    Like TT, such a table lives whole in one slot.  A candidate is offered
    only when it is smaller than the table's own dense form, and, with a
    collision budget (``max_collision_share``), only when its predicted
    collision share is within it.

Error bound (``Representation.rel_error_bound``, a proxy, not accuracy)
    Row-wise asymmetric quantisation to b bits rounds each element to the
    nearest of 2^b levels spanning the row's [min, max]: the error is at most
    half a step, ``1 / (2 (2^b - 1))`` of the row's range (int8: 1/510,
    int4: 1/30).  fp16 rounds to 11 significant bits: at most 2^-11 of the
    value (normal range).  fp32 is the reference (0).
"""
import math

from ..errors import InputError
from ..workloads.model import DTYPE_BYTES
from .compressed import COMPRESSED_KINDS, canonical_name, compressed, parse_compressed
from .plan import Representation

DENSE_KINDS = ("fp32", "fp16", "int8", "int4")
TT_RANKS = (8, 16, 32)
# Row-wise quantisation metadata per row (FBGEMM fused formats): scale + bias.
ROWWISE_META_B = {"fp32": 0.0, "fp16": 0.0, "int8": 8.0, "int4": 4.0}
TT_DTYPE = "fp32"
TT_MIN_SAVING = 2.0
# per-element error bound of each dense format (see the module docstring)
REL_ERROR_BOUND = {"fp32": 0.0, "fp16": 2.0 ** -11, "int8": 1.0 / (2 * 255), "int4": 1.0 / (2 * 15)}
EXPECTED = "fp32, fp16, int8, int4, tt, tt<rank>, hash:R, qr:R, cafe:R[:LEVELS], memrec:R[:K] with 0 < R < 1"


def parse_allowed(spec):
    """Normalise a representation list ("fp32,int8,tt" or a sequence) to a tuple of names.

    ``tt`` means every rank in TT_RANKS; ``tt16`` one rank.  None -> ("own",):
    the table's own dtype only.
    """
    if spec is None:
        return ("own",)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for raw in items:
        name = str(raw).strip().lower()
        if not name:
            continue
        if name in DENSE_KINDS or name == "own":
            out.append(name)
        elif name == "tt":
            out += [f"tt{r}" for r in TT_RANKS]
        elif name.startswith("tt") and name[2:].isdigit() and int(name[2:]) > 0:
            out.append(name)
        elif name.split(":")[0] in COMPRESSED_KINDS:
            out.append(canonical_name(*parse_compressed(raw)))
        else:
            raise InputError(f"representations: unknown representation '{raw}' (expected a comma list of {EXPECTED})")
    if not out:
        raise InputError("representations: empty list (expected e.g. fp32,int8)")
    return tuple(dict.fromkeys(out))


def dense(table, dtype):
    row_b = table.dim * DTYPE_BYTES[dtype] + (ROWWISE_META_B[dtype] if dtype != table.dtype else 0.0)
    bound = REL_ERROR_BOUND[dtype] if DTYPE_BYTES[dtype] < DTYPE_BYTES[table.dtype] else 0.0
    return Representation(kind="dense", dtype=dtype, bytes=table.rows * row_b, row_bytes=row_b,
                          macs_per_lookup=0.0, rel_error_bound=bound)


def factor3(n, exact):
    """Three integer factors of ``n``, as balanced as possible.

    exact=True: their product is n (for the dim).  exact=False: the smallest
    balanced product >= n (for rows, which may be padded).
    """
    if not exact:
        a = max(1, math.ceil(round(n ** (1 / 3), 9)))
        b = max(1, math.ceil(math.sqrt(n / a)))
        c = max(1, math.ceil(n / (a * b)))
        return sorted((a, b, c))
    best = None
    for a in range(1, int(round(n ** (1 / 3))) + 2):
        if n % a:
            continue
        m = n // a
        for b in range(a, int(math.isqrt(m)) + 1):
            if m % b == 0:
                f = (a, b, m // b)
                if best is None or max(f) < max(best):
                    best = f
    return list(best or (1, 1, n))


def tensor_train(table, rank):
    n1, n2, n3 = factor3(table.rows, exact=False)
    d1, d2, d3 = factor3(table.dim, exact=True)
    r = rank
    params = n1 * d1 * r + n2 * d2 * r * r + n3 * d3 * r
    read = d1 * r + r * d2 * r + r * d3
    b = DTYPE_BYTES[TT_DTYPE]
    return Representation(kind="tt", dtype=TT_DTYPE, tt_ranks=[1, r, r, 1], tt_row_factors=[n1, n2, n3],
                          tt_dim_factors=[d1, d2, d3], bytes=float(params * b), row_bytes=float(read * b),
                          macs_per_lookup=float(r * d1 * d2 * (r + d3)))


def candidates(table, allowed=None, distinct=None, curve=None, max_collision_share=None):
    """The representations a table may take, its own dtype first (list of Representation).

    ``distinct``: features accessed (for the predicted collision share; default
    every row); ``curve``: the table's coverage curve (CAFE's hot share);
    ``max_collision_share``: leave out row-sharing candidates predicted above it.
    """
    allowed = parse_allowed(allowed)
    own_b = DTYPE_BYTES[table.dtype]
    out, seen = [], set()

    def add(rep):
        if rep.label not in seen:
            seen.add(rep.label)
            out.append(rep)

    # the table's own dtype is always a candidate, so a plan exists whenever the dense table fits
    if "own" in allowed or table.dtype in allowed:
        add(dense(table, table.dtype))
    for name in allowed:
        if name in DENSE_KINDS and DTYPE_BYTES[name] <= own_b:
            add(dense(table, name))
    fp32_bytes = table.rows * table.dim * DTYPE_BYTES["fp32"]
    for name in allowed:
        if name.startswith("tt"):
            rep = tensor_train(table, int(name[2:]))
            if rep.bytes * TT_MIN_SAVING <= fp32_bytes:
                add(rep)
    for name in allowed:
        if name.split(":")[0] in COMPRESSED_KINDS:
            rep = compressed(table, name, distinct, curve)
            within = max_collision_share is None or rep.collision_share <= max_collision_share
            if rep.bytes < table.bytes and within:
                add(rep)
    if not out:      # only wider dtypes than the table's own were allowed: fall back to its own
        add(dense(table, table.dtype))
    return out


def saving(table, rep):
    """Memory saving of ``rep`` over the table's own dense dtype, as a ratio (>= 0)."""
    return 1.0 - rep.bytes / table.bytes if table.bytes else 0.0
