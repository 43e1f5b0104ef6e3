"""Link: latency + bytes / (bandwidth x efficiency), energy per bit."""
import pytest

from embsim.errors import InputError
from embsim.hw_models.parts import Link

from part_helpers import S, make


def link(**changes):
    fields = dict(bandwidth=S("100 GB/s"), efficiency=S(0.8), latency=S("1 us"), energy=S("5 pJ/bit"),
                  static_power=S("0 W", "test: counted in the device"))
    fields.update({k: S(v) for k, v in changes.items()})
    return make(Link, "nvlink", **fields)


def test_transfer_time_hand_computed():
    l = link()
    assert l.transfer_time_s(8e6) == pytest.approx(1e-6 + 8e6 / 80e9)
    assert l.transfer_time_s(0) == 0.0
    assert l.transfer_time_s(8e6, transfers=3) == pytest.approx(3e-6 + 8e6 / 80e9)


def test_achieved_bandwidth_never_above_peak():
    for eff in (0.1, 0.5, 1.0):
        l = link(efficiency=eff)
        for b in (1e3, 1e6, 1e9):
            assert b / l.transfer_time_s(b) <= l.peak_Bps


def test_energy_and_busy_power():
    l = link()
    assert l.energy_per_action_J()["transfer_B"] == pytest.approx(40e-12)
    assert l.busy_power_W()["transfer_B"] == pytest.approx(2 * 100e9 * 40e-12)   # both directions


def test_efficiency_above_one_is_refused():
    with pytest.raises(InputError, match="must be <= 1"):
        link(efficiency=1.2)
