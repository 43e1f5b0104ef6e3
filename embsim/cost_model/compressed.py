"""Row-sharing representations: the hashing trick, quotient-remainder, CAFE and Mem-Rec.

Each one replaces a table of ``n`` rows x ``d`` values by one or more smaller
*physical* tables and says, for a lookup of feature ``x``, which physical
rows it reads.  embsim models the memory, the rows read per lookup (the
replay sees them: see ``embsim.sim.physical``) and the compute to combine
them, NOT the model's accuracy; the collision share below is a proxy that
needs no training.  The compression ratio ``c`` (0 < c < 1) is the target
size as a share of the dense table in its own dtype; physical rows keep the
table's dtype and dim.

hash:c     Hashing trick (Weinberger et al., "Feature Hashing for Large Scale
           Multitask Learning", ICML 2009): ``m = ceil(c n)`` rows, feature x
           reads row ``h(x) mod m``.  1 read, no compute.
qr:c       Quotient-remainder trick (Shi et al., "Compositional Embeddings
           Using Complementary Partitions for Memory-Efficient Recommendation
           Systems", KDD 2020): a remainder table of ``m`` rows (row ``x mod
           m``) and a quotient table of ``ceil(n / m)`` rows (row ``x // m``),
           combined element-wise (their default, multiply: ``d`` MACs).  2
           reads; ``m + n/m`` rows is at least ``2 sqrt(n)``, so a ratio below
           that is offered at that size.  Every feature gets a distinct pair.
cafe:c[:L] CAFE (Zhang et al., "CAFE: Towards Compact, Adaptive, and Fast
           Embedding for Large-scale Recommendation Models", SIGMOD 2024): a
           HotSketch (``embsim.workloads.hotsketch``) finds the hot features;
           each gets a unique row, the others share rows through ``L`` hash
           tables (multi-level hash embedding).  Our reading of the levels
           ("by importance"): a non-hot feature the sketch still tracks
           (medium) reads one row in each of the ``L`` tables and sums them;
           a feature the sketch does not track (cold) reads its row in the
           first table only.  Budget split (assumption: CAFE tunes the hot
           share per data set): ``CAFE_HOT_SHARE`` of the rows are hot rows,
           the sketch has ``CAFE_SKETCH_SLOTS_PER_HOT`` slots per hot row at
           ``SKETCH_SLOT_B`` bytes (key, count, row pointer), the rest are hash
           rows split evenly over the levels.  Reads: 1, or L for medium.
memrec:c[:k] Mem-Rec (Jha et al., "Mem-Rec: Memory Efficient Recommendation
           System using Alternative Representation", 2023): ``z(x) = alpha(x)
           M phi(x)``: ``k`` hashes of x pick ``k`` rows of a token table
           (``m_t`` rows of d values, summed: a Bloom-filter signature times
           M) and one hash picks a scalar weight in a weight table.  Sizes
           (assumption: the paper sizes both by the budget): ``m_w = m_t``
           weights of one value each, so ``m_t (d + 1)`` values fill the
           budget.  Reads: ``k + 1``; compute ``k d`` adds + ``d`` multiplies.

Collision share (quality proxy): the share of a table's lookups whose feature
is indistinguishable from another accessed feature, i.e. its set of physical
rows equals another's.  For one-row encodings (hash, CAFE's cold and hot
features) that is "its physical row is shared with another feature".  The
cost model predicts it from the number ``U`` of distinct accessed features
(the trace's, else every row) with a uniform hash: ``1 - (1 - p)^(U - 1)``,
``p`` the chance that two features share an encoding; the simulation
measures it on the transformed stream (``SimResult.quality``).
"""
import math

from ..errors import InputError
from ..workloads.model import DTYPE_BYTES
from .plan import Representation

