"""Measure this host and fit a ``cpu_dram`` preset to it (``embsim calibrate``).

What is measured, with numpy on one core (the way an embedding-bag kernel
without threads runs):

1. **Streaming bandwidth**: ``np.copyto`` of an array far larger than the LLC,
   counted as bytes read plus bytes written.  It stands for the DRAM peak.
2. **Random-read latency**: a pointer chase through a random cycle over an
   array larger than the LLC, minus the same Python loop over an array that
   fits in L1/L2.  It includes TLB misses, as a gather does.
3. **Gather-and-sum**: ``np.take(table, idx, axis=0)`` then
   ``np.add.reduce(..., dtype=float32)`` over bags of ``pooling`` rows, on a
   table larger than the LLC stored in fp32, fp16 or int8 (the reduce widens
   each value to fp32), at several row sizes and pooling factors 1 to 32
   (and, for the LLC speed, on a table that fits in the LLC).  Shapes are
   measured round robin, repeat after repeat, and each keeps the median, so a
   busy neighbour slows every shape alike instead of one.
4. **Bag sums alone**: the same reduce on a buffer already in cache, which
   pins the core's own terms apart from the per-line memory wait.  The
   buffer holds rows the gather brought (numpy's fp16 widening runs faster on
   zeros), and a call's rows and sums both fit in L2, in (3) and (4) alike.
5. **Matrix multiply**: float32 ``a @ b`` for the MLP efficiency.

The fit (see ``parts.cpu.CpuCores.core_time_s``): one lookup of a bag of
``L`` rows of ``r`` bytes, ``v`` values in ``dtype``, on one core costs

    t = row_overhead + r / sum_bandwidth + v x convert[dtype]
        + (1 - 1/L) x add_overhead + [L >= 2] / L x bag_overhead
        + lines(r) x latency / lines_in_flight

By linear least squares on relative errors, with every term kept >= 0
(``scipy.optimize.nnls``): the sum-alone times (4) give the reduce's share of
``row_overhead``, ``sum_bandwidth``, ``add_overhead``, ``bag_overhead`` and
``convert`` for fp16 and int8; the gather times (3) minus that give the
gather's share of ``row_overhead`` and the per-line time ``latency /
lines_in_flight``; with the latency of (2) that gives ``lines_in_flight``
(the memory-level parallelism).  The LLC latency is fitted the same way from
the LLC-resident table.  Pooling 1 is a copy (numpy reduces nothing over a
one-row axis), which is why the bag and add terms are separate from the
per-row one.

Calibrated constants all live in the written YAML, each with its source:
"measured on this host by embsim calibrate <date>" or "assumption: ...".
"""
import datetime
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from ..workloads.model import DTYPE_BYTES
from .params import expected_lines

LINE_BYTES_DEFAULT = 64
MiB = 2**20

# CPU time of this thread, not wall time: on a shared machine a timed loop is
# descheduled while neighbours run, and that wait is not the memory's.  Stalls
# on memory still count (the core is busy waiting).
_clock = time.thread_time

# Storage dtypes numpy can time (int4 has no numpy type: the preset takes int8's widening for it).
NUMPY_DTYPES = {"fp32": np.float32, "fp16": np.float16, "int8": np.int8}
CONVERTED = ("fp16", "int8")
# Shapes the fit uses: embedding dims per dtype x pooling.  tests/hw_models/test_calibrate.py
# checks the model on other shapes.  No row of 32 B or less: numpy's take copies items of
# 1-32 bytes inline and larger ones through memmove, so such a row would time numpy's copy
# path, not the memory system.
FIT_DIMS = {"fp32": (16, 32, 64, 128, 256), "fp16": (32, 128, 256), "int8": (64, 256, 512)}
FIT_POOLING = (1, 4, 32)
FIT_ROW_BYTES = tuple(d * 4 for d in FIT_DIMS["fp32"])      # fp32 rows of the LLC fit
LLC_POOLING = 32


