"""ascend_soc: the four single-core lookup strategies, their feasibility, batch costs and the preset."""
import copy
import functools
import math

import pytest
from hypothesis import given, settings, strategies as st

from embsim.errors import InputError
from embsim.hw_models import BatchLoad, DeviceLoad
from embsim.hw_models.loader import PRESET_DIR, load_system, load_system_data, system_from_dict


def S(value, source="test"):
    return {"value": value, "source": source}


# A small SoC with round numbers, so the costs below can be worked out by hand.
TOY = {
    "family": "ascend_soc", "name": "toy", "source": "hand-made test system",
    "params": {
        "core": {
            "count": S(4), "clock": S("1 GHz"), "ops_per_cycle": {"fp16": S(256)}, "op_energy": {"fp16": S("0.25 pJ")},
            "mlp_dtype": "fp16", "mlp_efficiency": S(1.0), "static_power": S("4 W"),
            "gm_read_B_per_cycle": S(32), "l1_to_ub_B_per_cycle": S(128), "ub_to_gm_B_per_cycle": S(64),
            "dma_setup": S("10 ns"), "gm_buffers": S(2), "ub_table_share": S(0.5), "vector_B_per_cycle": S(256),
            "gather_B_per_cycle": S(32), "index_bytes": S("4 B"), "index_scan_ops": S(2),
            "vector_op_energy": S("0.1 pJ/B")},
        "l1": {"capacity": S("256 KiB"), "granularity": S("32 B"), "latency": S("20 ns"), "concurrency": S(2),
               "peak_bandwidth": S("128 GB/s"), "read_energy": S("0.25 pJ/bit"), "write_energy": S("0.25 pJ/bit"),
               "static_power": S("0 W")},
        "ub": {"capacity": S("64 KiB"), "granularity": S("32 B"), "latency": S("10 ns"), "concurrency": S(8),
               "peak_bandwidth": S("256 GB/s"), "read_energy": S("0.05 pJ/bit"), "write_energy": S("0.05 pJ/bit"),
               "static_power": S("0 W")},
        "l2": {"capacity": S("4 MiB"), "granularity": S("32 B"), "latency": S("200 ns"), "concurrency": S(64),
               "peak_bandwidth": S("2 TB/s"), "read_energy": S("0.5 pJ/bit"), "write_energy": S("0.5 pJ/bit"),
               "static_power": S("10 W"), "policy": "lru"},
        "hbm": {"capacity": S("8 GB"), "granularity": S("32 B"), "latency": S("100 ns"), "concurrency": S(1024),
                "peak_bandwidth": S("1 TB/s"), "read_energy": S("4 pJ/bit"), "write_energy": S("4 pJ/bit"),
                "static_power": S("10 W")},
        "cube": {"count": S(4), "clock": S("1 GHz"), "ops_per_cycle": {"fp16": S(8192)},
                 "op_energy": {"fp16": S("0.25 pJ")}, "mlp_dtype": "fp16", "mlp_efficiency": S(0.5),
                 "static_power": S("0 W")},
        "host_link": {"bandwidth": S("32 GB/s"), "efficiency": S(1.0), "latency": S("0 s"), "energy": S("5 pJ/bit"),
                      "static_power": S("0 W")},
        "tdp": S("100 W"),
    },
}


def toy(**patch):
    data = copy.deepcopy(TOY)
    for path, value in patch.items():
        node = data["params"]
        *head, last = path.split("__")
        for k in head:
            node = node[k]
        node[last] = S(value)
    return system_from_dict(data, source="toy.yaml")


@functools.lru_cache(maxsize=None)
def _preset():
    return load_system("ascend_910")


@pytest.fixture(scope="module")
def soc():
    return _preset()


