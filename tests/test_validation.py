"""validation/: the scripts run, print every comparison with its source, and obey physics.

These tests never assert that a model matches a measurement (that would only
reward typing the measurement into a preset).  They assert what must hold
whatever the parameters: ratios are finite and positive, bandwidth never
falls as a read grows, nothing exceeds its link or memory peak, removing a
cap never slows a device, Little's law ties rate, latency and reads in flight.
"""
import ast
import math
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:       # validation/ is a folder of the checkout, not part of the installed package
    sys.path.insert(0, str(ROOT))

from embsim.hw_models.loader import load_system  # noqa: E402
from validation import (fbgemm_tbe_forward, measurements, run_all, smartssd_p2p_bandwidth,  # noqa: E402
                        smartssd_random_read_iops, torchrec_planner_bandwidth)

VALIDATION = ROOT / "validation"


@pytest.fixture(scope="module")
def printed():
    """run_all as a user runs it: a separate process, from a checkout, no PYTHONPATH."""
    p = subprocess.run([sys.executable, str(VALIDATION / "run_all.py")], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_every_comparison_and_row_is_printed_with_sources(printed):
    for mod in run_all.SCRIPTS:
        assert f"== {mod.TITLE} ==" in printed
        for row in mod.compare()[0]:
            assert row.quantity in printed
    assert printed.count("sources:") == len(run_all.SCRIPTS)
    for ref in (measurements.SMARTSSD_P2P_READ, measurements.SMARTSSD_RANDREAD_IOPS_UG1382,
                measurements.FBGEMM_TBE_FORWARD, measurements.TORCHREC_PLANNER):
        assert ref.source in printed
    assert "measured" in printed and "ratio" in printed


@pytest.mark.parametrize("mod", run_all.SCRIPTS, ids=lambda m: m.__name__.split(".")[-1])
def test_each_script_runs_alone_as_a_module(mod, capsys):
    runpy.run_module(mod.__name__, run_name="__main__")     # as `python -m validation.<name>`
    out = capsys.readouterr().out
    assert out.startswith(f"== {mod.TITLE} ==")
    assert "sources:" in out


def test_every_ratio_is_finite_and_positive():
    rows = run_all.all_rows()
    assert len(rows) >= 30
    for r in rows:
        assert math.isfinite(r.model) and r.model > 0, r
        assert math.isfinite(r.reference) and r.reference > 0, r
        assert math.isfinite(r.ratio) and r.ratio > 0, r


def test_measured_figures_live_only_in_measurements_py():
    """No script types a measured number in: every float literal of the scripts is checked."""
    measured = set()
    for ref in measurements.ALL.values():
        measured |= {float(v) for v in ref.values.values()}
    measured -= {0.2}      # torchrec's caching ratio is also a plain fraction
    for path in VALIDATION.glob("*.py"):
        if path.name == "measurements.py":
            continue
        nums = {float(n.value) for n in ast.walk(ast.parse(path.read_text()))
                if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)}
        assert not (nums & measured), (path.name, nums & measured)


# -- (a) SmartSSD P2P read stream -------------------------------------------------------
def test_p2p_stream_bandwidth_rises_with_buffer_size_and_stays_under_the_link():
    rows, info = smartssd_p2p_bandwidth.compare()
    curve = info["curve"]
    link = info["link_peak_Bps"]
    assert [c["size_B"] for c in curve] == sorted(measurements.SMARTSSD_P2P_READ.values)
    for a, b in zip(curve, curve[1:]):
        assert b["one_stream_Bps"] >= a["one_stream_Bps"] * (1 - 1e-9)          # larger reads never slower
        assert b["full_concurrency_Bps"] >= a["full_concurrency_Bps"] * (1 - 1e-9)
    for c in curve:
        assert c["one_stream_Bps"] <= c["full_concurrency_Bps"] * (1 + 1e-9)   # one stream <= many in flight
        assert c["full_concurrency_Bps"] <= link * (1 + 1e-9)
    for gbps in measurements.SMARTSSD_P2P_READ.values.values():                 # the log itself obeys the link
        assert gbps * 1e9 <= link


