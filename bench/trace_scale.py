"""Traces larger than memory: generate, summarise and replay a chunked trace, printing peak RSS and speed.

One zipf(1.05) table of ``--rows`` rows (pooling 32, batches of 4096
samples: 131,072 lookups per batch) is generated as a ``.trace`` folder by
``embsim trace gen`` (``--lookups``, default 2^31 = 2.1 billion, 16 GiB of
indices), summarised by ``embsim trace stats`` and replayed through an LRU
of 1% of the rows by ``embsim replay``; each step runs in its own process
and its peak resident memory (``wait4`` rusage) is printed.  Then:

* linearity: the streamed replay of the first 1/8, 1/4, 1/2 and all of the
  trace (prefixes made of the same chunk files, hard-linked), wall and CPU
  time side by side with the ratio to linear in the 1/8 prefix;
* streamed against in-memory: the 1/8 prefix read whole into memory and
  replayed from there, in lookups per second, against the streamed replay
  of the same prefix and of the whole trace (CPU time counts the reader
  thread's work: CRC-32, index check, page faults).

The machine may be shared: CPU seconds (user + system of the step's
process) are printed beside wall seconds.  Disk: about 8 bytes per lookup
in ``--dir`` (deleted at the end unless ``--keep``).

    PYTHONPATH=. python bench/trace_scale.py [--lookups 2147483648] [--dir /tmp/embsim-scale] [--keep]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

MODEL = """name: scale_one_table
source: "bench model (assumption: one large zipf table isolates the cost per lookup)"
defaults: {dim: 64, pooling: 32, pooling_dist: fixed, access: {kind: zipf, alpha: 1.05}}
tables:
  - {name: t0, rows: %d}
