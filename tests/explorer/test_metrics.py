from embsim.explorer import metrics as M

RESULT = {
    "format": "embsim.SimResult/1", "model": "rm1", "config": {"batch_size": 256},
    "throughput": {"queries_per_s": 1000.0, "lookups_per_s": 8e4},
    "latency": {"p50_s": 1e-3, "p95_s": 2e-3, "p99_s": 3e-3, "max_s": 4e-3},
    "bandwidth_Bps": {"csd0.dram": 1e9}, "peak_bandwidth_Bps": {"csd0.dram": 2e9},
    "energy": {"per_query_J": 0.5, "total_J": 10.0, "dynamic_J": {"csd0:read": 1.0}},
    "provenance": {"config_hash": "abc", "seed": 0}, "notes": ["x"],
}


def test_sim_metrics_flatten_and_name_the_headline_figures():
    m = M.sim_metrics(RESULT)
    assert m["throughput_qps"] == 1000.0 and m["lookups_per_s"] == 8e4
    assert (m["p50_latency_s"], m["p99_latency_s"], m["max_latency_s"]) == (1e-3, 3e-3, 4e-3)
    assert m["energy_per_query_J"] == 0.5 and m["energy_J"] == 10.0
    assert m["energy.dynamic_J.csd0:read"] == 1.0 and m["model"] == "rm1"
    assert not any(k.startswith(("provenance", "notes", "format", "config")) for k in m)   # not design properties
    assert M.bandwidth_columns(m) == ["bandwidth_Bps.csd0.dram"]


def test_a_missing_figure_stays_missing():
    m = M.sim_metrics({"throughput": {"qps_renamed": 5.0}})
    assert "throughput_qps" not in m and m["throughput.qps_renamed"] == 5.0


def test_latency_sample():
    assert M.latency_sample({"latency_sample_s": [3, 1, 2]}) == [3.0, 1.0, 2.0]
    assert M.latency_sample({"latency": {"sample_s": [1.5]}}) == [1.5]
    assert M.latency_sample(RESULT) is None
