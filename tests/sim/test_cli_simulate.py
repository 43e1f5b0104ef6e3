"""`embsim simulate` and its error contract."""
import json

import pytest
import yaml

from embsim.hw_models.loader import load_system

from conftest import assert_input_error
from simtoys import round_robin_plan, small_model, small_trace


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    model = small_model()
    (d / "tiny.yaml").write_text(yaml.safe_dump({
        "name": "tiny", "source": "test model",
        "defaults": {"dim": 16, "pooling": 8, "access": {"kind": "zipf", "alpha": 1.05}},
        "tables": [{"name": f"t{i}", "rows": 20_000 * (i + 1)} for i in range(4)],
        "dense": {"dense_features": 13, "bottom_mlp": [64, 16], "top_mlp": [64, 1], "interaction": "dot"}}))
    cpu = load_system("cpu_2s_spr_ddr5")
    round_robin_plan(model, cpu).save(d / "plan.json")
    small_trace(model, batches=8, batch_size=32).save(d / "t.npz")
    return d


def base(files):
    return ["simulate", "--model", files / "tiny.yaml", "--system", "cpu_2s_spr_ddr5",
            "--plan", files / "plan.json", "--trace", files / "t.npz"]


def test_summary_and_json(run_cli, files):
    r = run_cli(*base(files))
    assert r.code == 0, r
    assert "throughput" in r.out and "p99" in r.out and "bottleneck" in r.out
    r = run_cli(*base(files), "--qps", "100000", "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["config"]["arrival"] == "poisson" and d["throughput"]["queries_per_s"] > 0


def test_output_file_and_force(run_cli, files, tmp_path):
    out = tmp_path / "r.json"
    assert run_cli(*base(files), "-o", out).code == 0
    assert json.loads(out.read_text())["format"].startswith("embsim.SimResult")
    assert_input_error(run_cli(*base(files), "-o", out), "already exists")
    assert run_cli(*base(files), "-o", out, "--force").code == 0


@pytest.mark.parametrize("extra, fragment", [
    (["--qps", "-5"], "--qps"),
    (["--qps", "100", "--closed-loop"], "choose one"),
    (["--queries", "0"], "--queries"),
    (["--batch-size", "7"], "batch_size"),
    (["--arrival", "trace"], "timestamps"),
    (["--arrival", "poisson"], "--qps"),
    (["--batch-timeout", "0", "--qps", "10"], "--batch-timeout"),
    (["--queries", "32"], "warm up"),
])
def test_bad_options_exit_2(run_cli, files, extra, fragment):
    assert_input_error(run_cli(*base(files), *extra), fragment)


def test_bad_files_exit_2(run_cli, files, tmp_path):
    assert_input_error(run_cli("simulate", "--model", "nope_model", "--system", "cpu_2s_spr_ddr5"), "nope_model")
    assert_input_error(run_cli("simulate", "--model", files / "tiny.yaml", "--system", "cpu_2s_spr_ddr5",
                               "--plan", tmp_path / "missing.json"), "no such plan")
    assert_input_error(run_cli("simulate", "--model", files / "tiny.yaml", "--system", "gpu_8x_a100_80g",
                               "--plan", files / "plan.json"), "plan is for")
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    assert_input_error(run_cli(*base(files)[:-2], "--trace", bad), "bad.npz")
    out = tmp_path / "never.json"
    assert_input_error(run_cli(*base(files), "--qps", "-1", "-o", out), "--qps")
    assert not out.exists()


def test_system_caches_are_replayed_on_request(run_cli, tmp_path):
    """--caches lru replays the LLC the cpu_dram preset declares: hits appear and lookups are conserved."""
    import json
    from embsim.hw_models.loader import load_system
    from embsim.sim.shards import caches_from_system
    caches = caches_from_system(load_system("cpu_2s_spr_ddr5"))
    assert set(caches) == {"socket0.dram", "socket1.dram"} and caches["socket0.dram"][0]["granularity_B"] == 64
    args = ["simulate", "--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--batch-size", "64", "--queries", "1280",
            "--time-limit", "2", "--json"]
    off = json.loads(run_cli(*args).out)
    on = json.loads(run_cli(*args, "--caches", "lru").out)
    assert off["config"]["caches"] is None and on["config"]["caches"]
    assert any("llc" in k for k in on["bytes_B"]["requested"]) and not any("llc" in k for k in off["bytes_B"]["requested"])