def test_p2p_stream_bandwidth_rises_with_buffer_size_on_any_parameters():
    """Monotonicity is physics, not a property of the preset's numbers: check a different NAND."""
    s = load_system("screc_4x_smartssd", overrides={"params.csd.flash.page.value": "4 KiB",
                                                    "params.csd.flash.read_latency.value": "40 us"})
    sizes = sorted(measurements.SMARTSSD_P2P_READ.values)
    bw = [b / s.flash_read_latency_s(b) for b in sizes]
    assert all(y >= x * (1 - 1e-9) for x, y in zip(bw, bw[1:]))


# -- (b) SmartSSD IOPS ------------------------------------------------------------------
def test_iops_rows_obey_caps_links_and_littles_law():
    rows, info = smartssd_random_read_iops.compare()
    assert info["uncapped_iops"] >= info["configured_iops"]          # removing a cap never slows
    assert info["configured_iops"] <= info["link_iops"] * (1 + 1e-9)
    assert info["uncapped_iops"] <= info["link_iops"] * (1 + 1e-9)
    # Little's law: reads in flight = rate x latency of one read
    assert info["reads_in_flight"] == pytest.approx(info["configured_iops"] * info["qd1_latency_s"])
    lat = [r for r in rows if r.unit == "s"]
    qd = measurements.SMARTSSD_RANDREAD_LATENCY.extra["queue_depth"]
    for r in lat:
        assert r.model * (info["configured_iops"] if "configured" in r.quantity else info["uncapped_iops"]) \
            == pytest.approx(qd)


# -- (c) FBGEMM TBE ---------------------------------------------------------------------
def test_tbe_model_never_beats_hbm_peak_and_more_bandwidth_is_never_slower():
    rows, info = fbgemm_tbe_forward.compare()
    share = [r for r in rows if "share of HBM peak" in r.quantity]
    assert share and all(0 < r.model <= 1 for r in share)
    t = {r.quantity.split(":")[0]: r.model for r in rows if "time per batch" in r.quantity}
    assert t["H100"] <= t["A100"]                        # H100 has more HBM bandwidth
    for name, peak in info["peaks"].items():
        short = name.replace("gpu_8x_", "").replace("_80g", "").upper()
        bw = next(r.model for r in rows if r.quantity == f"{short}: FBGEMM-counted bandwidth")
        assert bw * 1e9 <= peak * (1 + 1e-9)
    # bytes follow from the lookups: B*T*L rows of D*4 B plus B*T*D output bytes
    x = measurements.FBGEMM_TBE_FORWARD.extra
    assert info["fbgemm_bytes"] == x["batch"] * x["tables"] * x["dim"] * (x["pooling"] * 4 + 1)


# -- (d) torchrec -----------------------------------------------------------------------
def test_torchrec_rows_cover_every_kernel_and_ours_respect_peaks():
    rows, info = torchrec_planner_bandwidth.compare()
    by = {r.quantity: r for r in rows}
    for k in ("A100", "H100"):
        hbm = by[f"{k}: cuda fused (HBM gather)"].model
        uvm = by[f"{k}: cuda fused_uvm (host DDR over PCIe)"].model
        caching = by[f"{k}: cuda fused_uvm_caching, hit ratio 0.2"].model
        assert uvm < caching < hbm                          # a cache lands between its two tiers
        peak_hbm, peak_link = info["peaks"][k]
        assert hbm * 1e9 <= peak_hbm and by[f"{k}: intra-node all-to-all per GPU"].model * 1e9 <= peak_link
    cpu = by["SPR socket: cpu fused (DRAM gather)"].model
    assert cpu * 1e9 <= info["cpu_peak"] * (1 + 1e-9)


def test_torchrec_formulas_follow_the_planner():
    v = measurements.TORCHREC_PLANNER.values
    assert measurements.torchrec_kernel_bw("cpu_dense") == 0.5 * measurements.torchrec_kernel_bw("cpu_fused")
    assert measurements.torchrec_kernel_bw("cuda_fused_uvm_caching", 0.0) == measurements.torchrec_kernel_bw(
        "cuda_fused_uvm")
    assert measurements.torchrec_kernel_bw("cuda_fused_uvm_caching", 1.0) == v["HBM_MEM_BW"] / 10
