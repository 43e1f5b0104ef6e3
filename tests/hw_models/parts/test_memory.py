"""Memory tier: whole units, Little's-law random bandwidth capped by the peak, energy per bit."""
import pytest
from hypothesis import given, settings, strategies as st

from embsim.errors import InputError
from embsim.hw_models.parts import MemoryTier

from part_helpers import S, make


def tier(**changes):
    fields = dict(capacity=S("16 GB"), granularity=S("64 B"), latency=S("100 ns"), concurrency=S(100),
                  peak_bandwidth=S("40 GB/s"), read_energy=S("10 pJ/bit"), write_energy=S("12 pJ/bit"),
                  static_power=S("5 W"))
    fields.update({k: S(v) for k, v in changes.items()})
    return make(MemoryTier, "dram", **fields)


def test_random_bandwidth_is_littles_law_hand_computed():
    m = tier()
    # 100 lines of 64 B in flight over 100 ns = 64 GB/s, above the 40 GB/s peak: the peak binds
    assert m.random_bandwidth_Bps() == pytest.approx(40e9)
    # 10 in flight: 10 x 64 B / 100 ns = 6.4 GB/s; the requesters' 200 are capped by the tier's 100
    assert m.random_bandwidth_Bps(10) == pytest.approx(6.4e9)
    assert m.random_bandwidth_Bps(200) == m.random_bandwidth_Bps(100)


@settings(max_examples=80, deadline=None)
@given(lat=st.floats(1e-9, 1e-6), n=st.floats(1, 1e5), peak=st.floats(1e8, 1e13), g=st.sampled_from([8, 32, 64, 128]),
       ask=st.floats(0.5, 1e6))
def test_random_bandwidth_never_above_peak_and_follows_latency_times_concurrency(lat, n, peak, g, ask):
    m = tier(latency=lat, concurrency=n, peak_bandwidth=peak, granularity=f"{g} B")
    bw = m.random_bandwidth_Bps(ask)
    assert 0 < bw <= peak * (1 + 1e-12)
    assert bw == pytest.approx(min(peak, min(ask, n) * g / lat), rel=1e-12)
    # more in flight, or a shorter latency, is never slower
    assert m.random_bandwidth_Bps(2 * ask) >= bw
    assert tier(latency=lat / 2, concurrency=n, peak_bandwidth=peak, granularity=f"{g} B").random_bandwidth_Bps(ask) >= bw


def test_rows_move_whole_units():
    m = tier()
    assert m.access_B(64) == 64 and m.access_B(96) == 128 and m.access_B(48) == pytest.approx(96)
    assert m.read_time_s(128, 10) == pytest.approx(128 / 6.4e9)
    assert m.granularity_B == 64


def test_energy_is_actions_plus_static_and_busy_power_is_static_plus_peak():
    m = tier()
    e = m.energy_per_action_J()
    assert e["read_B"] == pytest.approx(80e-12) and e["write_B"] == pytest.approx(96e-12)
    # 1 MB read and 2 MB written in 1 ms: actions x energy + 5 W x 1 ms
    reads, writes, t = 1e6, 2e6, 1e-3
    assert reads * e["read_B"] + writes * e["write_B"] + m.static_power_W * t == pytest.approx(80e-6 + 192e-6 + 5e-3)
    assert m.busy_power_W()["read_B"] == pytest.approx(5 + 40e9 * 80e-12)


@pytest.mark.parametrize("field, value, fragment", [
    ("latency", {"value": "100 ns"}, "every number needs a non-empty 'source'"),
    ("latency", "100 ns", "with a source"),
    ("peak_bandwidth", S("0 GB/s"), "must be > 0"),
    ("granularity", S("48.5 B"), "whole number"),
])
def test_a_parameter_without_source_or_out_of_range_is_refused(field, value, fragment):
    fields = dict(capacity=S("16 GB"), granularity=S("64 B"), latency=S("100 ns"), concurrency=S(100),
                  peak_bandwidth=S("40 GB/s"), read_energy=S("10 pJ/bit"), write_energy=S("12 pJ/bit"),
                  static_power=S("5 W"))
    fields[field] = value
    with pytest.raises(InputError, match=fragment):
        make(MemoryTier, "dram", **fields)
