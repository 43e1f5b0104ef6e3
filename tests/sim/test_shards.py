"""The caches a system file declares, as ``simulate`` takes them, at their tier's access granularity."""
from pathlib import Path

from embsim.hw_models.loader import load_system
from embsim.sim.shards import ShardInfo, caches_from_system, granularities_B, granularity_B

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "systems"


def test_every_declared_cache_level_is_replayed_at_its_tiers_granularity():
    for system in (load_system("cpu_2s_spr_ddr5"), load_system(str(EXAMPLES / "gpu_4x_a100_hbm_cache.yaml"))):
        levels = system.cache_levels()
        caches = caches_from_system(system, policy="lfu")
        assert sum(len(v) for v in caches.values()) == len(levels) > 0
        for c in levels:
            (entry,) = [e for e in caches[f"{c['device']}.{c['above_tier']}"] if e["name"] == c["level"]]
            assert entry["policy"] == "lfu"
            assert entry["capacity_B"] == c["capacity_B"]
            assert entry["granularity_B"] == int(system.slot(c["device"], c["above_tier"]).granularity_B)


def test_the_granularity_table_agrees_with_the_slot_lookup():
    system = load_system("gpu_8x_a100_80g")
    table = granularities_B(system)
    assert len(table) == len(system.slots())
    for (device, tier), g in table.items():
        assert g == granularity_B(system, device, tier) > 0


def test_a_shard_counts_its_hot_rank_range():
    s = ShardInfo(table=0, table_name="t", device="gpu0", tier="hbm", lo=100, hi=350, row_bytes=64.0,
                  macs_per_lookup=0.0)
    assert s.rows == 250
