"""Measure this host and fit a ``cpu_dram`` preset to it (``embsim calibrate``).

What is measured, with numpy on one core (the way an embedding-bag kernel
without threads runs):

1. **Streaming bandwidth**: ``np.copyto`` of an array far larger than the LLC,
   counted as bytes read plus bytes written.  It stands for the DRAM peak.
2. **Random-read latency**: a pointer chase through a random cycle over an
   array larger than the LLC, minus the same Python loop over an array that
   fits in L1/L2.  It includes TLB misses, as a gather does.
3. **Gather-and-sum**: ``np.take(table, idx, axis=0)`` then
   ``np.add.reduce`` over bags of ``pooling`` rows, on a float32 table larger
   than the LLC (and, for the LLC speed, on one that fits in it), at several
   row sizes and pooling factors.  Shapes are measured round robin, repeat
   after repeat, and each keeps the median, so a busy neighbour slows every
   shape alike instead of one.
4. **Bag sums alone**: the same ``np.add.reduce`` on a buffer already in cache,
   which pins the per-byte add cost apart from the per-line memory wait.
5. **Matrix multiply**: float32 ``a @ b`` for the MLP efficiency.

The fit (see ``parts.cpu.CpuCores.gather_time_s``): one row gather on one core costs

    t(r) = row_overhead + r / sum_bandwidth + lines(r) * latency / lines_in_flight

``sum_bandwidth`` comes from (4); ``row_overhead`` and the per-line time
``latency / lines_in_flight`` from a least-squares fit of (3); with the latency
of (2) that gives ``lines_in_flight`` (the memory-level parallelism).  The LLC
latency is fitted the same way from the LLC-resident table.

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

from .params import expected_lines

LINE_BYTES_DEFAULT = 64
MiB = 2**20

# CPU time of this thread, not wall time: on a shared machine a timed loop is
# descheduled while neighbours run, and that wait is not the memory's.  Stalls
# on memory still count (the core is busy waiting).
_clock = time.thread_time

# Shapes the fit uses: (row bytes, pooling).  tests/hw_models/test_calibrate.py
# checks the model on other shapes.  No 32-B rows: numpy's take copies items of
# 1-32 bytes inline and larger ones through memmove, so a 32-B row would time
# numpy's copy path, not the memory system.
FIT_ROW_BYTES = (64, 128, 256, 512, 1024)
FIT_POOLING = (8, 32)


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


@dataclass
class GatherShape:
    row_bytes: int
    pooling: int


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


def aligned_empty(shape, align=64):
    """An uninitialised float32 array whose first element sits on an ``align``-byte boundary."""
    n = int(np.prod(shape))
    raw = np.empty(n + align // 4, dtype=np.float32)
    skip = (-raw.ctypes.data % align) // 4
    return raw[skip: skip + n].reshape(shape)


class GatherBench:
    """Times numpy gather-and-sum on one float32 table buffer, shape after shape."""

    CHUNK = 4096              # at most this many lookups per np.take call
    CHUNK_BYTES = 256 * 1024  # gathered rows per call stay in L2 for the sum (a 4-MiB buffer would not)

    def __init__(self, table_bytes, rng):
        self.flat = aligned_ones(table_bytes // 4)
        self.rng = rng

    def _setup(self, shape, lookups):
        if shape.row_bytes % 4:
            raise ValueError(f"row_bytes {shape.row_bytes} is not a whole number of float32")
        dim = shape.row_bytes // 4
        rows = self.flat.size // dim
        table = self.flat[: rows * dim].reshape(rows, dim)
        per_call = min(self.CHUNK, max(1, self.CHUNK_BYTES // shape.row_bytes))
        chunk = max(shape.pooling, (per_call // shape.pooling) * shape.pooling)
        n = max(chunk, (lookups // chunk) * chunk)
        idx = self.rng.integers(0, rows, n)
        # Line-aligned buffers: where a buffer happens to start would otherwise decide whether a
        # 96-B row straddles one line or two, and swing a shape's time by a third between runs.
        buf = aligned_empty((chunk, dim))
        out = aligned_empty((chunk // shape.pooling, dim))
        return table, idx, buf, out, chunk

    @staticmethod
    def _run(table, idx, buf, out, chunk, pooling, gather=True):
        dim = buf.shape[1]
        t0 = _clock()
        for c in range(0, idx.size, chunk):
            if gather:
                np.take(table, idx[c:c + chunk], axis=0, out=buf)
            np.add.reduce(buf.reshape(-1, pooling, dim), axis=1, out=out)
        return _clock() - t0

    def measure(self, shapes, lookups, repeats, gather=True):
        """Median seconds per lookup of each shape; shapes interleaved repeat by repeat."""
        setups = [self._setup(s, lookups) for s in shapes]
        times = [[] for _ in shapes]
        for _ in range(repeats):
            for k, (s, (table, idx, buf, out, chunk)) in enumerate(zip(shapes, setups)):
                times[k].append(self._run(table, idx, buf, out, chunk, s.pooling, gather) / idx.size)
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
    gather_overhead_s: float
    line_time_s: float          # latency / lines_in_flight, DRAM
    llc_line_time_s: float      # latency / lines_in_flight, LLC
    sum_bandwidth_Bps: float
    sum_overhead_s: float       # per-lookup intercept of the sum alone (part of gather_overhead)


def fit_gather(shapes, t_gather, t_sum, line_bytes, shapes_llc=(), t_llc=()):
    """Least-squares fit of per-lookup times; relative errors weigh small and large rows alike."""
    r = np.array([s.row_bytes for s in shapes], float)
    lines = np.array([expected_lines(s.row_bytes, line_bytes) for s in shapes])
    ts = np.asarray(t_sum)
    # sum alone: t_sum = s0 + r / sum_bw
    A = np.stack([np.ones_like(r), r], 1) / ts[:, None]
    (s0, c), *_ = np.linalg.lstsq(A, np.ones_like(r), rcond=None)
    c = max(c, 1e-15)
    s0 = max(s0, 0.0)
    # memory part: t_gather - r*c = a + b * lines
    tg = np.asarray(t_gather)
    y = tg - r * c
    A = np.stack([np.ones_like(r), lines], 1) / tg[:, None]
    (a, b), *_ = np.linalg.lstsq(A, y / tg, rcond=None)
    if a < 0:                               # keep the physics: no negative overhead
        a = 0.0
        b = float(np.sum(lines * y / tg**2) / np.sum(lines**2 / tg**2))
    b = max(b, 1e-12)
    b_llc = b
    if len(shapes_llc):
        rl = np.array([s.row_bytes for s in shapes_llc], float)
        ll = np.array([expected_lines(s.row_bytes, line_bytes) for s in shapes_llc])
        tl = np.asarray(t_llc)
        yl = (tl - a - rl * c) / tl
        b_llc = max(float(np.sum(ll / tl * yl) / np.sum((ll / tl) ** 2)), 1e-12)
        b_llc = min(b_llc, b)                # an LLC hit is never slower than DRAM
    return Fit(float(a), float(b), float(b_llc), 1.0 / c, float(s0))


def predict_s(fit, row_bytes, line_bytes):
    """Per-lookup single-core time of the fitted model (same formula as CpuDram.gather_time_s)."""
    return fit.gather_overhead_s + row_bytes / fit.sum_bandwidth_Bps + expected_lines(row_bytes, line_bytes) * fit.line_time_s


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

    shapes = [GatherShape(r, L) for r in FIT_ROW_BYTES for L in FIT_POOLING]
    say(f"gather-and-sum, {len(shapes)} shapes over a {table_bytes / MiB:.0f} MiB table")
    bench = GatherBench(table_bytes, rng)
    holdout = list(holdout)
    t_all = bench.measure(shapes + holdout, st.lookups, st.repeats)
    t_gather, t_holdout = t_all[:len(shapes)], t_all[len(shapes):]
    t_sum = bench.measure(shapes, st.lookups, st.repeats, gather=False)
    del bench
    say("LLC-resident gathers")
    llc_table = max(info.llc_bytes // 4, 2 * MiB)
    bench_llc = GatherBench(llc_table, rng)
    shapes_llc = [GatherShape(r, 32) for r in FIT_ROW_BYTES]
    t_llc = bench_llc.measure(shapes_llc, st.lookups // 2, st.repeats)
    llc_copy = stream_bandwidth_Bps(max(info.llc_bytes // 8, MiB), st.repeats)
    del bench_llc
    say("matrix multiply")
    flops = matmul_flops()

    fit = fit_gather(shapes, t_gather, t_sum, info.line_bytes, shapes_llc, t_llc)
    predicted = [predict_s(fit, s.row_bytes, info.line_bytes) for s in shapes]

    preset = build_preset(info, fit, stream, lat, llc_copy, flops)
    return Calibration(preset, info, fit, stream, lat, flops, shapes, t_gather, predicted,
                       time.perf_counter() - t_start, holdout, t_holdout)


def build_preset(info, fit, stream_Bps, latency_s, llc_copy_Bps, flops):
    """The cpu_dram YAML data of a calibration (every number with its source)."""
    day = datetime.date.today().isoformat()
    M = f"measured on this host by embsim calibrate {day}"
    mlp = latency_s / fit.line_time_s
    peak_flops = info.frequency_Hz * info.flops_per_cycle     # one core
    eff = min(1.0, flops / peak_flops)
    cores_per_socket = max(1, info.cores // info.sockets)
    S = lambda value, source: {"value": value, "source": source}
    spr = "the value of the cpu_2s_spr_ddr5 preset"
    return {
        "family": "cpu_dram",
        "name": "calibrated_host",
        "description": (f"This host ({info.cpu_model}, {info.cores} cores), measured by embsim calibrate on {day}. "
                        f"Gather parameters are fitted to single-core numpy gather-and-sum times; the "
                        f"full-socket figures extrapolate them to all cores, capped by the measured streaming bandwidth."),
        "params": {
            "sockets": S(info.sockets, f"{M}: NUMA nodes in /sys/devices/system/node"),
            "cpu": {
                "count": S(cores_per_socket, f"{M}: CPUs this process may run on, per NUMA node"),
                "clock": S(_num(info.frequency_Hz, "Hz"), f"{M}: {info.facts['frequency_Hz']}"),
                "ops_per_cycle": {"fp32": S(info.flops_per_cycle, info.facts["flops_per_cycle"])},
                "op_energy": {"fp32": S("34 pJ", f"assumption: not measurable from user space; {spr} (xeon_8480p)")},
                "mlp_dtype": "fp32",
                "mlp_efficiency": S(_num(eff), f"{M}: float32 512^3 matmul at {flops / 1e9:.3g} GFLOP per CPU-second over "
                                               f"the {peak_flops / 1e9:.3g} GFLOP/s peak of one core (frequency x FLOP/cycle)"),
                "lines_in_flight": S(_num(mlp), f"{M}: fitted, chase latency {latency_s * 1e9:.4g} ns / fitted "
                                                f"per-line gather time {fit.line_time_s * 1e9:.4g} ns"),
                "row_overhead": S(_num(fit.gather_overhead_s, "s"),
                                  f"{M}: fitted intercept of numpy take + add.reduce per row (single core)"),
                "sum_bandwidth": S(_num(fit.sum_bandwidth_Bps, "B/s"),
                                   f"{M}: fitted slope of numpy add.reduce over bags already in cache"),
                "static_power": S("50 W", "assumption: not measurable from user space; idle package power of a small server CPU"),
            },
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
