"""SyntheticSystem: the documented cost formulas and a missing field named."""
import pytest

from embsim.cost_model.synthetic import SyntheticSystem, uniform_devices
from embsim.errors import InputError


def test_costs_and_slots():
    s = SyntheticSystem("s", uniform_devices(2, [dict(tier="sram", capacity_B=1e6, per_lookup_s=1e-9,
                                                      bandwidth_Bps=1e11, energy_per_B_J=1e-12)], macs_per_s=1e12))
    slot = s.slots()[0]
    c = s.lookup_cost(slot, 256)
    assert c.time_s == pytest.approx(1e-9 + 256 / 1e11) and c.energy_J == pytest.approx(256e-12)
    assert s.compute_cost("dev0", 1e6).time_s == pytest.approx(1e-6)
    assert [x.key for x in s.slots()] == ["dev0.sram", "dev1.sram"]


def test_missing_field():
    with pytest.raises(InputError, match="bandwidth_Bps: missing"):
        SyntheticSystem("s", {"d": {"tiers": [dict(tier="x", capacity_B=1, per_lookup_s=1)]}})
