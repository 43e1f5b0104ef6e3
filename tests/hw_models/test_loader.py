"""load_system: the family registry, presets, checked overrides and one-line errors."""
import pytest
import yaml

from embsim.errors import InputError
from embsim.hw_models import FAMILIES, System
from embsim.hw_models.loader import load_system, load_system_data, preset_names, system_from_dict


def test_registry_has_the_families_and_presets_load():
    load_system("cpu_2s_spr_ddr5")                 # importing registers the families
    assert {"cpu_dram", "multi_gpu"} <= set(FAMILIES)
    assert all(issubclass(c, System) and c.family == n for n, c in FAMILIES.items())
    for name in preset_names():
        s = load_system(name)
        assert s.family in FAMILIES and s.name == name


def _write(tmp_path, data, name="sys.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def _one_line(e):
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_unknown_family_suggests(tmp_path):
    data = yaml.safe_load(open(load_system("cpu_2s_spr_ddr5").source_file))
    data["family"] = "cpu_dran"
    with pytest.raises(InputError) as e:
        load_system(str(_write(tmp_path, data)))
    msg = _one_line(e)
    assert "sys.yaml: family: unknown family 'cpu_dran'; did you mean 'cpu_dram'?" in msg
    with pytest.raises(InputError, match="family: missing"):
        system_from_dict({"name": "x"}, source="x.yaml")


def test_unknown_override_key_suggests():
    with pytest.raises(InputError) as e:
        load_system("cpu_2s_spr_ddr5", {"params.dram.concurency": 4})
    assert "params.dram.concurency: unknown key 'concurency'; did you mean 'concurrency'?" in _one_line(e)


def test_override_changes_the_model_and_records_its_source():
    base = load_system("cpu_2s_spr_ddr5")
    more = load_system("cpu_2s_spr_ddr5", {"params.dram.peak_bandwidth": "460.8 GB/s"})
    assert more.peak_bandwidth_Bps()["socket0.dram"] == pytest.approx(1.5 * base.peak_bandwidth_Bps()["socket0.dram"])
    row = [r for r in more.describe() if r[:2] == ("socketN.dram", "peak_bandwidth")][0]
    assert row[2] == 460.8e9 and row[4].startswith("override: params.dram.peak_bandwidth=460.8 GB/s")


@pytest.mark.parametrize("path, value, fragment", [
    ("params.dram.capacity", "-512 GB", "params.dram.capacity: must be > 0"),
    ("params.hbm.capacity", 0, "params.hbm.capacity: must be > 0"),
    ("params.uvm.efficiency", 1.5, "params.uvm.efficiency: must be <= 1"),
    ("params.gpus", 2.5, "params.gpus: must be a whole number"),
    ("params.link.bandwidth", "300 GB", "params.link.bandwidth: '300 GB' is not a bandwidth"),
])
def test_bad_numbers_are_one_line_errors(path, value, fragment):
    preset = "cpu_2s_spr_ddr5" if path.startswith("params.dram") else "gpu_8x_a100_80g"
    with pytest.raises(InputError) as e:
        load_system(preset, {path: value})
    assert fragment in _one_line(e)


def test_missing_source_and_missing_parameter(tmp_path):
    data = yaml.safe_load(open(load_system("gpu_8x_h100_80g").source_file))
    data["params"]["hbm"]["peak_bandwidth"] = {"value": "3350 GB/s"}      # an override of the part preset
    with pytest.raises(InputError) as e:
        load_system(str(_write(tmp_path, data)))
    assert "params.hbm.peak_bandwidth: every number needs a non-empty 'source'" in _one_line(e)
    data["params"]["hbm"]["peak_bandwidth"] = {"value": "3350 GB/s", "source": "  "}
    with pytest.raises(InputError):
        load_system(str(_write(tmp_path, data)))
    data["params"]["hbm"]["peak_bandwidth"] = "3350 GB/s"                 # a bare number has no source
    with pytest.raises(InputError, match="with a source"):
        load_system(str(_write(tmp_path, data)))
    data["params"]["hbm"] = {"preset": "hbm3_h100", "bandwith": {"value": "1 GB/s", "source": "x"}}
    with pytest.raises(InputError, match="part preset 'hbm3_h100' has no parameter 'bandwith'; did you mean"):
        load_system(str(_write(tmp_path, data)))
    full = load_system_data("gpu_8x_h100_80g")
    hbm = {k: v for k, v in full["params"]["hbm"].items() if k not in ("preset", "peak_bandwidth")}
    data["params"]["hbm"] = hbm                                      # written out, one figure missing
    with pytest.raises(InputError) as e:
        load_system(str(_write(tmp_path, data)))
    assert "params.hbm.peak_bandwidth: missing required field" in _one_line(e)
    data["params"]["hbm"] = {**hbm, "peak_bandwith": {"value": "1 GB/s", "source": "x"}}
    with pytest.raises(InputError, match="unknown key 'peak_bandwith'; did you mean 'peak_bandwidth'"):
        load_system(str(_write(tmp_path, data)))
    data["params"]["hbm"] = {"preset": "hbm3_h1000"}
    with pytest.raises(InputError, match="unknown part preset 'hbm3_h1000'; did you mean 'hbm3_h100'"):
        load_system(str(_write(tmp_path, data)))


def test_unknown_preset_suggests():
    with pytest.raises(InputError) as e:
        load_system("gpu_8x_a100")
    assert "unknown system 'gpu_8x_a100'; did you mean 'gpu_8x_a100_80g'?" in _one_line(e)
