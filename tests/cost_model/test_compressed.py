"""Row-sharing representations: memory and reads against hand counts, parameters, the collision budget."""
import pytest

from embsim.cost_model.compressed import SKETCH_SLOT_B, cafe_layout, compressed
from embsim.cost_model.representations import REL_ERROR_BOUND, candidates, parse_allowed
from embsim.cost_model.solve import solve_plan
from embsim.errors import InputError
from embsim.workloads.model import AccessSpec, TableSpec

from cm_toys import toy_model, toy_system
from conftest import assert_input_error

T = TableSpec("t", 10_000, 16, "fp32", 4.0, access=AccessSpec("zipf", 1.1))   # 640 kB at fp32, 64 B rows


def test_hash_by_hand():
    r = compressed(T, "hash:0.01")
    assert r.physical_rows == [100] and r.bytes == 100 * 64 and r.reads_per_lookup == 1 and r.row_bytes == 64
    assert r.macs_per_lookup == 0
    # two of U features share a row with chance 1/m: 1 - (1 - 1/100)^(U - 1)
    assert compressed(T, "hash:0.01", distinct=11).collision_share == pytest.approx(1 - 0.99 ** 10)


def test_qr_by_hand():
    r = compressed(T, "qr:0.05")         # m + 10000/m = 500 -> m = (500 + sqrt(500^2 - 40000)) / 2 = 479.1 -> 480
    assert r.params == {"remainder_rows": 480, "quotient_rows": 21}
    assert r.physical_rows == [21, 480] and r.bytes == (21 + 480) * 64
    assert r.reads_per_lookup == 2 and r.row_bytes == 128 and r.macs_per_lookup == 16 and r.collision_share == 0
    tiny = compressed(T, "qr:0.001")     # below 2 sqrt(n) = 200 rows: offered at the smallest QR, 100 + 100
    assert tiny.physical_rows == [100, 100]


def test_cafe_by_hand():
    hot, slots, levels = cafe_layout(T, 0.1, 1)           # 1000 rows of budget: 500 hot, 1000 sketch slots
    assert (hot, slots) == (500, 1000)
    left = 1000 - 500 - 1000 * SKETCH_SLOT_B / 64           # 16 B slots = 250 rows of 64 B
    assert levels == [int(left)]
    r = compressed(T, "cafe:0.1")
    assert r.physical_rows == [500, 250] and r.bytes == 750 * 64 + 1000 * SKETCH_SLOT_B
    assert r.bytes <= compressed(T, "hash:0.1").bytes
    two = compressed(T, "cafe:0.1:2")
    assert two.physical_rows == [500, 125, 125] and 1 <= two.reads_per_lookup <= 2


def test_memrec_by_hand():
    r = compressed(T, "memrec:0.01:3")    # budget 6400 B; a token row 64 B + a 4 B weight: 94 of each
    assert r.physical_rows == [94, 94] and r.bytes == 94 * 68
    assert r.reads_per_lookup == 4 and r.row_bytes == 3 * 64 + 4 and r.macs_per_lookup == 3 * 16 + 16


@pytest.mark.parametrize("spec, frag", [("hash:0", "0 < RATIO < 1"), ("hash:1", "0 < RATIO < 1"),
                                        ("qr:-0.5", "0 < RATIO < 1"), ("cafe:x", "not a number"),
                                        ("hash", "hash:RATIO"), ("memrec:0.1:0", "k '0'"),
                                        ("cafe:0.1:9", "levels '9'"), ("bloom:0.1", "unknown representation")])
def test_bad_parameters_are_one_line(spec, frag):
    with pytest.raises(InputError, match=frag) as e:
        parse_allowed(f"fp32,{spec}")
    assert "\n" not in str(e.value)


