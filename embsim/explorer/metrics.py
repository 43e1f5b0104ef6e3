"""Flat metrics: the columns a sweep stores and a report plots.

A SimResult's JSON is nested (throughput, latency, bytes and bandwidth per
tier, energy by part ...).  A result store wants one flat row per design,
so ``flatten`` joins nested keys with dots (``bandwidth_Bps.csd0.dram``)
and ``headline`` adds the few canonical names every report and Pareto front
uses:

=========================  ==========================================
``throughput_qps``         queries per second
``lookups_per_s``          embedding lookups per second
``p50_latency_s`` ...      latency percentiles (p50, p95, p99, max)
``energy_per_query_J``     joules per query (dynamic + static)
=========================  ==========================================

Canonical names are found in the flattened result by a short list of
spellings, so a renamed field in SimResult shows up here as a missing
metric, never as a wrong number.
"""
import math

# canonical name -> flattened SimResult keys that hold it, in order of preference
CANONICAL = {
    "throughput_qps": ["throughput_qps", "throughput.queries_per_s", "throughput.qps", "throughput.queries_s"],
    "lookups_per_s": ["lookups_per_s", "throughput.lookups_per_s", "throughput.lookups_s"],
    "p50_latency_s": ["p50_latency_s", "latency_s.p50", "latency.p50_s", "latency.p50"],
    "p95_latency_s": ["p95_latency_s", "latency_s.p95", "latency.p95_s", "latency.p95"],
    "p99_latency_s": ["p99_latency_s", "latency_s.p99", "latency.p99_s", "latency.p99"],
    "max_latency_s": ["max_latency_s", "latency_s.max", "latency.max_s", "latency.max"],
    "energy_per_query_J": ["energy_per_query_J", "energy.per_query_J", "energy.energy_per_query_J"],
    "energy_J": ["energy_J", "energy.total_J", "energy_total_J"],
}

# Prefixes of flattened keys that hold achieved bandwidth per tier or link.
BANDWIDTH_PREFIXES = ("bandwidth_Bps.", "achieved_bandwidth_Bps.", "bandwidth.")

# Keys that are samples or bulky, not metrics: kept out of the flat row.
SAMPLE_KEYS = ("latency_sample_s", "latency_samples_s", "latencies_s", "latency_cdf")
# Bookkeeping of a SimResult that is not a property of the design (the full result keeps it).
NOT_METRICS = ("provenance", "notes", "format", "config")


def flatten(d, prefix="", out=None):
    """Nested dicts -> {"a.b.c": scalar}; lists and strings other than short scalars are skipped."""
    out = {} if out is None else out
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flatten(v, key + ".", out)
        elif isinstance(v, bool):
            out[key] = int(v)
        elif isinstance(v, (int, float)) or v is None:
            out[key] = v
        elif isinstance(v, str) and len(v) <= 200:
            out[key] = v
    return out


def headline(flat):
    """Add the canonical names (``CANONICAL``) that can be found in a flattened SimResult."""
    out = dict(flat)
    for name, spellings in CANONICAL.items():
        if name in out:
            continue
        for s in spellings:
            if s in flat and isinstance(flat[s], (int, float)):
                out[name] = flat[s]
                break
    return out


def sim_metrics(result):
    """Flat metrics of a SimResult dict (its ``to_dict()``), with the canonical names."""
    return headline(flatten({k: v for k, v in result.items() if k not in SAMPLE_KEYS + NOT_METRICS}))


def latency_sample(result):
    """The latency sample of a SimResult dict (seconds), if it carries one."""
    for k in SAMPLE_KEYS:
        v = result.get(k)
        if isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v[:10]):
            return [float(x) for x in v]
        if isinstance(v, dict):
            for kk in ("latency_s", "values_s", "x"):
                if isinstance(v.get(kk), list):
                    return [float(x) for x in v[kk]]
    lat = result.get("latency") or result.get("latency_s")
    if isinstance(lat, dict):
        for k in ("sample_s", "samples_s", "sample"):
            if isinstance(lat.get(k), list):
                return [float(x) for x in lat[k]]
    return None


def bandwidth_columns(columns):
    """The flattened columns that hold achieved bandwidth per tier or link."""
    return [c for c in columns if isinstance(c, str) and c.startswith(BANDWIDTH_PREFIXES)]


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