# ------------------------------------------------------------ hand-computed ---
def test_gm_row_by_row_hand_computed():
    s = toy()
    # A 100 B row is padded to 128 B (32 B DMA blocks).  GM rate = min(32 B x 1 GHz, 1 TB/s / 4) = 32 GB/s:
    # copy 4 ns; double buffered: 10 ns setup + max(4, (100 + 4) / 2) = 62 ns; vector add 1 cycle hides under it.
    c = s.strategy_cost("GM", rows=1000, row_bytes=100, lookups=10)
    assert c.time_s == pytest.approx(10 * 62e-9)
    # energy (dynamic only): 1280 B from HBM, 2560 B through UB, 1280 B of vector adds, and 10 DMA issues
    # of 10 ns on a core whose busy power is 256 ops x 1 GHz x 0.25 pJ = 64 mW
    dyn = 1280 * 8 * 4e-12 + 2560 * 8 * 0.05e-12 + 1280 * 0.1e-12 + 10 * 10e-9 * 0.064
    assert c.energy_J == pytest.approx(dyn)


def test_l1_row_by_row_hand_computed():
    s = toy()
    # L1 -> UB at 128 B/cycle: copy 1 ns; 10 + max(1, (20 + 1) / 2) = 20.5 ns per lookup
    assert s.strategy_cost("L1", rows=1000, row_bytes=128, lookups=8).time_s == pytest.approx(8 * 20.5e-9)


def test_gm_ub_and_l1_ub_hand_computed():
    s = toy()
    # chunk buffer = 64 KiB x 0.5 / 2 = 16 KiB = 128 rows of 128 B; 1000 rows -> 8 chunks
    # DMA: 128000 B / 32 GB/s = 4 us, + 8 x 10 ns setup = 4.08 us
    # vector: scan 8 chunks x 500 indices x 4 B x 2 ops / 256 B per cycle = 125 ns;
    #         gather 500 x (128/32 + 128/256 -> 4 + 1 cycles) = 2.5 us; total 2.625 us
    # GM-UB = 100 ns latency + max(4.08, 2.625) us
    assert s.strategy_cost("GM-UB", 1000, 128, 500).time_s == pytest.approx(100e-9 + 4.08e-6)
    # L1-UB: DMA 128000 / 128 GB/s = 1 us + 80 ns; vector-bound: 20 ns + 2.625 us
    assert s.strategy_cost("L1-UB", 1000, 128, 500).time_s == pytest.approx(20e-9 + 2.625e-6)


def test_zero_lookups_cost_nothing(soc):
    for strategy in soc.STRATEGIES:
        c = soc.strategy_cost(strategy, 100, 128, 0)
        assert c.time_s == 0 and c.energy_J == 0


# ------------------------------------------------------------- feasibility ---
def test_contract_names(soc):
    assert soc.STRATEGIES == ("GM", "L1", "GM-UB", "L1-UB")
    assert soc.n_cores == 32 and soc.l1_capacity_B == 2**20 and soc.ub_capacity_B == 256 * 2**10
    assert soc.devices == [f"core{i}" for i in range(32)]


def test_l1_strategies_refuse_a_part_larger_than_l1(soc):
    fit = soc.l1_capacity_B // 128               # exactly fills L1 with 128 B rows
    for strategy in ("L1", "L1-UB"):
        assert soc.strategy_feasible(strategy, fit, 128)
        assert not soc.strategy_feasible(strategy, fit + 1, 128)
        assert soc.strategy_cost(strategy, fit + 1, 128, 10).time_s == math.inf
        assert math.isfinite(soc.strategy_cost(strategy, fit, 128, 10).time_s)
    # alignment counts: 100 B rows occupy 128 B, so the same row count no longer fits with 130 B rows
    assert not soc.strategy_feasible("L1", fit, 130)
    # GM and GM-UB take any table size
    assert soc.strategy_feasible("GM", 10**9, 128) and soc.strategy_feasible("GM-UB", 10**9, 128)


def test_ub_strategies_need_a_row_within_a_chunk(soc):
    too_big = soc.chunk_B + 32
    assert not soc.strategy_feasible("GM-UB", 1, too_big)
    assert soc.strategy_feasible("GM", 1, too_big)
    assert soc.strategy_cost("GM-UB", 1, too_big, 1).time_s == math.inf


def test_unknown_strategy_and_bad_arguments(soc):
    with pytest.raises(ValueError, match="GM-UB"):
        soc.strategy_cost("UB", 10, 128, 1)
    with pytest.raises(ValueError):
        soc.strategy_cost("GM", 10, 128, 5, unique_rows=6)
    with pytest.raises(ValueError):
        soc.strategy_cost("GM", 0, 128, 5)                  # lookups into an empty part
    assert soc.strategy_cost("GM-UB", 0, 128, 0).time_s == 0   # an empty part with no lookups is free