def test_candidates_offer_only_savings_and_respect_the_budget():
    labels = [r.label for r in candidates(T, "fp32,hash:0.01,qr:0.5,memrec:0.001")]
    assert labels[0] == "fp32" and "hash:0.01" in labels and "memrec:0.001:2" in labels
    none = candidates(T, "fp32,hash:0.01", distinct=10_000, max_collision_share=0.5)
    assert [r.label for r in none] == ["fp32"]                # hashing 10,000 features into 100 rows collides


def test_error_bounds_of_the_dense_formats():
    reps = {r.label: r for r in candidates(T, "fp32,fp16,int8,int4")}
    assert reps["fp32"].rel_error_bound == 0
    assert reps["int8"].rel_error_bound == pytest.approx(1 / 510) == REL_ERROR_BOUND["int8"]
    assert reps["int4"].rel_error_bound == pytest.approx(1 / 30)
    assert reps["fp16"].rel_error_bound == 2 ** -11


def test_the_mip_respects_the_collision_budget():
    """A machine too small for the dense tables must hash; a budget forbids the colliding choices."""
    m = toy_model(4, seed=1, rows=(20_000, 40_000), dims=(16,))
    dense_B = sum(t.bytes for t in m.tables)
    sys_ = toy_system(n_dev=2, fast_B=dense_B * 0.05, slow_B=dense_B * 0.2)
    reps = "fp32,hash:0.01,qr:0.1"
    free = solve_plan(m, sys_, representations=reps, time_limit_s=10, batch_size=64)
    assert any(t.representation.kind == "hash" for t in free.tables)
    capped = solve_plan(m, sys_, representations=reps, time_limit_s=10, batch_size=64, max_collision_share=0.2)
    assert all(t.representation.collision_share <= 0.2 for t in capped.tables)
    assert all(t.representation.kind != "hash" for t in capped.tables)
    assert capped.makespan_s >= free.makespan_s * (1 - 1e-9)     # a constraint never makes the plan faster
    with pytest.raises(InputError, match="max collision share"):
        solve_plan(m, sys_, representations=reps, max_collision_share=1.5)


def test_shard_and_simulate_accept_the_new_representations(run_cli, tmp_path):
    out = tmp_path / "plan.json"
    r = run_cli("shard", "--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--time-limit", 5,
                "--representations", "fp32,int4,hash:0.01,qr:0.01,cafe:0.001,memrec:0.001",
                "--max-collision-share", "1", "-o", out)
    assert r.code == 0, r
    res = tmp_path / "r.json"
    r = run_cli("simulate", "--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--plan", out, "--batch-size", 256, "--queries", 4096,
                "--json", "-o", res)
    assert r.code == 0, r
    import json
    q = json.loads(r.out)["quality"]
    assert "not simulated" in q["note"] and all(0 <= v["collision_share"] <= 1 for v in q["per_table"])
    assert 0 <= q["collision_share"] <= 1 and q["max_rel_error_bound"] <= 1 / 30
    r = run_cli("simulate", "--model", "rm1", "--system", "cpu_2s_spr_ddr5", "--representations", "hash:0.01",
                "--batch-size", 256, "--queries", 2048, "--time-limit", 5)
    assert r.code == 0, r
    assert "collision share" in r.out and "accuracy is not simulated" in r.out


@pytest.mark.parametrize("args, frag", [(["--representations", "hash:1.5"], "hash:1.5"),
                                        (["--representations", "fp32,zz:0.1"], "zz:0.1"),
                                        (["--max-collision-share", "-0.1"], "--max-collision-share")])
def test_bad_cli_parameters_exit_2(run_cli, tmp_path, args, frag):
    out = tmp_path / "p.json"
    assert_input_error(run_cli("shard", "--model", "rm1", "--system", "cpu_2s_spr_ddr5", *args, "-o", out), frag)
    assert not out.exists()


def test_a_physical_table_beyond_the_hash_range_is_refused():
    huge = TableSpec("huge", 10 ** 10, 16, "fp32", 1.0)
    with pytest.raises(InputError, match="2\\^32"):
        compressed(huge, "hash:0.5")
    assert compressed(huge, "hash:0.1").physical_rows == [10 ** 9]
