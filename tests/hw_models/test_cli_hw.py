"""embsim hw list / hw show / calibrate: output, sources, and the error contract."""
import json

import pytest
import yaml

from conftest import assert_input_error
from embsim.hw_models import calibrate as cal
from embsim.hw_models.loader import load_system, preset_names


def test_hw_list_text_and_json(run_cli):
    r = run_cli("hw", "list")
    assert r.code == 0, r
    for name in preset_names():
        line = next(l for l in r.out.splitlines() if l.startswith(name + " "))
        assert load_system(name).family in line
    j = run_cli("hw", "list", "--json")
    assert j.code == 0
    data = json.loads(j.out)
    assert [s["name"] for s in data["systems"]] == preset_names()
    assert all(s["family"] for s in data["systems"])


@pytest.mark.parametrize("name", preset_names())
def test_hw_show_every_number_has_a_source(run_cli, name):
    j = run_cli("hw", "show", name, "--json")
    assert j.code == 0, j
    data = json.loads(j.out)
    assert data["name"] == name and data["family"] == load_system(name).family
    params = data["parameters"]
    assert params and all(p["source"].strip() for p in params)
    assert any(isinstance(p["value"], float) for p in params)
    assert data["slots"] and data["peak_bandwidth_Bps"] and data["energy_per_action_J"]
    t = run_cli("hw", "show", name)
    assert t.code == 0
    lines = t.out.splitlines()
    # every parameter row of the table ends with its source
    for p in params:
        row = next(l for l in lines if l.split()[:2] == [p["part"], p["parameter"]])
        assert row.rstrip().endswith(p["source"]), row
        assert p["display"] in row


def test_hw_show_a_yaml_path(run_cli, tmp_path):
    src = load_system("cpu_2s_spr_ddr5").source_file
    path = tmp_path / "mine.yaml"
    path.write_text(open(src).read())
    r = run_cli("hw", "show", path)
    assert r.code == 0 and "cpu_2s_spr_ddr5" in r.out and "307.2 GB/s" in r.out


def test_hw_show_unknown_system_exits_2(run_cli):
    assert_input_error(run_cli("hw", "show", "gpu_8x_a100"), "unknown system 'gpu_8x_a100'", "did you mean 'gpu_8x_a100_80g'")
    assert_input_error(run_cli("hw", "show", "nothing.yaml"), "nothing.yaml")


def test_hw_show_bad_file_exits_2(run_cli, tmp_path):
    data = yaml.safe_load(open(load_system("gpu_8x_h100_80g").source_file))
    data["params"]["pcie"]["bandwidth"] = {"value": "-63 GB/s", "source": "typo"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert_input_error(run_cli("hw", "show", path), "bad.yaml", "params.pcie.bandwidth", "must be > 0")


def test_calibrate_refuses_existing_output_before_measuring(run_cli, tmp_path, monkeypatch):
    out = tmp_path / "host.yaml"
    out.write_text("mine")
    monkeypatch.setattr(cal, "calibrate", lambda **kw: pytest.fail("measured before checking the output"))
    assert_input_error(run_cli("calibrate", "-o", out), "already exists", "--force")
    assert out.read_text() == "mine"


def _fake_calibration(**kw):
    """A Calibration from fixed 'measurements' so the CLI plumbing is tested in milliseconds."""
    info = cal.host_info()
    fit = cal.Fit(gather_overhead_s=40e-9, line_time_s=30e-9, llc_line_time_s=10e-9, sum_bandwidth_Bps=30e9,
                  sum_overhead_s=20e-9)
    shapes = [cal.GatherShape(64, 8), cal.GatherShape(256, 32)]
    pred = [cal.predict_s(fit, s.row_bytes, info.line_bytes) for s in shapes]
    preset = cal.build_preset(info, fit, stream_Bps=10e9, latency_s=120e-9, llc_copy_Bps=50e9, flops=10e9)
    return cal.Calibration(preset, info, fit, 10e9, 120e-9, 10e9, shapes, [p * 1.1 for p in pred], pred, 0.1)


def test_calibrate_writes_a_loadable_preset(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(cal, "calibrate", _fake_calibration)
    out = tmp_path / "host.yaml"
    r = run_cli("calibrate", "-o", out, "--quick")
    assert r.code == 0, r
    assert "wrote" in r.out and "fit" in r.out
    system = load_system(str(out))
    assert system.family == "cpu_dram"
    assert all(src.startswith(("measured on this host by embsim calibrate", "assumption"))
               for *_, src in system.describe())
    # lines in flight = latency / per-line time = 120 / 30
    assert [r[2] for r in system.describe() if r[1] == "lines_in_flight"] == [pytest.approx(4.0)]
    again = run_cli("calibrate", "-o", out, "--force", "--json")
    assert again.code == 0
    assert json.loads(again.out)["fit_max_rel_error"] == pytest.approx(1 / 11)