# --------------------------------------------------- the published crossover ---
def test_gm_ub_beats_gm_for_small_hot_tables_and_loses_for_huge_cold_ones(soc):
    # small table, many lookups: streaming the part once beats thousands of latency-bound row DMAs
    assert soc.strategy_cost("GM-UB", 2000, 128, 4096).time_s < soc.strategy_cost("GM", 2000, 128, 4096).time_s
    # huge table, few lookups: streaming 10M rows costs far more than 100 row DMAs
    assert soc.strategy_cost("GM-UB", 10**7, 128, 100).time_s > soc.strategy_cost("GM", 10**7, 128, 100).time_s


def test_crossover_table_size_is_unique(soc):
    """At fixed lookups GM's cost ignores the table size and GM-UB's grows with it: one crossover."""
    sizes = [2**k for k in range(6, 26)]
    wins = [soc.strategy_cost("GM-UB", n, 128, 1000).time_s < soc.strategy_cost("GM", n, 128, 1000).time_s
            for n in sizes]
    assert wins[0] and not wins[-1]
    flips = sum(a != b for a, b in zip(wins, wins[1:]))
    assert flips == 1


@settings(max_examples=60, deadline=None)
@given(strategy=st.sampled_from(["GM", "L1"]), rows=st.integers(1, 4000), row_bytes=st.integers(4, 1024),
       lookups=st.integers(1, 10**5), k=st.integers(2, 7))
