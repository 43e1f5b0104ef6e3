"""SimResult: JSON with units in keys, save/load round trip, safe writes."""
import json
import re

import pytest

from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.sim.result import SimResult, load_result
from embsim.sim.simulate import simulate

from simtoys import round_robin_plan, small_model, small_trace

UNIT = re.compile(r"(_s|_B|_Bps|_J|_W|_qps|_per_s|_fraction|_queries|_batches|_hash|_error|_in_system)$")


@pytest.fixture(scope="module")
def result():
    model = small_model()
    cpu = load_system("cpu_2s_spr_ddr5")
    return simulate(model, cpu, round_robin_plan(model, cpu), trace=small_trace(model, batches=8, batch_size=32),
                    arrival="poisson", qps=1e5)


def test_round_trip(result, tmp_path):
    p = tmp_path / "r.json"
    result.save(p)
    back = load_result(p)
    assert back.to_json() == result.to_json()
    assert SimResult.load(p).p99_s == result.p99_s


def test_existing_file_needs_force(result, tmp_path):
    p = tmp_path / "r.json"
    result.save(p)
    with pytest.raises(InputError, match="already exists"):
        result.save(p)
    result.save(p, force=True)


def test_headline_figures_carry_units(result):
    d = result.to_dict()
    for section in ("throughput", "latency", "window", "littles_law", "energy"):
        for k, v in d[section].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                assert UNIT.search(k), f"{section}.{k} has no unit in its name"
    assert set(d["stage_time_s"]) == {"host", "embedding", "transfer", "attention", "dense", "response"}
    assert d["provenance"]["versions"].keys() >= {"embsim", "numpy", "simpy"}
    assert len(d["provenance"]["config_hash"]) == 64
    json.dumps(d, allow_nan=False)


def test_loading_something_else_is_an_input_error(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"format": "embsim.ShardingPlan"}')
    with pytest.raises(InputError, match="simulation result"):
        load_result(p)
    p.write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        load_result(p)
    with pytest.raises(InputError, match="no such result file"):
        load_result(tmp_path / "missing.json")
