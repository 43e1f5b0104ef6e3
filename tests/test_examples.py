"""The files in examples/ load, validate and run: a user copying one must not hit an error."""
import math
from pathlib import Path

import pytest

from embsim.explorer.space import load_space
from embsim.hw_models.loader import load_system
from embsim.sim.simulate import simulate
from embsim.workloads.model import load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODELS = sorted((EXAMPLES / "models").glob("*.yaml"))
SYSTEMS = sorted((EXAMPLES / "systems").glob("*.yaml"))
SPACES = sorted((EXAMPLES / "spaces").glob("*.yaml"))


def test_the_examples_promised_by_the_readme_exist():
    names = {p.name for p in MODELS + SYSTEMS}
    assert {"small_rm.yaml", "criteo_int8.yaml", "screc_8x_smartssd.yaml", "gpu_4x_a100_hbm_cache.yaml"} <= names
    readme = (EXAMPLES / "README.md").read_text()
    for p in MODELS + SYSTEMS + SPACES:
        assert p.name in readme, f"examples/README.md does not mention {p.name}"


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_example_model_loads(path):
    m = load_model(path)
    assert m.n_tables >= 3
    assert m.embedding_bytes == sum(t.rows * t.row_bytes for t in m.tables)
    assert m.lookups_per_sample > 0


def test_criteo_int8_shows_dtype_and_per_table_skew():
    m = load_model(EXAMPLES / "models" / "criteo_int8.yaml")
    assert {t.dtype for t in m.tables} >= {"int8", "fp16"}
    int8 = next(t for t in m.tables if t.dtype == "int8")
    assert int8.row_bytes == int8.dim          # 1 B per value
    assert len({(t.access.kind, t.access.alpha) for t in m.tables}) >= 3


@pytest.mark.parametrize("path", SYSTEMS, ids=[p.stem for p in SYSTEMS])
def test_example_system_loads_and_every_number_has_a_source(path):
    s = load_system(path)
    assert s.slots()
    text = path.read_text()
    # every "{value: ...}" entry in the file carries a non-empty source
    entries = [l for l in text.splitlines() if "{value:" in l and not l.lstrip().startswith("#")]
    assert entries
    for line in entries:
        assert 'source: "' in line and 'source: ""' not in line, line


def test_derived_systems_change_what_they_say():
    screc = load_system(EXAMPLES / "systems" / "screc_8x_smartssd.yaml")
    base = load_system("screc_4x_smartssd")
    assert (screc.n_devices, base.n_devices) == (8, 4)
    assert len(screc.slots()) == 2 * len(base.slots()) - 1        # 3 tiers per device + the host's DRAM
    gpu = load_system(EXAMPLES / "systems" / "gpu_4x_a100_hbm_cache.yaml")
    assert len(gpu.devices) == 4
    levels = gpu.cache_levels()
    assert len(levels) == 4 and all(c["capacity_B"] == 16e9 for c in levels)
    hbm = next(sl for sl in gpu.slots() if sl.tier == "hbm")
    a100 = next(sl for sl in load_system("gpu_8x_a100_80g").slots() if sl.tier == "hbm")
    assert a100.capacity_B - hbm.capacity_B == pytest.approx(16e9)   # the cache comes out of HBM


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_example_space_validates_and_samples(path):
    space = load_space(path)
    pts = space.points()
    assert len(pts) >= 1
    assert space.points() == pts            # seeded: the same points twice


def _caches(system):
    """The system's declared caches in the form simulate() takes (as examples/README.md shows)."""
    return {f"{c['device']}.{c['above_tier']}": [{"name": c["level"], "policy": "lru", "capacity_B": c["capacity_B"]}]
            for c in system.cache_levels()} or None


@pytest.mark.parametrize("path", SYSTEMS, ids=[p.stem for p in SYSTEMS])
def test_small_rm_simulates_on_each_example_system(path):
    model = load_model(EXAMPLES / "models" / "small_rm.yaml")
    system = load_system(path)
    r = simulate(model, system, queries=512, batch_size=64, time_limit_s=2, caches=_caches(system), seed=0)
    d = r.to_dict()
    qps = d["throughput"]["queries_per_s"] if "queries_per_s" in d.get("throughput", {}) else r.qps
    assert math.isfinite(qps) and qps > 0
    peak = r.peak_bandwidth_Bps
    for key, bw in r.bandwidth_Bps.items():
        if key in peak:
            assert bw <= peak[key] * (1 + 1e-9), (key, bw, peak[key])


def test_readme_command_runs(run_cli):
    res = run_cli("simulate", "--model", EXAMPLES / "models" / "small_rm.yaml",
                  "--system", EXAMPLES / "systems" / "screc_8x_smartssd.yaml", "--closed-loop",
                  "--queries", 512, "--batch-size", 64, "--time-limit", 2)
    assert res.code == 0, res
    assert "bottleneck" in res.out


@pytest.mark.slow
@pytest.mark.parametrize("path", [EXAMPLES / "spaces" / "quick.yaml",
                                  Path(__file__).resolve().parents[1] / "embsim" / "explorer" / "spaces" / "demo.yaml"],
                         ids=["quick", "demo"])
def test_example_sweeps_measure_steady_states(path):
    """The packaged sweeps' extreme points (fewest and most devices, smallest and largest knob values) are
    simulated long enough for a steady-state window."""
    from embsim.explorer.evaluate import evaluate
    pts = load_space(path).points()
    for p in (pts[0], pts[-1]):
        m = evaluate(p.config)
        assert m["steady_state"] == 1, (p.values, m.get("steady_state_reason"))
        assert m["littles_law.relative_error"] <= 0.05