def test_row_by_row_strategies_are_linear_in_lookups(strategy, rows, row_bytes, lookups, k):
    s = _preset()
    a, b = s.strategy_cost(strategy, rows, row_bytes, lookups), s.strategy_cost(strategy, rows, row_bytes, k * lookups)
    if math.isinf(a.time_s):
        assert math.isinf(b.time_s)
        return
    assert b.time_s == pytest.approx(k * a.time_s, rel=1e-12)
    assert b.energy_J == pytest.approx(k * a.energy_J, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(strategy=st.sampled_from(["GM", "L1", "GM-UB", "L1-UB"]), rows=st.integers(1, 20000),
       row_bytes=st.integers(4, 1024), lookups=st.integers(1, 10**4))
def test_more_work_is_never_cheaper(strategy, rows, row_bytes, lookups):
    s = _preset()
    base = s.strategy_cost(strategy, rows, row_bytes, lookups).time_s
    assert s.strategy_cost(strategy, rows, row_bytes, lookups + 1).time_s >= base
    bigger = s.strategy_cost(strategy, rows + 1, row_bytes, lookups).time_s
    assert bigger >= base


@pytest.mark.parametrize("strategy", ["GM", "GM-UB"])
def test_more_hbm_bandwidth_is_never_slower(strategy):
    slow, fast = toy(hbm__peak_bandwidth="64 GB/s"), toy(hbm__peak_bandwidth="1 TB/s")
    for rows, lookups in [(100, 1000), (10**5, 10), (5000, 5000)]:
        t_fast = fast.strategy_cost(strategy, rows, 128, lookups).time_s
        assert t_fast <= slow.strategy_cost(strategy, rows, 128, lookups).time_s


def test_lookup_cost_is_the_row_by_row_strategy(soc):
    for tier, strategy in (("hbm", "GM"), ("l1", "L1")):
        assert soc.lookup_cost(soc.slot("core3", tier), 256) == soc.strategy_cost(strategy, 1, 256, 1)
    assert soc.lookup_cost(soc.slot("core0", "l1"), 128).time_s < soc.lookup_cost(soc.slot("core0", "hbm"), 128).time_s


def test_preload_into_l1_is_a_one_time_cost_not_charged_per_batch(soc):
    pre = soc.preload_cost(4000, 128)
    assert pre.time_s > 0 and math.isinf(soc.preload_cost(10**6, 128).time_s)
    dl = DeviceLoad(table_work=[dict(table="t", tier="l1", strategy="L1", rows=4000, row_bytes=128,
                                     lookups=100, unique_rows=None)])
    bc = soc.batch_cost(BatchLoad(1, {"core0": dl}, 0.0))
    assert ("hbm", "read_B") not in bc.actions          # L1 lookups never touch HBM per batch


def test_all_cores_streaming_stay_within_the_chip_power(soc):
    """Every core busy with the most power-hungry strategy must fit the 350 W design power."""
    worst = 0.0
    for strategy, rows in (("GM", 10**6), ("GM-UB", 10**5), ("L1-UB", 4000), ("L1", 4000)):
        c = soc.strategy_cost(strategy, rows, 128, 10**4)
        worst = max(worst, c.energy_J / c.time_s)          # one core's dynamic power
    chip = soc.n_cores * worst + sum(soc.static_power_W().values())
    assert chip <= soc.p.tdp.value


# ------------------------------------------------------------- batch_cost ---
def _work_entries(rng, n):
    out = []
    for i in range(n):
        strategy = ["GM", "L1", "GM-UB", "L1-UB"][i % 4]
        row_bytes = int(rng.choice([64, 128, 256]))
        rows = int(rng.integers(1, 2**20 // row_bytes)) if "L1" in strategy else int(rng.integers(1, 10**6))
        out.append(dict(table=f"t{i}", tier="l1" if "L1" in strategy else "hbm", strategy=strategy,
                        rows=rows, row_bytes=row_bytes,
                        lookups=int(rng.integers(0, 5000)), unique_rows=None))
    return out


def test_batch_cost_equals_the_sum_of_strategy_costs(soc, rng):
    loads = {}
    for core in ("core0", "core5", "core31"):
        loads[core] = DeviceLoad(table_work=_work_entries(rng, 6), tt_macs=float(rng.integers(0, 10**6)),
                                 pooled_bytes_out=4096.0)
    bc = soc.batch_cost(BatchLoad(128, loads, 1e7))
    emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
    assert set(emb) == set(loads)
    dyn_expected = 0.0
    for core, dl in loads.items():
        want = sum(soc.strategy_cost(w["strategy"], w["rows"], w["row_bytes"], w["lookups"]).time_s
                   for w in dl.table_work) + soc.compute_cost(core, dl.tt_macs).time_s
        assert emb[core] == pytest.approx(want, rel=1e-12)
        dyn_expected += sum(soc.strategy_cost(w["strategy"], w["rows"], w["row_bytes"], w["lookups"]).energy_J
                            for w in dl.table_work) + soc.compute_cost(core, dl.tt_macs).energy_J
    # the energy the simulator will charge on the embedding actions equals the strategies' dynamic energy
    table = soc.energy_per_action_J()
    emb_actions = {k: v for k, v in bc.actions.items()
                   if k[0].startswith("core") or k[0] == "aicores" or (k == ("hbm", "read_B"))}
    assert sum(v * table[k] for k, v in emb_actions.items()) == pytest.approx(dyn_expected, rel=1e-9)
    assert {w.stage for w in bc.work} == {"host", "embedding", "transfer", "dense", "response"}
    assert set(w.resource for w in bc.work) <= set(soc.resources())
    soc.energy_J(bc.actions, 1e-3)          # every counted action has an energy figure


def test_per_tier_lookups_without_table_work_use_lookup_cost(soc):
    dl = DeviceLoad(lookups={"hbm": 300, "l1": 50}, bytes={"hbm": 300 * 128.0, "l1": 50 * 64.0})
    bc = soc.batch_cost(BatchLoad(16, {"core2": dl}, 0.0))
    emb = [w.time_s for w in bc.work if w.stage == "embedding"][0]
    want = 300 * soc.lookup_cost(soc.slot("core2", "hbm"), 128).time_s + \
        50 * soc.lookup_cost(soc.slot("core2", "l1"), 64).time_s
    assert emb == pytest.approx(want, rel=1e-12)


def test_an_infeasible_placement_is_a_clear_error(soc):
    dl = DeviceLoad(table_work=[dict(table="big", tier="l1", strategy="L1", rows=10**6, row_bytes=128,
                                     lookups=10, unique_rows=None)])
    with pytest.raises(InputError, match="table 'big'.*L1.*core7"):
        soc.batch_cost(BatchLoad(1, {"core7": dl}, 0.0))
    with pytest.raises(InputError, match="no device 'core32'"):
        soc.batch_cost(BatchLoad(1, {"core32": DeviceLoad()}, 0.0))


def test_no_achieved_bandwidth_above_peak(soc, rng):
    for _ in range(5):
        loads = {f"core{i}": DeviceLoad(table_work=_work_entries(rng, 4)) for i in range(soc.n_cores)}
        bc = soc.batch_cost(BatchLoad(64, loads, 0.0))
        emb = {w.resource: w.time_s for w in bc.work if w.stage == "embedding"}
        peak = soc.peak_bandwidth_Bps()
        for core, t in emb.items():
            for tier in ("hbm", "l1"):
                b = bc.bytes.get(f"{core}.{tier}", 0.0)
                assert b == 0 or b / t <= peak[f"{core}.{tier}"] * (1 + 1e-9)
        assert bc.bytes["hbm"] / max(emb.values()) <= peak["hbm"] * (1 + 1e-9)


# ------------------------------------------------------- preset and schema ---
def _leaves(d):
    if isinstance(d, dict) and "source" in d:
        return 1
    return sum(_leaves(v) for v in d.values()) if isinstance(d, dict) else 0


def test_preset_lists_a_source_for_every_number(soc):
    rows = soc.describe()
    raw = load_system_data(PRESET_DIR / "ascend_910.yaml")       # part presets expanded
    assert len(rows) == _leaves(raw["params"])
    assert {r[1] for r in soc.derived_figures()} >= {"gm_rate_per_core", "ub_chunk_buffer"}
    for part, param, value, _kind, source in rows:
        assert source.strip() and math.isfinite(value) and value >= 0, (part, param)
    assert any("secondary" in r[4] for r in rows if r[1] == "peak_bandwidth" and r[0] == "hbm")


def test_every_part_has_static_power_and_the_graph_holds_the_parts(soc):
    g = soc.graph
    for core in soc.devices:
        assert g.nodes[core]["kind"] == "device" and g.has_edge(core, f"{core}.l1")
    assert {"hbm", "l2", "cube", "pcie"} <= set(g.nodes)
    static = soc.static_power_W()          # once per part; parts counted in another list 0 W
    assert all(w >= 0 for w in static.values()) and sum(static.values()) > 0
    assert {"aicores", "hbm", "l2"} <= {p for p, w in static.items() if w > 0}


def test_slots(soc):
    slots = soc.slots()
    assert len(slots) == 2 * soc.n_cores
    l1 = [s for s in slots if s.tier == "l1"]
    hbm = [s for s in slots if s.tier == "hbm"]
    assert all(s.rank == 0 and s.capacity_B == soc.l1_capacity_B for s in l1)
    assert all(s.rank == 1 and s.pool_key == "hbm" for s in hbm)


@pytest.mark.parametrize("path,value,fragment", [
    (("core", "vector_op_energy"), None, "params.core.vector_op_energy: missing required field"),
    (("l1", "capacity"), {"value": "1 MiB"}, "every number needs a non-empty 'source'"),
    (("ub", "capacity"), {"value": "0 KiB", "source": "x"}, "must be > 0"),
    (("core", "count"), {"value": 2.5, "source": "x"}, "must be a whole number"),
    (("l1", "capasity"), {"value": "1 MiB", "source": "x"}, "did you mean 'capacity'"),
])
def test_bad_presets_are_one_line_input_errors(path, value, fragment):
    data = copy.deepcopy(TOY)
    group = data["params"][path[0]]
    if value is None:
        del group[path[1]]
    else:
        group[path[1]] = value
    with pytest.raises(InputError) as e:
        system_from_dict(data, source="bad.yaml")
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_overrides_are_checked():
    s = load_system("ascend_910", overrides={"params.core.count": 8})
    assert s.n_cores == 8 and "override" in [r for r in s.describe() if r[:2] == ("aicores", "count")][0][4]
    with pytest.raises(InputError, match="did you mean"):
        load_system("ascend_910", overrides={"params.core.cuont": 8})
