"""Representations: bytes, bytes read and MACs per lookup, candidate lists."""
import pytest

from embsim.cost_model.representations import candidates, factor3, parse_allowed, saving, tensor_train
from embsim.errors import InputError
from embsim.workloads.model import TableSpec


def test_tt_cores_reads_and_macs_follow_the_formulas():
    t = TableSpec("t", 1_000_000, 64, "fp32", 1.0)
    rep = tensor_train(t, 16)
    n1, n2, n3 = rep.tt_row_factors
    d1, d2, d3 = rep.tt_dim_factors
    assert n1 * n2 * n3 >= t.rows and d1 * d2 * d3 == 64
    r = 16
    assert rep.bytes == 4 * (n1 * d1 * r + n2 * d2 * r * r + n3 * d3 * r)
    assert rep.row_bytes == 4 * (d1 * r + r * d2 * r + r * d3)
    assert rep.macs_per_lookup == r * d1 * d2 * (r + d3)
    assert rep.bytes < t.bytes / 100


def test_factor3():
    assert sorted(factor3(64, exact=True)) == [4, 4, 4]
    a, b, c = factor3(1000, exact=False)
    assert a * b * c >= 1000 and max(a, b, c) <= 11


def test_default_is_the_tables_own_dtype():
    t = TableSpec("t", 100_000, 32, "fp32", 1.0)
    assert [r.label for r in candidates(t)] == ["fp32"]
    labels = [r.label for r in candidates(t, "fp32,fp16,int8,int4,tt")]
    assert labels[:4] == ["fp32", "fp16", "int8", "int4"] and any(l.startswith("tt") for l in labels)


def test_quantised_rows_carry_scale_and_bias_and_never_widen():
    t = TableSpec("t", 1000, 64, "fp32", 1.0)
    reps = {r.label: r for r in candidates(t, "fp32,int8,int4")}
    assert reps["int8"].row_bytes == 64 + 8 and reps["int4"].row_bytes == 32 + 4
    assert saving(t, reps["int8"]) == pytest.approx(1 - 72 / 256)
    small = TableSpec("s", 1000, 64, "int8", 1.0)
    assert [r.label for r in candidates(small, "fp32,int8")] == ["int8"]


def test_tt_only_when_it_saves_memory():
    tiny = TableSpec("t", 10, 16, "fp32", 1.0)
    assert all(r.kind == "dense" for r in candidates(tiny, "fp32,tt"))


def test_parse_errors():
    assert parse_allowed("fp32, tt16") == ("fp32", "tt16")
    with pytest.raises(InputError, match="unknown representation 'bf16'"):
        parse_allowed("fp32,bf16")
    with pytest.raises(InputError, match="empty"):
        parse_allowed(" , ")
