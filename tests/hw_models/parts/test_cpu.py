"""CPU cores' gather loop: per-row, per-added-row, per-bag and per-value conversion terms, hand computed."""
import pytest

from embsim.errors import InputError
from embsim.hw_models.parts import CpuCores, MemoryTier

from part_helpers import S, make

ROW, ADD, BAG = 10e-9, 4e-9, 30e-9        # seconds
SUM_BPS = 64e9
CONV = {"fp16": 1.5e-9, "int8": 0.2e-9, "int4": 0.3e-9}


def cores(**changes):
    fields = dict(count=S(4), clock=S("1 GHz"), ops_per_cycle={"fp32": S(8)}, op_energy={"fp32": S("1 pJ")},
                  mlp_dtype="fp32", mlp_efficiency=S(0.5), static_power=S("10 W"), lines_in_flight=S(2),
                  row_overhead=S(ROW), sum_bandwidth=S(SUM_BPS), add_overhead=S(ADD), bag_overhead=S(BAG),
                  convert={k: S(v) for k, v in CONV.items()})
    fields.update(changes)
    return make(CpuCores, "cpu", **fields)


def test_core_time_hand_computed_per_row_bag_and_conversion():
    c = cores()
    base = ROW + 256 / SUM_BPS
    # a bag of one row is a copy: no add, no reduction setup
    assert c.core_time_s(256, "fp32", 1) == pytest.approx(base)
    # bags of 8: 7 of 8 rows are added, the setup is shared by 8
    assert c.core_time_s(256, "fp32", 8) == pytest.approx(base + 7 / 8 * ADD + BAG / 8)
    # a long bag (pooling unknown): every row added, the setup amortised away
    assert c.core_time_s(256, "fp32") == pytest.approx(base + ADD)
    # fp16: 128 values widened, int8: 256, int4: 512 (half a byte each)
    assert c.core_time_s(256, "fp16", 1) == pytest.approx(base + 128 * CONV["fp16"])
    assert c.core_time_s(256, "int8", 1) == pytest.approx(base + 256 * CONV["int8"])
    assert c.core_time_s(256, "int4", 1) == pytest.approx(base + 512 * CONV["int4"])
    # mean pooling 1.5: bags of one or two rows, half of them with two
    assert c.core_time_s(256, "fp32", 1.5) == pytest.approx(base + ADD / 3 + 0.5 * BAG / 1.5)


def test_core_time_per_lookup_never_rises_past_pooling_2_and_each_term_counts():
    c = cores()
    per = [c.core_time_s(128, "fp16", L) for L in (2, 4, 16, 100, 1000)]
    assert all(a >= b for a, b in zip(per, per[1:]))           # the setup spreads over more rows
    for term in ("add_overhead", "bag_overhead"):
        assert cores(**{term: S("0 s")}).core_time_s(128, "fp32", 10) < c.core_time_s(128, "fp32", 10)
    assert cores(convert={k: S("0 s") for k in CONV}).core_time_s(128, "fp16", 10) < c.core_time_s(128, "fp16", 10)


def test_gather_time_adds_memory_and_divides_core_work_over_cores():
    c = cores()
    dram = make(MemoryTier, "dram", capacity=S("16 GB"), granularity=S("64 B"), latency=S("100 ns"),
                concurrency=S(1000), peak_bandwidth=S("16 GB/s"), read_energy=S("10 pJ/bit"),
                write_energy=S("10 pJ/bit"), static_power=S("5 W"))
    mem = 2 * 64 / min(16e9, 4 * 2 * 64 / 100e-9)
    assert c.gather_time_s(128, dram, 10, dtype="int8", pooling=4) == pytest.approx(
        10 * (c.core_time_s(128, "int8", 4) / 4 + mem))


def test_bad_dtype_and_pooling_are_refused():
    c = cores()
    with pytest.raises(ValueError, match="storage dtype"):
        c.core_time_s(64, "fp64", 4)
    with pytest.raises(ValueError, match="pooling"):
        c.core_time_s(64, "fp32", 0.0)


def test_a_mean_below_one_row_per_bag_is_priced_as_one_row_copies():
    # dlrm_datasets-like tables have mean pooling below 1 (most samples lack the feature)
    c = cores()
    assert c.core_time_s(64, "fp16", 0.85) == c.core_time_s(64, "fp16", 1.0)
    assert c.core_time_s(64, "fp16", 0.85) < c.core_time_s(64, "fp16", 2.0)


def test_every_conversion_and_bag_term_needs_a_source():
    for missing in ("add_overhead", "bag_overhead", "convert"):
        fields = dict(count=S(4), clock=S("1 GHz"), ops_per_cycle={"fp32": S(8)}, op_energy={"fp32": S("1 pJ")},
                      mlp_dtype="fp32", mlp_efficiency=S(0.5), static_power=S("10 W"), lines_in_flight=S(2),
                      row_overhead=S(ROW), sum_bandwidth=S(SUM_BPS), add_overhead=S(ADD), bag_overhead=S(BAG),
                      convert={k: S(v) for k, v in CONV.items()})
        del fields[missing]
        with pytest.raises(InputError, match=missing):
            make(CpuCores, "cpu", **fields)
    with pytest.raises(InputError, match="int4"):
        cores(convert={"fp16": S("1 ns"), "int8": S("1 ns")})