dense: {dense_features: 13, bottom_mlp: [64], top_mlp: [1], interaction: dot}
"""
BATCH_SIZE = 4096
POOLING = 32

REPLAY = """
import json, sys, time, numpy as np
from embsim.sim.replay import CacheLevel, Location, replay_trace
from embsim.workloads.store import open_trace, read_trace
path, rows, in_memory = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
t0 = time.perf_counter()
tr = read_trace(path) if in_memory else open_trace(path)
load_s = time.perf_counter() - t0
locs = [Location("host", "dram", 64, [CacheLevel("cache", "lru", rows // 100, 64)])]
t0, c0 = time.perf_counter(), time.process_time()
res = replay_trace(tr, locs, row_bytes=256.0)
print(json.dumps({"replay_s": time.perf_counter() - t0, "replay_cpu_s": time.process_time() - c0, "load_s": load_s,
                  "lookups": int(res.lookups[:, 0, 0].sum()), "hits": int(res.hits[:, 0, 0].sum())}))
"""


def run_step(args, env):
    """Run one step in its own process: (stdout, wall s, CPU s, peak RSS bytes)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    _, status, ru = os.wait4(p.pid, 0) if p.returncode is None else (p.pid, p.returncode, None)
    if p.returncode:
        raise SystemExit(f"step failed ({' '.join(map(str, args[:4]))} ...): {err.decode()[-2000:]}")
    return out.decode(), wall, ru


def timed_step(args, env):
    """Like run_step, with the child's rusage read through wait4 (peak RSS and CPU of that process alone)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"step failed ({' '.join(map(str, args[:6]))}): exit {p.returncode}")
    return out.decode(), wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024


def prefix_trace(full, out, n_chunks):
    """A trace of the first ``n_chunks`` chunks of ``full``: hard links to its files and a shorter manifest."""
    m = json.loads((full / "manifest.json").read_text())
    chunks = m["chunks"][:n_chunks]
    out.mkdir()
    for c in chunks:
        for f in c["files"].values():
            os.link(full / f["name"], out / f["name"])
    m["chunks"] = chunks
    m["batches"] = sum(c["batches"] for c in chunks)
    m["lookups"] = sum(c["lookups"] for c in chunks)
    m["lookups_per_table"] = [m["lookups"]]
    (out / "manifest.json").write_text(json.dumps(m))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lookups", type=int, default=2 ** 31)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--dir", default="/tmp/embsim-scale")
    p.add_argument("--keep", action="store_true", help="keep the generated trace (and reuse one found there)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    per_batch = BATCH_SIZE * POOLING
    batches = max(8, -(-a.lookups // per_batch))
    work = Path(a.dir)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    py = sys.executable
    model = work / "model.yaml"
    model.write_text(MODEL % a.rows)
    full = work / "full.trace"
    out = {"lookups_asked": a.lookups, "rows": a.rows, "batch_lookups": per_batch, "steps": {}}
    try:
        if not (a.keep and (full / "manifest.json").exists()):
            shutil.rmtree(full, ignore_errors=True)
            _, wall, cpu, rss = timed_step([py, "-m", "embsim", "trace", "gen", "--model", str(model), "--batches",
                                            str(batches), "--batch-size", str(BATCH_SIZE), "-o", str(full)], env)
            (work / "generate.json").write_text(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_rss_B": rss}))
        if (work / "generate.json").exists():   # a kept trace reports the run that generated it
            out["steps"]["generate"] = json.loads((work / "generate.json").read_text())
        m = json.loads((full / "manifest.json").read_text())
        out["lookups"], out["chunks"], out["chunk_lookups"] = m["lookups"], len(m["chunks"]), m["chunks"][0]["lookups"]
        out["indices_B"] = 8 * m["lookups"]
        _, wall, cpu, rss = timed_step([py, "-m", "embsim", "trace", "stats", str(full), "--json"], env)
        out["steps"]["stats"] = {"wall_s": wall, "cpu_s": cpu, "peak_rss_B": rss}
        # linearity: prefixes of 1/8, 1/4, 1/2 and the whole trace, replayed streamed
        n = len(m["chunks"])
        out["replay"] = []
        for frac in (8, 4, 2, 1):
            k = max(1, n // frac)
            path = full if k == n else prefix_trace(full, work / f"prefix_{frac}.trace", k)
            res, wall, cpu, rss = timed_step([py, "-c", REPLAY, str(path), str(a.rows), "0"], env)
            r = json.loads(res)
            r.update(fraction=1 / frac, chunks=k, process_wall_s=wall, process_cpu_s=cpu, peak_rss_B=rss)
            out["replay"].append(r)
        # in memory: the 1/8 prefix read whole, then replayed from memory
        path = work / "prefix_8.trace" if n >= 8 else full
        res, wall, cpu, rss = timed_step([py, "-c", REPLAY, str(path), str(a.rows), "1"], env)
        r = json.loads(res)
        r.update(process_wall_s=wall, process_cpu_s=cpu, peak_rss_B=rss)
        out["in_memory"] = r
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            for x in work.glob("prefix_*.trace"):
                shutil.rmtree(x, ignore_errors=True)
    report(out, a.json)
    return 0


def report(out, as_json):
    if as_json:
        print(json.dumps(out, indent=2))
        return
    gib = 2 ** 30
    print(f"trace: {out['lookups']:,} lookups ({out['indices_B'] / gib:.1f} GiB of indices), one zipf(1.05) table "
          f"of {out['rows']:,} rows, {out['chunks']} chunks of {out['chunk_lookups']:,} lookups")
    for name, s in out["steps"].items():
        print(f"{name:<9} {s['wall_s']:8.1f} s wall {s['cpu_s']:8.1f} s CPU  peak RSS {s['peak_rss_B'] / gib:.2f} GiB  "
              f"({out['lookups'] / s['wall_s'] / 1e6:.1f} M lookups/s wall)")
    base = out["replay"][0]
    print("replay, LRU of 1% of the rows, streamed chunk by chunk:")
    print(f"{'lookups':>15} {'wall s':>8} {'CPU s':>8} {'M/s wall':>9} {'x linear':>9} {'(CPU)':>6} {'peak RSS':>9}")
    for r in out["replay"]:
        scale = r["lookups"] / base["lookups"]
        print(f"{r['lookups']:>15,} {r['replay_s']:8.1f} {r['replay_cpu_s']:8.1f} {r['lookups'] / r['replay_s'] / 1e6:9.1f} "
              f"{r['replay_s'] / (scale * base['replay_s']):9.3f} {r['replay_cpu_s'] / (scale * base['replay_cpu_s']):6.3f} "
              f"{r['peak_rss_B'] / gib:8.2f}G")
    mem, big = out["in_memory"], out["replay"][-1]
    sp_mem, sp_big = mem["lookups"] / mem["replay_s"], big["lookups"] / big["replay_s"]
    cp_mem, cp_big = mem["lookups"] / mem["replay_cpu_s"], big["lookups"] / big["replay_cpu_s"]
    print(f"in memory ({mem['lookups']:,} lookups read whole, peak RSS {mem['peak_rss_B'] / gib:.2f} GiB): "
          f"{sp_mem / 1e6:.1f} M lookups/s wall, {cp_mem / 1e6:.1f} M/s CPU")
    same = out["replay"][0]
    print(f"streamed, the same {same['lookups']:,} lookups: {same['lookups'] / same['replay_s'] / sp_mem:.0%} of in memory "
          f"in wall time, {same['lookups'] / same['replay_cpu_s'] / cp_mem:.0%} in CPU time")
    print(f"streamed {big['lookups']:,} lookups: {sp_big / 1e6:.1f} M lookups/s wall = {sp_big / sp_mem:.0%} of in memory "
          f"({cp_big / cp_mem:.0%} in CPU time)")


if __name__ == "__main__":
    sys.exit(main())
