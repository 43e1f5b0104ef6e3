"""shard_rows: how a DeviceLoad becomes row-gather groups (conservation of lookups and hits)."""
import pytest

from embsim.hw_models import DeviceLoad
from embsim.hw_models.families.common import shard_rows
from embsim.hw_models.loader import load_system


@pytest.fixture(scope="module")
def gpu():
    return load_system("gpu_8x_a100_80g", {"params.hbm_cache.capacity": "4 GB"})


def test_table_work_groups_and_pro_rata_hits(gpu):
    load = DeviceLoad(table_work=[dict(tier="hbm", row_bytes=128, lookups=300),
                                  dict(tier="host_ddr", row_bytes=256, lookups=100, cache_hits={"hbm_cache": 50})],
                      cache_hits={"hbm_cache": 90})
    g = shard_rows(gpu, "gpu0", load)
    assert [(x.tier, x.row_bytes, x.lookups) for x in g] == [("hbm", 128, 300), ("host_ddr", 256, 100)]
    # 50 hits were given per shard; the other 40 are spread 3:1 over the lookups
    assert g[0].hits["hbm_cache"] == pytest.approx(30) and g[1].hits["hbm_cache"] == pytest.approx(60)
    assert sum(x.hits["hbm_cache"] for x in g) == pytest.approx(90)            # hits are conserved


def test_per_tier_counters_without_table_work(gpu):
    g = shard_rows(gpu, "gpu3", DeviceLoad(lookups={"hbm": 10, "host_ddr": 0}, bytes={"hbm": 2560.0}))
    assert [(x.tier, x.row_bytes, x.lookups) for x in g] == [("hbm", 256, 10)]


@pytest.mark.parametrize("load, fragment", [
    (DeviceLoad(table_work=[dict(tier="flash", row_bytes=64, lookups=1)]), "tier 'flash'"),
    (DeviceLoad(table_work=[dict(tier="hbm", lookups=1)]), "needs row_bytes and lookups"),
    (DeviceLoad(lookups={"hbm": 5}), "lookups without bytes"),
    (DeviceLoad(cache_hits={"hbm_cache": 5}), "no lookups give their row size"),
])
def test_incomplete_loads_are_caller_bugs(gpu, load, fragment):
    with pytest.raises(ValueError, match=fragment):
        shard_rows(gpu, "gpu0", load)
