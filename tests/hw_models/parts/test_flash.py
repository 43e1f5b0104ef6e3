"""NAND flash: page senses, sector transfers, the IOPS limit; Little's law with dies as the concurrency."""
import pytest
from hypothesis import given, settings, strategies as st

from embsim.hw_models.parts import NandFlash

from part_helpers import S, make


def flash(**changes):
    fields = dict(capacity=S("1 TB"), channels=S(4), dies_per_channel=S(2), page=S("16 KiB"),
                  read_latency=S("50 us"), channel_rate=S("400 MB/s"), sector=S("4 KiB"), max_read_iops=S(1e6),
                  page_read_energy=S("5 uJ"), channel_energy=S("10 pJ/bit"), static_power=S("2 W"))
    fields.update({k: S(v) for k, v in changes.items()})
    return make(NandFlash, "flash", **fields)


def test_read_time_hand_computed():
    f = flash()
    # 8 dies / 50 us = 160K reads/s -> 6.25 us; channels 1.6 GB/s / 4 KiB -> 2.56 us; IOPS 1 us
    assert f.read_time_s(128) == pytest.approx(50e-6 / 8)
    assert f.pages_per_read(20000) == 2 and f.transfer_B(20000) == 5 * 4096
    assert f.read_latency_s(128) == pytest.approx(50e-6 + 4096 / 400e6)
    assert f.granularity_B == 4096


@settings(max_examples=60, deadline=None)
@given(ch=st.integers(1, 16), dies=st.integers(1, 16), tr=st.floats(10e-6, 200e-6), iops=st.floats(1e4, 1e7))
def test_random_bandwidth_never_above_peak_and_follows_dies_over_tR(ch, dies, tr, iops):
    f = flash(channels=ch, dies_per_channel=dies, read_latency=tr, max_read_iops=iops)
    bw = f.random_bandwidth_Bps()
    assert bw <= f.peak_Bps * (1 + 1e-12) and bw <= iops * 4096 * (1 + 1e-12)
    assert bw == pytest.approx(min(ch * dies * 4096 / tr, f.peak_Bps, iops * 4096), rel=1e-12)
    # a 4 KiB read at full concurrency moves its sector at no more than the random bandwidth
    assert 4096 / f.read_time_s(4096) <= bw * (1 + 1e-9)


def test_energy_and_busy_power():
    f = flash()
    e = f.energy_per_action_J()
    assert e == {"page_read": pytest.approx(5e-6), "channel_B": pytest.approx(80e-12)}
    # busy: 160K reads/s (dies bind), each a page sense and a 4 KiB sector on the channel
    assert f.busy_power_W()["read"] == pytest.approx(2 + 160e3 * (5e-6 + 4096 * 80e-12))
