"""Helpers shared by the explorer tests: a tiny design space and a fast deterministic fake evaluator.

The fake evaluator stands in for simulate() so the sweep machinery (pools,
Dask, the store, resume after a kill) is tested in milliseconds.  Its
metrics trade off against each other (more devices: more throughput, more
energy and cost), so Pareto fronts are not trivial.
"""
import math
import os
import time

import yaml

from embsim.errors import InputError

SYSTEM = {"family": "toy", "name": "toy", "params": {"devices": {"count": 1}, "dram": {"capacity": 1}}}


def write_space(tmp_path, **extra):
    """A space file over two knobs (devices, dram) of a toy system file; extra keys override."""
    (tmp_path / "toy_system.yaml").write_text(yaml.safe_dump(SYSTEM))
    space = {
        "name": "toy",
        "system": "toy_system.yaml",
        "model": "rm1",
        "simulation": {"queries": 100, "batch_size": 32},
        "knobs": {
            "devices": {"path": "system.params.devices.count", "values": [1, 2, 4, 8]},
            "dram": {"path": "system.params.dram.capacity", "min": 1, "max": 16, "step": 5},
        },
        "objectives": {"throughput_qps": "max", "energy_per_query_J": "min", "cost_usd": "min"},
        "sampler": {"kind": "grid"},
    }
    space.update(extra)
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    return p


def fake_evaluate(config):
    """Deterministic metrics of a toy configuration; sleeps FAKE_EVAL_DELAY_S if set."""
    delay = float(os.environ.get("FAKE_EVAL_DELAY_S", "0") or 0)
    if delay:
        time.sleep(delay)
    o = config["system_overrides"]
    n = o.get("params.devices.count", 1)
    mem = o.get("params.dram.capacity", 1)
    if n * mem > 100:
        raise InputError(f"toy: {n} devices x {mem} GB do not fit the chassis")
    batch = config["sim"]["batch_size"]
    thr = 1000.0 * n * (1 - math.exp(-mem / 8.0)) * batch / (batch + 16)
    return {"throughput_qps": thr, "energy_per_query_J": (0.5 * n + 0.02 * mem) / max(thr, 1e-9) * 100,
            "cost_usd": 1000.0 * n + 50.0 * mem, "p99_latency_s": 1e-3 * (1 + 8 / (n * mem)),
            "bandwidth_Bps.dev.dram": 1e9 * n, "artifacts": {"note": "fake"}}


def broken_evaluate(config):
    """Fails like a bug on every other device count."""
    if config["system_overrides"].get("params.devices.count") in (2, 8):
        raise RuntimeError("bug in the evaluator")
    return fake_evaluate(config)
