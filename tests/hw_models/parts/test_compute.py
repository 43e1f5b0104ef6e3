"""Compute unit: ops/s by dtype at an efficiency, energy per op, busy power."""
import pytest

from embsim.hw_models.parts import ComputeUnit

from part_helpers import S, make


def unit(**changes):
    fields = dict(count=S(10), clock=S("1 GHz"), ops_per_cycle={"fp32": S(64), "int8": S(256)},
                  op_energy={"fp32": S("10 pJ"), "int8": S("2 pJ")}, mlp_dtype="fp32", mlp_efficiency=S(0.5),
                  static_power=S("20 W"))
    fields.update(changes)
    return make(ComputeUnit, "cores", **fields)


def test_rates_hand_computed():
    u = unit()
    assert u.peak_ops_per_s("fp32") == pytest.approx(640e9) and u.peak_ops_per_s("int8") == pytest.approx(2.56e12)
    assert u.mlp_ops_per_s() == pytest.approx(320e9)
    assert u.mac_time_s(1e9) == pytest.approx(2e9 / 320e9)
    assert u.mac_time_s(1e9, units=1) == pytest.approx(10 * 2e9 / 320e9)
    with pytest.raises(ValueError, match="no bf16"):
        u.peak_ops_per_s("bf16")


def test_energy_is_ops_plus_busy_time_plus_static_and_busy_power_per_dtype():
    u = unit()
    e = u.energy_per_action_J()
    assert e["op_fp32"] == pytest.approx(10e-12) and e["op_int8"] == pytest.approx(2e-12)
    # a unit-second of non-arithmetic work costs one unit's full-load dynamic power
    assert e["busy_s"] == pytest.approx(64e9 * 10e-12)
    busy = u.busy_power_W()
    assert busy["op_fp32"] == pytest.approx(20 + 640e9 * 10e-12)
    assert busy["op_int8"] == pytest.approx(20 + 2.56e12 * 2e-12)
    assert busy["busy_s"] == pytest.approx(busy["op_fp32"])


def test_every_dtype_needs_its_energy():
    with pytest.raises(ValueError, match="every dtype a unit runs needs its energy"):
        unit(op_energy={"fp32": S("10 pJ")})
    with pytest.raises(ValueError, match="mlp_dtype bf16"):
        unit(mlp_dtype="bf16")