@dataclass
class Settings:
    """How long to measure.  ``quick`` is for tests and impatient users."""

    table_bytes: int = 512 * MiB
    lookups: int = 1 << 17
    repeats: int = 15
    chase_steps: int = 200_000

    @classmethod
    def pick(cls, quick):
        if quick:
            return cls(table_bytes=256 * MiB, lookups=1 << 16, repeats=15, chase_steps=100_000)
        return cls()


@dataclass(frozen=True)
class GatherShape:
    """A gather to time: rows of ``row_bytes`` stored in ``dtype``, bags of ``pooling`` rows, from a table of
    ``table_bytes`` (None: the whole buffer of the bench)."""

    row_bytes: int
    pooling: int
    dtype: str = "fp32"
    table_bytes: int | None = None

    @property
    def dim(self) -> int:
        return int(self.row_bytes // DTYPE_BYTES[self.dtype])


def fit_shapes() -> list:
    """The gather shapes the fit uses (FIT_DIMS x FIT_POOLING)."""
    return [GatherShape(int(d * DTYPE_BYTES[t]), L, t) for t, dims in FIT_DIMS.items() for d in dims
            for L in FIT_POOLING]


# Shapes that check a calibration and never enter it (tests/hw_models/test_calibrate.py,
# bench/calibration_holdout.py): other row sizes of every dtype (some straddling lines), pooling
# 1, 10 and 100, two smaller DRAM-resident tables and two LLC-resident ones.  Their tables are sized
# from the host's LLC: on a host with a 260 MiB LLC, fixed 96 and 128 MiB "DRAM" tables sat in the
# LLC, and a fixed 4 MiB "LLC" table half in a 2 MiB L2 (32% faster than the LLC fit's table).
def held_out_shapes(llc_bytes: int) -> list:
    """The held-out shapes for a host whose LLC holds ``llc_bytes``."""
    dram_a, dram_b = max(128 * MiB, 3 * llc_bytes), max(96 * MiB, 2 * llc_bytes)   # below the bench's 8x LLC
    llc_t = max(4 * MiB, llc_bytes // 16)
    return [
        GatherShape(96, 1), GatherShape(192, 10), GatherShape(640, 100), GatherShape(384, 1, table_bytes=dram_a),
        GatherShape(80, 10, "fp16"), GatherShape(192, 1, "fp16"), GatherShape(400, 100, "fp16"),
        GatherShape(48, 100, "int8"), GatherShape(128, 1, "int8"), GatherShape(320, 10, "int8", table_bytes=dram_b),
        GatherShape(192, 10, "fp32", llc_t), GatherShape(160, 100, "fp16", llc_t),
    ]


def level_of(shape, llc_bytes: int) -> str:
    """The memory level a shape's table lives in: "llc" if it fills at most half the LLC, else "dram"."""
    return "llc" if shape.table_bytes is not None and shape.table_bytes <= llc_bytes // 2 else "dram"


@dataclass
class HostInfo:
    cpu_model: str
    cores: int
    sockets: int
    llc_bytes: int
    line_bytes: int
    frequency_Hz: float
    memory_bytes: float
    flops_per_cycle: int
    facts: dict = field(default_factory=dict)   # field -> how it was read


# ------------------------------------------------------------ host facts ---
def _read(path, default=None):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _size(text):
    """'32768K' -> bytes."""
    text = text.strip().upper()
    mult = {"K": 1024, "M": MiB, "G": 2**30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * mult


def host_info():
    """What the OS says about this host (each field notes where it came from)."""
    facts = {}
    cpuinfo = _read("/proc/cpuinfo", "")
    model = next((l.split(":", 1)[1].strip() for l in cpuinfo.splitlines() if l.startswith("model name")),
                 platform.processor() or "unknown CPU")
    mhz = [float(l.split(":", 1)[1]) for l in cpuinfo.splitlines() if l.startswith("cpu MHz")]
    flags = next((l.split(":", 1)[1].split() for l in cpuinfo.splitlines() if l.startswith("flags")), [])
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    nodes = len(list(Path("/sys/devices/system/node").glob("node[0-9]*"))) or 1
    llc, line = None, None
    for idx in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        if _read(idx / "type") in ("Unified", "Data"):
            size = _read(idx / "size")
            if size:
                llc = _size(size)
            line = int(_read(idx / "coherency_line_size", "64"))
    facts["llc_bytes"] = "read from /sys/devices/system/cpu/cpu0/cache" if llc else "assumption: sysfs has no cache sizes; 32 MiB"
    facts["line_bytes"] = "read from /sys/devices/system/cpu/cpu0/cache" if line else "assumption: 64-B x86 line"
    mem = next((float(l.split()[1]) * 1024 for l in _read("/proc/meminfo", "").splitlines()
                if l.startswith("MemTotal")), None)
    facts["memory_bytes"] = "read from /proc/meminfo (MemTotal)" if mem else "assumption: 16 GiB"
    facts["frequency_Hz"] = "read from /proc/cpuinfo (cpu MHz)" if mhz else "assumption: 2 GHz"
    fpc = 64 if "avx512f" in flags else 32 if ("avx2" in flags and "fma" in flags) else 16 if "avx" in flags else 8
    facts["flops_per_cycle"] = (f"assumption from /proc/cpuinfo flags ({'avx512f' if fpc == 64 else 'avx2+fma' if fpc == 32 else 'avx/sse'}):"
                                f" 2 FMA units x {fpc // 4} FP32 lanes x 2 FLOP")
    return HostInfo(model, cores, nodes, llc or 32 * MiB, line or LINE_BYTES_DEFAULT,
                    (max(mhz) * 1e6) if mhz else 2e9, mem or 16 * 2**30, fpc, facts)


# ------------------------------------------------------------ measurements ---
def stream_bandwidth_Bps(nbytes, repeats):
    """Copy bandwidth (bytes read + bytes written per second), median of ``repeats``."""
    n = nbytes // 8
    src = np.ones(n)
    dst = np.empty_like(src)
    np.copyto(dst, src)                       # touch the pages first
    ts = []
    for _ in range(repeats):
        t0 = _clock()
        np.copyto(dst, src)
        ts.append(_clock() - t0)
    return 2.0 * n * 8 / float(np.median(ts))


def _chase(mv, steps):
    i = 0
    t0 = _clock()
    for _ in range(steps):
        i = mv[i]
    return _clock() - t0


def random_latency_s(nbytes, steps, repeats, rng):
    """Dependent random-read latency beyond the LLC: chase(big) - chase(small), per step."""
    def cycle(n):
        order = rng.permutation(n)
        nxt = np.empty(n, dtype=np.int64)
        nxt[order[:-1]] = order[1:]
        nxt[order[-1]] = order[0]
        return nxt
    big = cycle(nbytes // 8)
    small = cycle(2048)                        # 16 KiB: stays in L1
    mv_big, mv_small = memoryview(big), memoryview(small)
    d = []
    for _ in range(repeats):
        d.append((_chase(mv_big, steps) - _chase(mv_small, steps)) / steps)
    return max(float(np.median(d)), 1e-9)


def aligned_ones(n, align=4096):
    """float32 ones whose first element sits on an ``align``-byte boundary.

    numpy's large allocations start 16 B past a page boundary, so a 64-B row
    would straddle two lines; embedding tables (FBGEMM, the model) are
    line aligned.  Every page is touched, so timings see no first-touch faults.
    """
    raw = np.ones(n + align // 4, dtype=np.float32)
    skip = (-raw.ctypes.data % align) // 4
    return raw[skip: skip + n]


def aligned_empty(shape, align=64, dtype=np.float32):
    """An uninitialised ``dtype`` array whose first element sits on an ``align``-byte boundary."""
    n = int(np.prod(shape))
    size = np.dtype(dtype).itemsize
    raw = np.empty(n + align // size, dtype=dtype)
    skip = (-raw.ctypes.data % align) // size
    return raw[skip: skip + n].reshape(shape)


class GatherBench:
    """Times numpy gather-and-sum on one table buffer (viewed as each shape's dtype), shape after shape."""

    CHUNK = 4096              # at most this many lookups per np.take call
    CHUNK_BYTES = 256 * 1024  # gathered rows per call stay in L2 for the sum (a 4-MiB buffer would not)

    def __init__(self, table_bytes, rng):
        # float32 ones viewed as fp16 are 0 and 1.875, as int8 0, -128 and 63: finite, no denormals
        self.flat = aligned_ones(table_bytes // 4)
        self.rng = rng

    def _setup(self, shape, lookups):
        if shape.dtype not in NUMPY_DTYPES:
            raise ValueError(f"dtype {shape.dtype}: numpy cannot time it (expected one of {', '.join(NUMPY_DTYPES)})")
        if shape.row_bytes % DTYPE_BYTES[shape.dtype]:
            raise ValueError(f"row_bytes {shape.row_bytes} is not a whole number of {shape.dtype} values")
        dim = shape.dim
        flat = self.flat.view(NUMPY_DTYPES[shape.dtype])
        rows = flat.size // dim
        if shape.table_bytes is not None:
            rows = min(rows, max(1, shape.table_bytes // shape.row_bytes))
        table = flat[: rows * dim].reshape(rows, dim)
        # rows gathered and sums written per call both stay in L2: a bag of one int8 row writes a
        # float32 sum 4x its size, and with only the rows counted that 1 MiB output left L2 during
        # the gather but not during the sum alone (int8 pooling-1 shapes 26-37% slower than fitted)
        per_lookup_B = shape.row_bytes + dim * 4 / shape.pooling
        per_call = min(self.CHUNK, max(1, int(self.CHUNK_BYTES // per_lookup_B)))
        chunk = max(shape.pooling, (per_call // shape.pooling) * shape.pooling)
        n = max(chunk, (lookups // chunk) * chunk)
        idx = self.rng.integers(0, rows, n)
        # Line-aligned buffers: where a buffer happens to start would otherwise decide whether a
        # 96-B row straddles one line or two, and swing a shape's time by a third between runs.
        buf = aligned_empty((chunk, dim), dtype=NUMPY_DTYPES[shape.dtype])
        # The sum alone (gather=False) must reduce the values a gather brings, not whatever the empty
        # buffer holds: numpy's fp16 widening is data-dependent (zeros take a fast path), and on an
        # all-zero buffer the fit priced it at half its cost (fp16 held-out shapes 20-33% slow).
        np.take(table, idx[:chunk], axis=0, out=buf)
        out = aligned_empty((chunk // shape.pooling, dim))
        return table, idx, buf, out, chunk

    @staticmethod
    def _run(table, idx, buf, out, chunk, pooling, gather=True):
        dim = buf.shape[1]
        t0 = _clock()
        for c in range(0, idx.size, chunk):
            if gather:
                np.take(table, idx[c:c + chunk], axis=0, out=buf)
            np.add.reduce(buf.reshape(-1, pooling, dim), axis=1, out=out, dtype=np.float32)
        return _clock() - t0

    def measure(self, shapes, lookups, repeats, gather=True):
        """Median seconds per lookup of each shape; shapes interleaved repeat by repeat (after one warm-up)."""
        setups = [self._setup(s, lookups) for s in shapes]
        times = [[] for _ in shapes]
        for rep in range(repeats + 1):
            for k, (s, (table, idx, buf, out, chunk)) in enumerate(zip(shapes, setups)):
                t = self._run(table, idx, buf, out, chunk, s.pooling, gather) / idx.size
                if rep:                       # the first pass warms the caches, TLB and buffers
                    times[k].append(t)
        return [float(np.median(t)) for t in times]


def matmul_flops(repeats=5, n=512):
    """float32 matmul FLOP per CPU-second of one core (numpy's BLAS; CPU time of all its threads)."""
    a = np.ones((n, n), dtype=np.float32)
    b = np.ones((n, n), dtype=np.float32)
    a @ b
    ts = []
    for _ in range(repeats):
        t0 = time.process_time()
        a @ b
        ts.append(time.process_time() - t0)
    return 2.0 * n**3 / float(np.median(ts))


# ------------------------------------------------------------ fit ---
@dataclass
class Fit:
    gather_overhead_s: float    # row_overhead: per row, the gather's share plus the reduce's (sum_overhead_s)
    line_time_s: float          # latency / lines_in_flight, DRAM
    llc_line_time_s: float      # latency / lines_in_flight, LLC
    sum_bandwidth_Bps: float
    sum_overhead_s: float       # per-row intercept of the reduce alone (part of gather_overhead)
    add_overhead_s: float = 0.0   # per row added into a bag (rows after the first)
    bag_overhead_s: float = 0.0   # per bag of two rows or more
    convert_s: dict = field(default_factory=dict)   # storage dtype -> seconds per value widened to fp32


def core_terms(shape) -> list:
    """Regressors of the core's own time per lookup (parts.cpu.CpuCores.core_time_s):
    1 (row), bytes, added share (1 - 1/L), bag share (multi-row bags / L), values per CONVERTED dtype."""
    L = float(shape.pooling)
    values = shape.row_bytes / DTYPE_BYTES[shape.dtype]
    return [1.0, float(shape.row_bytes), 1.0 - 1.0 / L, min(1.0, L - 1.0) / L] + \
        [values if shape.dtype == t else 0.0 for t in CONVERTED]


def _nnls_relative(A, t):
    """x >= 0 minimising sum(((A x - t) / t)^2): relative errors weigh small and large shapes alike."""
    A, t = np.asarray(A, float), np.asarray(t, float)
    W = A / t[:, None]
    scale = np.linalg.norm(W, axis=0)
    scale[scale == 0] = 1.0                 # a dtype absent from the shapes: its term stays 0
    x, _ = nnls(W / scale, np.ones_like(t))
    return x / scale


def fit_gather(shapes, t_gather, t_sum, line_bytes, shapes_llc=(), t_llc=()):
    """Fit of the module doc from per-lookup times: the core's terms from the sum-alone times ``t_sum``,
    the gather's per-row and per-line times from ``t_gather`` minus them, the LLC's per-line time from
    ``t_llc``.  Every term >= 0; an LLC line is never slower than a DRAM one."""
    s0, c, add, bag, *conv = _nnls_relative([core_terms(s) for s in shapes], t_sum)
    c = max(c, 1e-15)
    fit = Fit(0.0, 0.0, 0.0, 1.0 / c, float(s0), float(add), float(bag), dict(zip(CONVERTED, map(float, conv))))

    def core(s):
        return predict_s(fit, s.row_bytes, line_bytes, s.dtype, s.pooling, memory=False)

    tg = np.asarray(t_gather, float)
    lines = np.array([expected_lines(s.row_bytes, line_bytes) for s in shapes])
    y = tg - np.array([core(s) for s in shapes])
    # memory and the gather's own per-row work: t_gather - core = g + b x lines, relative to t_gather
    (g, b), _ = nnls(np.stack([np.ones_like(lines), lines], 1) / tg[:, None], y / tg)
    fit.gather_overhead_s = float(s0 + g)
    fit.line_time_s = b = max(float(b), 1e-12)
    fit.llc_line_time_s = b
    if len(shapes_llc):
        ll = np.array([expected_lines(s.row_bytes, line_bytes) for s in shapes_llc])
        tl = np.asarray(t_llc, float)
        yl = (tl - g - np.array([core(s) for s in shapes_llc])) / tl
        b_llc = max(float(np.sum(ll / tl * yl) / np.sum((ll / tl) ** 2)), 1e-12)
        fit.llc_line_time_s = min(b_llc, b)        # an LLC hit is never slower than DRAM
    return fit


def predict_s(fit, row_bytes, line_bytes, dtype="fp32", pooling=None, llc=False, memory=True):
    """Per-lookup single-core time of the fitted model (the formula of parts.cpu.CpuCores.gather_time_s);
    ``memory=False``: the core's own terms only (the reduce's share of the row overhead, as in the sum alone)."""
    values = row_bytes / DTYPE_BYTES[dtype]
    t = row_bytes / fit.sum_bandwidth_Bps + values * fit.convert_s.get(dtype, 0.0)
    if pooling is None:
        t += fit.add_overhead_s
    else:
        t += (1.0 - 1.0 / pooling) * fit.add_overhead_s + min(1.0, pooling - 1.0) / pooling * fit.bag_overhead_s
    if not memory:
        return t + fit.sum_overhead_s
    line_s = fit.llc_line_time_s if llc else fit.line_time_s
    return t + fit.gather_overhead_s + expected_lines(row_bytes, line_bytes) * line_s


# ------------------------------------------------------------ driver ---
@dataclass
class Calibration:
    preset: dict                 # cpu_dram YAML data
    info: HostInfo
    fit: Fit
    stream_Bps: float
    latency_s: float
    matmul_flops: float
    shapes: list
    measured_s: list             # per lookup, DRAM-resident table
    predicted_s: list
    seconds: float
    holdout_shapes: list = field(default_factory=list)
    holdout_measured_s: list = field(default_factory=list)
    llc_copy_Bps: float = 0.0     # single-core copy bandwidth of an LLC-resident array

    @property
    def max_rel_error(self):
        return max(abs(p - m) / m for p, m in zip(self.predicted_s, self.measured_s))


def _num(v, unit=""):
    return f"{v:.6g}{(' ' + unit) if unit else ''}"


def calibrate(quick=False, seed=0, progress=None, holdout=()):
    """Measure this host and return a Calibration whose ``preset`` is a valid cpu_dram system.

    ``holdout`` shapes are measured in the same round-robin session as the fit
    shapes (so machine load drifts over both alike) but are not fitted: their
    medians come back in ``Calibration.holdout_measured_s`` to check the model.
    A shape with a ``table_bytes`` gathers from the first bytes of the bench's
    table only (an LLC-resident table when small enough).
    """
    t_start = time.perf_counter()
    st = Settings.pick(quick)
    rng = np.random.default_rng(seed)
    info = host_info()
    say = progress or (lambda msg: None)
    table_bytes = max(st.table_bytes, 8 * info.llc_bytes)

    say("streaming bandwidth")
    stream = stream_bandwidth_Bps(min(table_bytes // 2, 256 * MiB), st.repeats)
    say("random-read latency")
    lat = random_latency_s(min(table_bytes // 2, 256 * MiB), st.chase_steps, st.repeats, rng)

    shapes = fit_shapes()
    llc_table = max(info.llc_bytes // 4, 2 * MiB)
    shapes_llc = [GatherShape(r, LLC_POOLING, "fp32", llc_table) for r in FIT_ROW_BYTES]
    holdout = list(holdout)
    say(f"gather-and-sum, {len(shapes)} shapes over a {table_bytes / MiB:.0f} MiB table, "
        f"{len(shapes_llc)} over {llc_table / MiB:.0f} MiB of it, {len(holdout)} held out")
    bench = GatherBench(table_bytes, rng)
    t_all = bench.measure(shapes + shapes_llc + holdout, st.lookups, st.repeats)
    n, k = len(shapes), len(shapes) + len(shapes_llc)
    t_gather, t_llc, t_holdout = t_all[:n], t_all[n:k], t_all[k:]
    say("bag sums alone")
    t_sum = bench.measure(shapes, st.lookups, st.repeats, gather=False)
    del bench
    llc_copy = stream_bandwidth_Bps(max(info.llc_bytes // 8, MiB), st.repeats)
    say("matrix multiply")
    flops = matmul_flops()

    fit = fit_gather(shapes, t_gather, t_sum, info.line_bytes, shapes_llc, t_llc)
    predicted = [predict_s(fit, s.row_bytes, info.line_bytes, s.dtype, s.pooling) for s in shapes]

    preset = build_preset(info, fit, stream, lat, llc_copy, flops)
    return Calibration(preset, info, fit, stream, lat, flops, shapes, t_gather, predicted,
                       time.perf_counter() - t_start, holdout, t_holdout, llc_copy)


SPR = "the value of the cpu_2s_spr_ddr5 preset"


def S(value, source):
    return {"value": value, "source": source}


def build_preset(info, fit, stream_Bps, latency_s, llc_copy_Bps, flops):
    """The cpu_dram YAML data of a calibration (every number with its source)."""
    day = datetime.date.today().isoformat()
    M = f"measured on this host by embsim calibrate {day}"
    mlp = latency_s / fit.line_time_s
    cores_per_socket = max(1, info.cores // info.sockets)
    spr = SPR
    return {
        "family": "cpu_dram",
        "name": "calibrated_host",
        "description": (f"This host ({info.cpu_model}, {info.cores} cores), measured by embsim calibrate on {day}. "
                        f"Gather parameters are fitted to single-core numpy gather-and-sum times; the "
                        f"full-socket figures extrapolate them to all cores, capped by the measured streaming bandwidth."),
        "params": {
            "sockets": S(info.sockets, f"{M}: NUMA nodes in /sys/devices/system/node"),
            "cpu": _cpu_section(info, fit, M, latency_s, flops, cores_per_socket),
            "llc": {
                "capacity": S(_num(info.llc_bytes, "B"), f"{M}: {info.facts['llc_bytes']}"),
                "granularity": S(_num(info.line_bytes, "B"), f"{M}: {info.facts['line_bytes']}"),
                "latency": S(_num(fit.llc_line_time_s * mlp, "s"),
                             f"{M}: fitted per-line gather time on a table of {max(info.llc_bytes // 4, 2 * MiB) / MiB:.0f} MiB "
                             f"x lines_in_flight"),
                "concurrency": S(16 * cores_per_socket, "assumption: 16 L1D fill buffers per core (spr_llc), not measurable"),
                "peak_bandwidth": S(_num(llc_copy_Bps * cores_per_socket, "B/s"),
                                    f"{M}: single-core copy bandwidth of an LLC-resident array x cores"),
                "read_energy": S("1 pJ/bit", f"assumption: not measurable from user space; {spr}"),
                "write_energy": S("1 pJ/bit", f"assumption: not measurable from user space; {spr}"),
                "static_power": S("0 W", "assumption: counted in the CPU's static power"),
                "policy": "lru",
            },
            "dram": {
                "capacity": S(_num(info.memory_bytes / info.sockets, "B"), f"{M}: {info.facts['memory_bytes']}, per NUMA node"),
                "granularity": S(_num(info.line_bytes, "B"), f"{M}: {info.facts['line_bytes']}"),
                "latency": S(_num(latency_s, "s"), f"{M}: pointer chase over a random cycle larger than the LLC, "
                                                   f"minus the same loop in L1"),
                "concurrency": S(1024, f"assumption: banks are not visible from user space; {spr} (ddr5_4800)"),
                "peak_bandwidth": S(_num(stream_Bps, "B/s"),
                                    f"{M}: numpy copy streaming bandwidth {stream_Bps / 1e9:.4g} GB/s (read + write)"),
                "read_energy": S("15 pJ/bit", f"assumption: not measurable from user space; {spr}"),
                "write_energy": S("15 pJ/bit", f"assumption: not measurable from user space; {spr}"),
                "static_power": S("8 W", "assumption: not measurable from user space; ~4 W per DIMM, two DIMMs"),
            },
            "upi": {
                "bandwidth": S("128 GB/s", f"assumption: {spr}; unused unless sockets > 1"),
                "efficiency": S(1.0, f"assumption: {spr}; unused unless sockets > 1"),
                "latency": S("0 s", f"assumption: {spr}; unused unless sockets > 1"),
                "energy": S("5.5 pJ/bit", f"assumption: {spr}; unused unless sockets > 1"),
                "static_power": S("0 W", "assumption: counted in the CPU's static power"),
            },
            "host": {
                "batch_overhead": S("20 us", f"assumption: {spr}"),
                "sample_overhead": S("1 us", f"assumption: {spr}"),
                "response_per_sample": S("0.2 us", f"assumption: {spr}"),
                "static_power": S("50 W", "assumption: board, fans, NIC and disks of a small server"),
            },
        },
    }


def _cpu_section(info, fit, M, latency_s, flops, cores_per_socket):
    """The ``cpu`` part of the calibrated preset: counts, rates and the fitted gather-loop terms."""
    mlp = latency_s / fit.line_time_s
    peak_flops = info.frequency_Hz * info.flops_per_cycle     # one core
    eff = min(1.0, flops / peak_flops)
    spr = SPR
    tiny = 1e-12      # a fitted term at its bound 0 where the schema wants > 0 (one picosecond: nothing)
    convert = {t: S(_num(fit.convert_s.get(t, 0.0), "s"), f"{M}: fitted per-value cost of widening {t} rows to "
                    f"float32 in numpy add.reduce (single core)") for t in CONVERTED}
    convert["int4"] = S(_num(fit.convert_s.get("int8", 0.0), "s"),
                        "assumption: numpy has no 4-bit type to time; the int8 widening measured on this host")
    return {
        "count": S(cores_per_socket, f"{M}: CPUs this process may run on, per NUMA node"),
        "clock": S(_num(info.frequency_Hz, "Hz"), f"{M}: {info.facts['frequency_Hz']}"),
        "ops_per_cycle": {"fp32": S(info.flops_per_cycle, info.facts["flops_per_cycle"])},
        "op_energy": {"fp32": S("34 pJ", f"assumption: not measurable from user space; {spr} (xeon_8480p)")},
        "mlp_dtype": "fp32",
        "mlp_efficiency": S(_num(eff), f"{M}: float32 512^3 matmul at {flops / 1e9:.3g} GFLOP per CPU-second over "
                                       f"the {peak_flops / 1e9:.3g} GFLOP/s peak of one core (frequency x FLOP/cycle)"),
        "lines_in_flight": S(_num(mlp), f"{M}: fitted, chase latency {latency_s * 1e9:.4g} ns / fitted "
                                        f"per-line gather time {fit.line_time_s * 1e9:.4g} ns"),
        "row_overhead": S(_num(max(fit.gather_overhead_s, tiny), "s"),
                          f"{M}: fitted per-row intercept of numpy take + add.reduce (single core)"),
        "sum_bandwidth": S(_num(fit.sum_bandwidth_Bps, "B/s"),
                           f"{M}: fitted per-byte slope of numpy add.reduce over bags already in cache"),
        "add_overhead": S(_num(fit.add_overhead_s, "s"),
                          f"{M}: fitted cost per row added into a bag (rows after the first) of numpy add.reduce"),
        "bag_overhead": S(_num(fit.bag_overhead_s, "s"),
                          f"{M}: fitted cost per bag of two rows or more of numpy add.reduce (one row is a copy)"),
        "convert": convert,
        "static_power": S("50 W", "assumption: not measurable from user space; idle package power of a small server CPU"),
    }