COMPRESSED_KINDS = ("hash", "qr", "cafe", "memrec")
CAFE_HOT_SHARE = 0.5              # assumption: half of the budget's rows hold unique rows of hot features
CAFE_SKETCH_SLOTS_PER_HOT = 2     # assumption: the sketch tracks twice as many features as it can promote
SKETCH_SLOTS_PER_BUCKET = 4       # CAFE's HotSketch: 4 (key, count) slots per bucket
SKETCH_SLOT_B = 16                # int64 key + count + row pointer (4 B each)
CAFE_MAX_LEVELS = 4
MEMREC_DEFAULT_K = 2              # assumption: two token hashes (a Bloom signature of 2 bits)
MEMREC_MAX_K = 8
WEIGHT_VALUE_B = 4.0              # Mem-Rec weights are fp32 scalars
MAX_PHYSICAL_ROWS = 2 ** 32       # the row hash maps to [0, m) with a 32-bit multiply-shift


def parse_compressed(raw):
    """(kind, ratio, extra) from "hash:0.01", "cafe:0.001:2", "memrec:0.001:3"; InputError otherwise."""
    parts = str(raw).strip().lower().split(":")
    kind = parts[0]
    expect = {"hash": "hash:RATIO", "qr": "qr:RATIO", "cafe": "cafe:RATIO[:LEVELS]", "memrec": "memrec:RATIO[:K]"}[kind]
    if len(parts) < 2 or len(parts) > (3 if kind in ("cafe", "memrec") else 2):
        raise InputError(f"representations: '{raw}': expected {expect}, e.g. {kind}:0.01")
    try:
        ratio = float(parts[1])
    except ValueError:
        raise InputError(f"representations: '{raw}': ratio '{parts[1]}' is not a number "
                         f"(expected {expect} with 0 < RATIO < 1)") from None
    if not (0.0 < ratio < 1.0):
        raise InputError(f"representations: '{raw}': ratio {parts[1]} (expected 0 < RATIO < 1: the share of the "
                         f"dense table's memory to keep)")
    extra = None
    if len(parts) == 3:
        lim = CAFE_MAX_LEVELS if kind == "cafe" else MEMREC_MAX_K
        if not parts[2].isdigit() or not 1 <= int(parts[2]) <= lim:
            raise InputError(f"representations: '{raw}': {'levels' if kind == 'cafe' else 'k'} '{parts[2]}' "
                             f"(expected an integer 1..{lim})")
        extra = int(parts[2])
    return kind, ratio, extra


def canonical_name(kind, ratio, extra):
    return f"{kind}:{ratio:g}" + (f":{extra}" if extra is not None else "")


def _p_collide(p, distinct):
    """Chance that one of ``distinct - 1`` other features shares an encoding of probability ``p``."""
    others = max(0.0, float(distinct) - 1.0)
    if p <= 0 or others == 0:
        return 0.0
    return -math.expm1(others * math.log1p(-min(p, 1.0))) if p < 1 else 1.0


def _rep(table, kind, ratio, physical_rows, reads, macs, collision, params):
    """A Representation whose physical tables all hold rows of the table's dim and dtype."""
    row_b = table.dim * DTYPE_BYTES[table.dtype]
    bytes_ = float(sum(physical_rows) * row_b + params.get("sketch_B", 0.0))
    return Representation(kind=kind, dtype=table.dtype, bytes=bytes_, row_bytes=float(reads * row_b),
                          macs_per_lookup=float(macs), ratio=ratio, physical_rows=[int(r) for r in physical_rows],
                          reads_per_lookup=float(reads), collision_share=float(collision), params=params)


def hashed(table, ratio, distinct):
    m = max(1, math.ceil(ratio * table.rows))
    return _rep(table, "hash", ratio, [m], 1, 0.0, _p_collide(1.0 / m, distinct), {})


def quotient_remainder(table, ratio, distinct):
    n, budget = table.rows, ratio * table.rows
    if budget * budget >= 4 * n:
        m = math.ceil((budget + math.sqrt(budget * budget - 4 * n)) / 2)   # the larger root: m + n/m = budget
    else:
        m = math.ceil(math.sqrt(n))                                       # the smallest QR: 2 sqrt(n) rows
    m = min(max(1, m), n)
    q = math.ceil(n / m)
    return _rep(table, "qr", ratio, [q, m], 2, float(table.dim), 0.0,
                {"remainder_rows": m, "quotient_rows": q})


