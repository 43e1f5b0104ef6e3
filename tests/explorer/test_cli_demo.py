"""The demo's machinery on a small model (the real demo runs in `make demo`)."""
import json

from embsim.cli.demo import SWEEP_SPACE, run_demo

from conftest import assert_input_error

import sys
import pathlib
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "sim"))
from simtoys import small_model  # noqa: E402


def test_run_demo_writes_table_page_and_results(tmp_path):
    systems = [("CPU-DRAM", "cpu_2s_spr_ddr5", None), ("multi-GPU", "gpu_8x_a100_80g", None)]
    out = run_demo(tmp_path / "d", batch_size=64, batches=8, time_limit_s=2, systems=systems, model=small_model(),
                   echo=lambda *a: None, sweep_space=None, sla_tail_samples=2, tb_regimes=[])
    rows = {r["system"]: r for r in out["rows"]}
    assert rows["CPU-DRAM"]["speedup_vs_cpu"] == 1.0 and rows["multi-GPU"]["speedup_vs_gpu"] == 1.0
    g = rows["multi-GPU"]
    assert g["speedup_vs_cpu"] == g["queries_per_s"] / rows["CPU-DRAM"]["queries_per_s"]
    page = (tmp_path / "d" / "demo.html").read_text()
    assert "plotly" in page.lower() and len(page) > 1_000_000       # plotly.js embedded
    assert 'src="http' not in page                                 # nothing fetched: opens offline
    d = json.loads((tmp_path / "d" / "demo.json").read_text())
    assert [r["system"] for r in d["rows"]] == ["CPU-DRAM", "multi-GPU"]
    assert (tmp_path / "d" / "results" / "gpu_8x_a100_80g.json").exists()
    assert "queries/s" in out["table"]
    body = page.split("</head>", 1)[1]
    assert "<pre>" not in body and body.count("<table>") >= 3                # real tables, not a text block
    assert "static per query" in page and "dynamic per query" in page       # energy split per part
    assert "plan-1" in body and '"type":"heatmap"' in body                  # a plan heatmap per system
    assert " ms<" in body or " us<" in body                                  # latencies in human units


def test_demo_refuses_to_overwrite_without_force(run_cli, tmp_path):
    (tmp_path / "demo.html").write_text("mine")
    assert_input_error(run_cli("demo", "-o", tmp_path), "already exists")
    assert (tmp_path / "demo.html").read_text() == "mine"


def test_demo_ends_with_the_packaged_sweep_and_its_report(tmp_path):
    systems = [("CPU-DRAM", "cpu_2s_spr_ddr5", None)]
    out = run_demo(tmp_path / "d", batch_size=64, batches=8, time_limit_s=2, systems=systems, model=small_model(),
                   echo=lambda *a: None, sweep_space=SWEEP_SPACE, sla_tail_samples=2, tb_regimes=[])
    assert SWEEP_SPACE.is_file()                      # shipped inside the package, not only in examples/
    assert out["sweep"].ok == out["sweep"].points > 0  # every design of the demo space was evaluated
    report = (tmp_path / "d" / "demo_sweep.html").read_text()
    assert "Pareto" in report and (tmp_path / "d" / "demo_sweep.sqlite").exists()


def test_the_tb_regime_row_says_which_system_the_model_does_not_fit(tmp_path):
    """A model larger than a system's memory is listed as not planned (with the sizes) and the NVMe-backed
    system runs it, its ratios against the regime's own baselines; the page shows both."""
    small_dram = {"params.dram.capacity": "1 MB"}          # the small model (~10 MB) fits neither socket's DRAM
    regime = [("TB-scale (shrunk)", small_model(), [("CPU-DRAM", "cpu_2s_spr_ddr5", None, small_dram),
                                                    ("CPU + NVMe", "cpu_2s_spr_nvme", None, small_dram)],
               ("CPU + NVMe", "multi-GPU"))]
    out = run_demo(tmp_path / "d", batch_size=64, batches=8, time_limit_s=2, model=small_model(),
                   systems=[("CPU-DRAM", "cpu_2s_spr_ddr5", None)], echo=lambda *a: None, sweep_space=None,
                   sla_tail_samples=2, tb_regimes=regime)
    d = json.loads((tmp_path / "d" / "demo.json").read_text())
    (reg,) = d["regimes"]
    assert [r["system"] for r in reg["not_planned"]] == ["CPU-DRAM"] and "need 12.8 MB" in reg["not_planned"][0]["why"]
    (nvme,) = reg["rows"]
    assert nvme["system"] == "CPU + NVMe" and nvme["speedup_vs_cpu"] == 1.0 and nvme["flash_bytes_B"] > 0
    assert nvme["qps_under_p99_target"] is None                # no SLA probe in a regime
    page = (tmp_path / "d" / "demo.html").read_text()
    assert "TB-scale (shrunk)" in page and "not planned: why" in page
    assert out["rows"][0]["system"] == "CPU-DRAM"


def test_demo_columns_reach_the_sharding_mip_and_spare_the_soc(tmp_path):
    """--columns applies to the systems the sharding MIP plans; the SoC is still mapped core by core."""
    systems = [("Ascend", "ascend_910", None), ("multi-GPU", "gpu_8x_a100_80g", None)]
    out = run_demo(tmp_path / "d", batch_size=64, batches=8, time_limit_s=2, systems=systems, model=small_model(),
                   echo=lambda *a: None, sweep_space=None, sla_tail_samples=2, tb_regimes=[],
                   planner={"columns": True})
    assert [r["system"] for r in out["rows"]] == ["Ascend", "multi-GPU"]
    d = json.loads((tmp_path / "d" / "demo.json").read_text())
    assert [r["plan"]["planner"] for r in d["rows"]] == ["core_mapping", "sharding_mip"]
