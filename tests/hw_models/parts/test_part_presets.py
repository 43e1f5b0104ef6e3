"""Every part preset: loads, sources every number, and draws at full load what its source says it draws."""
import pytest

from embsim.errors import InputError
from embsim.hw_models.loader import load_system, preset_names
from embsim.hw_models.parts import KINDS, expand_part_presets, part_from_preset, part_preset_names

NAMES = part_preset_names()
NEEDS_LOAD_POWER = ("memory", "flash", "compute", "cpu", "ai_core", "fpga")


def test_there_are_presets_of_every_kind_a_family_needs():
    kinds = {part_from_preset(n).kind for n in NAMES}
    assert {"memory", "cache", "flash", "link", "compute", "cpu", "ai_core", "fpga", "frontend"} <= kinds
    assert {"xeon_8480p", "ddr5_4800", "hbm2e_a100", "hbm3_h100", "pcie_gen3_x4", "pcie_gen4_x16", "nvlink3",
            "smartssd_nand"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_number_has_a_source(name):
    part = part_from_preset(name)
    assert part.preset == name and part.kind in KINDS
    rows = part.parameters()
    assert rows and all(r["source"].strip() for r in rows)
    if part.static_power_W == 0:          # idle draw counted in another part: it must say where
        assert "counted in" in part.p.static_power.source


@pytest.mark.parametrize("name", NAMES)
def test_busy_power_is_static_plus_dynamic_at_peak_within_the_sources_range(name):
    """A part at full load (each kind of work at its peak rate) draws what its datasheet says."""
    part = part_from_preset(name)
    rng = part.load_power_range_W()
    if part.kind in NEEDS_LOAD_POWER:
        assert rng is not None, f"{name}: a {part.kind} part needs load_power_min/max with sources"
    if rng is None:
        return
    lo, hi = rng
    assert lo <= hi
    busy = part.busy_power_W()
    assert busy
    for action, watts in busy.items():
        assert lo <= watts <= hi, (name, action, watts, rng)


def test_an_override_must_name_a_parameter_of_the_preset():
    data = {"family": "cpu_dram", "params": {"dram": {"preset": "ddr5_4800", "capacty": {"value": 1, "source": "x"}}}}
    with pytest.raises(InputError, match="part preset 'ddr5_4800' has no parameter 'capacty'; did you mean 'capacity'"):
        expand_part_presets(data, "x.yaml")
    out = expand_part_presets({"dram": {"preset": "ddr5_4800", "capacity": {"value": "1 TB", "source": "16 DIMMs"}}})
    assert out["dram"]["capacity"] == {"value": "1 TB", "source": "16 DIMMs"} and out["dram"]["preset"] == "ddr5_4800"
    assert expand_part_presets(out) == out                        # idempotent


def test_the_same_host_part_gives_the_same_host_costs_in_every_family():
    """The SCRec host and each cpu_dram socket are one Xeon 8480+ with DDR5-4800: same parts, same numbers."""
    cpu, screc = load_system("cpu_2s_spr_ddr5"), load_system("screc_4x_smartssd")
    assert cpu.parts["socket0.cpu"].p == screc.parts["host.cpu"].p
    assert cpu.parts["socket0.dram"].p == screc.parts["host.dram"].p
    for row in (64, 128, 256, 512):
        a, b = cpu.lookup_cost(cpu.slot("socket0", "dram"), row), screc.lookup_cost(screc.slot("host", "dram"), row)
        assert a == b
    assert cpu.compute_cost("socket0", 1e6) == screc.compute_cost("host", 1e6)


@pytest.mark.parametrize("name", preset_names())
def test_every_slot_has_the_granularity_its_tier_part_declares(name):
    s = load_system(name)
    for slot in s.slots():
        part = s.parts.get(f"{slot.device}.{slot.tier}") or s.parts.get(slot.tier) or s.parts.get(slot.pool_key)
        assert slot.granularity_B >= 1
        if part is not None:
            assert slot.granularity_B == part.granularity_B, slot