def cafe_layout(table, ratio, levels):
    """(hot rows, sketch slots, rows per hash level) of a CAFE table in the budget."""
    row_b = table.dim * DTYPE_BYTES[table.dtype]
    budget_rows = ratio * table.rows
    hot = max(1, int(CAFE_HOT_SHARE * budget_rows))
    slots = SKETCH_SLOTS_PER_BUCKET * max(1, math.ceil(CAFE_SKETCH_SLOTS_PER_HOT * hot / SKETCH_SLOTS_PER_BUCKET))
    left = budget_rows - hot - slots * SKETCH_SLOT_B / row_b
    per_level = max(1, int(left / levels))
    return hot, slots, [per_level] * levels


def cafe(table, ratio, levels, distinct, curve):
    levels = levels or 1
    hot, slots, hash_rows = cafe_layout(table, ratio, levels)
    n = table.rows
    hot_share = float(curve(min(1.0, hot / n))) if curve is not None else min(1.0, hot / n)
    tracked = float(curve(min(1.0, slots / n))) if curve is not None else min(1.0, slots / n)
    medium = max(0.0, tracked - hot_share) if levels > 1 else 0.0
    cold = 1.0 - hot_share - medium
    cold_distinct = max(1.0, distinct - (slots if levels > 1 else hot))
    collision = cold * _p_collide(1.0 / hash_rows[0], cold_distinct)
    reads = 1.0 + (levels - 1) * medium
    macs = medium * (levels - 1) * table.dim
    params = {"levels": levels, "hot_rows": hot, "sketch_slots": slots, "sketch_B": float(slots * SKETCH_SLOT_B),
              "predicted_hot_lookup_share": hot_share}
    return _rep(table, "cafe", ratio, [hot] + hash_rows, reads, macs,
                collision, params)


def memrec(table, ratio, k, distinct):
    k = k or MEMREC_DEFAULT_K
    b = DTYPE_BYTES[table.dtype]
    # m_t rows of d values + m_t weights of one fp32 each fill the budget
    m_t = max(1, int(ratio * table.rows * table.dim * b / (table.dim * b + WEIGHT_VALUE_B)))
    p = math.factorial(k) / float(m_t) ** k / m_t      # same token set (unordered) and the same weight
    token_b, weight_b = table.dim * b, WEIGHT_VALUE_B
    rep = Representation(kind="memrec", dtype=table.dtype, bytes=float(m_t * (token_b + weight_b)),
                         row_bytes=float(k * token_b + weight_b), macs_per_lookup=float(k * table.dim + table.dim),
                         ratio=ratio, physical_rows=[m_t, m_t], reads_per_lookup=float(k + 1),
                         collision_share=_p_collide(p, distinct), params={"k": k, "token_row_B": token_b,
                                                                           "weight_row_B": weight_b})
    return rep


def compressed(table, name, distinct=None, curve=None):
    """The Representation ``name`` ("hash:0.01", ...) of ``table``; ``distinct``: accessed features (default all rows)."""
    kind, ratio, extra = parse_compressed(name)
    distinct = table.rows if distinct is None else max(1.0, float(distinct))
    if kind == "hash":
        rep = hashed(table, ratio, distinct)
    elif kind == "qr":
        rep = quotient_remainder(table, ratio, distinct)
    elif kind == "cafe":
        rep = cafe(table, ratio, extra, distinct, curve)
    else:
        rep = memrec(table, ratio, extra, distinct)
    if max(rep.physical_rows) >= MAX_PHYSICAL_ROWS:
        raise InputError(f"representations: {name} of table '{table.name}' needs a physical table of "
                         f"{max(rep.physical_rows)} rows (expected fewer than 2^32: the row hash is 32-bit); "
                         f"use a smaller ratio")
    return rep
