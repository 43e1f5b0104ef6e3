"""Physics and bookkeeping on EVERY preset in embsim/hw_models/presets/.

Family-agnostic: each check uses only the System interface, so a new family's
presets are covered the day they land.  The loads are built from the slots:
per device one table shard per tier (``table_work`` with tier, row_bytes,
lookups) and the matching per-tier ``lookups``/``bytes``.
"""
import math
import re

import pytest
import yaml

from embsim.errors import InputError
from embsim.hw_models import STAGES, BatchLoad, DeviceLoad
from embsim.hw_models.loader import PRESET_DIR, load_system, load_system_data, preset_names

PRESETS = preset_names()
ROW_BYTES = (64, 256, 1000)


@pytest.fixture(scope="module", params=PRESETS)
def system(request):
    return load_system(request.param)


def device_load(system, device, lookups, row_bytes, tiers=None, pooled=0.0, tt_macs=0.0, unique_share=0.5):
    """One table shard per tier of ``device``; each fits its slot (an SoC's L1 holds a few thousand
    rows, not a million), and ``unique_share`` of the lookups are distinct rows (at most all rows)."""
    slots = [s for s in system.slots() if s.device == device and (tiers is None or s.tier in tiers)]
    work = []
    for s in slots:
        rows = max(1, min(10**6, int(s.capacity_B // (4 * row_bytes))))
        work.append(dict(table=f"t_{s.tier}", tier=s.tier, strategy=None, rows=rows, row_bytes=row_bytes,
                         lookups=lookups, unique_rows=min(rows, lookups * unique_share)))
    return DeviceLoad(lookups={w["tier"]: lookups for w in work}, unique_rows={w["tier"]: w["unique_rows"] for w in work},
                      bytes={w["tier"]: lookups * row_bytes for w in work}, table_work=work,
                      tt_macs=tt_macs, pooled_bytes_out=pooled)


def one_slot_load(system, slot, lookups, row_bytes, batch=64, unique_share=0.5):
    return BatchLoad(batch, {slot.device: device_load(system, slot.device, lookups, row_bytes, {slot.tier},
                                                      unique_share=unique_share)}, 0.0)


def full_load(system, lookups=1000, row_bytes=256, batch=64):
    return BatchLoad(batch, {d: device_load(system, d, lookups, row_bytes, pooled=batch * 4 * row_bytes, tt_macs=1e5)
                             for d in system.devices}, dense_macs=1e8)


def times(bc, stage=None):
    return {(w.stage, w.resource): w.time_s for w in bc.work if stage is None or w.stage == stage}


# ------------------------------------------------------------------ sources ---
def test_every_parameter_has_a_source(system):
    rows = system.describe()
    assert rows
    for part, name, value, kind, source in rows:
        if isinstance(value, (int, float)):          # settings (flags, choices) may sit beside the numbers
            assert math.isfinite(value), (part, name)
        assert source.strip(), (part, name)
        assert kind


def test_every_number_in_the_file_is_described(system):
    """No number of the YAML escapes 'hw show': each {value, source} entry appears among describe()'s rows."""
    def sources(node):
        if isinstance(node, dict):
            if set(node) == {"value", "source"}:
                return [str(node["source"]).strip()]
            return [s for v in node.values() for s in sources(v)]
        if isinstance(node, list):
            return [s for v in node for s in sources(v)]
        return []
    in_file = sources(yaml.safe_load(open(system.source_file)))
    shown = [r[4] for r in system.describe()]
    assert in_file
    for src in set(in_file):
        assert shown.count(src) >= in_file.count(src), src


# ------------------------------------------------------------- structure ---
def test_slots_devices_resources(system):
    slots = system.slots()
    assert slots and system.devices
    assert {s.device for s in slots} <= set(system.devices)
    assert all(s.capacity_B > 0 and s.rank >= 0 for s in slots)
    assert len({s.key for s in slots}) == len(slots)
    bc = system.batch_cost(full_load(system))
    res = system.resources()
    for w in bc.work:
        assert w.stage in STAGES and w.resource in res, w
        assert math.isfinite(w.time_s) and w.time_s >= 0, w
    assert all(isinstance(n, int) and n >= 1 for n in res.values())
    g = system.graph
    assert all("kind" in g.nodes[n] for n in g.nodes)
    assert set(system.devices) <= set(g.nodes)


# --------------------------------------------------------------- physics ---
def test_no_achieved_bandwidth_above_peak(system):
    """Bytes a slot's lookups move, over the time they take, never beat the part's peak.

    Fixed per-batch costs (host overheads) would hide a violation, so the
    check uses the *increment* from n to 2n lookups: extra bytes over the
    extra embedding time of the device, plus, for a part that is itself a
    resource (a link), the extra time it serves in other stages (index copies).
    """
    peaks = system.peak_bandwidth_Bps()
    assert peaks and all(v > 0 for v in peaks.values())
    checked = set()
    for slot in system.slots():
        for rb in ROW_BYTES:
            a = system.batch_cost(one_slot_load(system, slot, 10_000, rb))
            b = system.batch_cost(one_slot_load(system, slot, 20_000, rb))
            ta, tb = times(a), times(b)
            # the embedding stage: a device's items (and the shared parts it reads) overlap
            d_emb = max(times(b, "embedding").values()) - max(times(a, "embedding").values())
            assert d_emb > 0
            for key in b.bytes:
                if key not in peaks:
                    continue
                dt = d_emb + sum(t - ta.get(k, 0.0) for k, t in tb.items() if k[1] == key and k[0] != "embedding")
                extra = b.bytes[key] - a.bytes.get(key, 0.0)
                assert extra / dt <= peaks[key] * (1 + 1e-9), (slot.key, rb, key, extra / dt, peaks[key])
                checked.add(key)
    assert checked, "no bytes counted on any part with a peak"
    bc = system.batch_cost(full_load(system))
    crit = sum(max(times(bc, s).values() or [0.0]) for s in STAGES)
    for key, nbytes in bc.bytes.items():
        if key in peaks:
            assert nbytes / crit <= peaks[key] * (1 + 1e-9), key


def test_embedding_time_is_the_sum_of_lookup_costs(system):
    """The cost model's rule: with caches off, a device's embedding time is sum(lookups x lookup_cost) + TT compute.

    Where the hardware overlaps parts of the work (SCRec's gather, TT and flash engines) or a shared part
    is its own resource (the host DDR GPUs read), the engine's items run at once: the slowest of them
    never exceeds the planner's sum, and a device with one item matches it exactly."""
    for d in system.devices:
        dl = device_load(system, d, 777, 256, tt_macs=3e4)
        bc = system.batch_cost(BatchLoad(16, {d: dl}, 0.0))
        expect = sum(w["lookups"] * system.lookup_cost(system.slot(d, w["tier"]), w["row_bytes"]).time_s
                     for w in dl.table_work) + system.compute_cost(d, 3e4).time_s
        items = [t for (_, r), t in times(bc, "embedding").items() if "pcie" not in r and t > 0]
        assert max(items) <= expect * (1 + 1e-9)
        if len(items) == 1:
            assert items[0] == pytest.approx(expect, rel=1e-9)


def test_time_and_energy_scale_linearly_with_lookups(system):
    """Each extra 200 lookups (and 50 distinct rows) add the same time and energy.

    Affine, not proportional: a family may charge per-batch work that does not
    depend on the lookups (an SoC's UB strategies stream the table itself).
    """
    for slot in system.slots():
        c = system.lookup_cost(slot, 256)
        assert c.time_s > 0 and c.energy_J > 0, slot.key
        t, e = [], []
        for n in (200, 400, 600):
            bc = system.batch_cost(one_slot_load(system, slot, n, 256, unique_share=0.25))
            t.append(times(bc, "embedding")[("embedding", slot.device)])
            e.append(sum(system.energy_J(bc.actions, 0.0)["dynamic"].values()))
        for f in (t, e):
            assert f[2] - f[1] == pytest.approx(f[1] - f[0], rel=1e-9), (slot.key, f)
            assert f[1] > f[0], (slot.key, f)
    for d in system.devices:
        one, two = system.compute_cost(d, 1e6), system.compute_cost(d, 2e6)
        assert two.time_s == pytest.approx(2 * one.time_s, rel=1e-9), d
        assert two.energy_J == pytest.approx(2 * one.energy_J, rel=1e-9), d
        assert one.time_s > 0 and one.energy_J > 0


def _scaled_overrides(system, pattern, factor=2.0):
    """Dotted overrides multiplying every sourced number whose key matches ``pattern`` (part presets expanded)."""
    data = load_system_data(system.source_file)
    out = {}

    def walk(node, path):
        if isinstance(node, dict):
            if set(node) == {"value", "source"}:
                if re.search(pattern, path.rsplit(".", 1)[-1]):
                    v = node["value"]
                    if isinstance(v, str):
                        m = re.match(r"\s*([0-9.eE+-]+)(.*)", v)
                        out[path] = f"{float(m.group(1)) * factor:g}{m.group(2)}"
                    else:
                        out[path] = v * factor
                return
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
    walk(data, "")
    return out


def test_more_bandwidth_or_channels_is_never_slower(system):
    loads = [full_load(system)] + [one_slot_load(system, s, 5000, 512) for s in system.slots()]
    base = [times(system.batch_cost(l)) for l in loads]
    base_lookup = {s.key: system.lookup_cost(s, 512).time_s for s in system.slots()}
    overrides = _scaled_overrides(system, r"bandwidth|channels|transfer_rate")
    assert overrides, "no bandwidth parameter found"
    for path, value in overrides.items():
        faster = load_system(system.source_file, {path: value})
        for load, b in zip(loads, base):
            t = times(faster.batch_cost(load))
            for k in b:
                assert t[k] <= b[k] * (1 + 1e-12), (path, k, t[k], b[k])
        for s in faster.slots():
            if s.key in base_lookup:
                assert faster.lookup_cost(s, 512).time_s <= base_lookup[s.key] * (1 + 1e-12), (path, s.key)


def test_a_table_that_does_not_fit_is_a_clear_error(system):
    for slot in system.slots():
        system.check_fits({(slot.device, slot.tier): slot.capacity_B})
        with pytest.raises(InputError) as e:
            system.check_fits({(slot.device, slot.tier): slot.capacity_B * 1.01}, tables={(slot.device, slot.tier): ["huge"]})
        msg = str(e.value)
        assert "\n" not in msg and slot.pool_key in msg and "huge" in msg and "GB" in msg
    pools = {}
    for s in system.slots():
        pools.setdefault(s.pool_key, []).append(s)
    for pool, members in pools.items():
        if len(members) > 1:            # a shared pool counts every slot in it
            with pytest.raises(InputError, match=re.escape(pool)):
                system.check_fits({(s.device, s.tier): 0.6 * s.capacity_B for s in members})
    with pytest.raises(InputError, match="no slot"):
        system.check_fits({("nowhere", "dram"): 1.0})


# ---------------------------------------------------------------- energy ---
def test_energy_table_covers_every_counted_action(system):
    table = system.energy_per_action_J()
    assert table and all(v > 0 and math.isfinite(v) for v in table.values())
    bc = system.batch_cost(full_load(system))
    assert bc.actions
    assert set(bc.actions) <= set(table), set(bc.actions) - set(table)
    e = system.energy_J(bc.actions, 1e-3)
    assert e["total_J"] > 0
    static = system.static_power_W()
    # Static power is charged once per part; a part whose idle draw is counted in another (HBM in its
    # GPU's, a SmartSSD's flash in the device's 18 W on its FPGA) lists 0 W and says where it is counted.
    assert static and sum(static.values()) > 0 and all(w >= 0 for w in static.values())
    for name, w in static.items():
        if w == 0:
            assert "counted in" in system.parts[name].p.static_power.source, name
    assert sum(e["static"].values()) == pytest.approx(1e-3 * sum(static.values()))


def test_uncounted_action_is_an_error_not_zero(system):
    with pytest.raises(KeyError, match="no energy figure"):
        system.energy_J({("nowhere", "teleport_B"): 1.0}, 0.0)


def test_presets_folder_is_what_hw_list_shows():
    assert sorted(p.stem for p in PRESET_DIR.glob("*.yaml")) == PRESETS
    assert {"cpu_2s_spr_ddr5", "gpu_8x_a100_80g", "gpu_8x_h100_80g"} <= set(PRESETS)


def test_cache_hits_cost_no_more_than_the_tier_below(system):
    for c in system.cache_levels():
        assert c["capacity_B"] > 0 and c["device"] in system.devices
        below = system.slot(c["device"], c["above_tier"])
        for rb in ROW_BYTES:
            hit = system.cache_hit_cost(c["device"], c["level"], rb)
            assert 0 < hit.time_s <= system.lookup_cost(below, rb).time_s
            assert 0 < hit.energy_J <= system.lookup_cost(below, rb).energy_J
