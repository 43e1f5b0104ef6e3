"""Bad, hostile and edge-case inputs to every subcommand.

Each case asserts the DESIGN.md contract: exit code 2, one line ``error: ...``
on stderr that names the file, field or value, no traceback, and no file
created, changed or removed in the working folder (inputs included: an
output that names an input is refused even with ``--force``).  Everything
runs in-process and stops before real work, so the whole file takes seconds.
"""
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import assert_input_error
from embsim.cost_model.plan import Representation, Shard, ShardingPlan, TablePlan
from embsim.hw_models.loader import PRESET_DIR as SYSTEM_PRESETS
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict
from embsim.workloads.trace import Trace

CPU = "cpu_2s_spr_ddr5"
CSD = "screc_4x_smartssd"
LONG = "x" * 300 + ".json"
UNWRITABLE = "/proc/embsim-out.json"       # not writable even by root

MODEL = {"name": "tiny", "source": "test model",
         "defaults": {"dim": 16, "pooling": 4, "access": {"kind": "zipf", "alpha": 1.05}},
         "tables": [{"name": f"t{i}", "rows": 20_000 * (i + 1)} for i in range(4)],
         "dense": {"dense_features": 13, "bottom_mlp": [64, 16], "top_mlp": [64, 1], "interaction": "dot"}}


def _model(**change):
    m = json.loads(json.dumps(MODEL))
    for path, v in change.items():
        node = m
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = v
        else:
            node[last] = v
    return yaml.safe_dump(m, sort_keys=False)


BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
BAD_MODELS = {
    "m_dupkey.yaml": "name: tiny\nsource: x\nname: other\ntables: [{name: a, rows: 10, dim: 4, pooling: 1}]\n"
                     "dense: {dense_features: 1, bottom_mlp: [4], top_mlp: [1]}\n",
    "m_deep.yaml": "name: " + "[" * 5000 + "]" * 5000 + "\n",
    "m_bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n" + BOMB + "name: tiny\n",
    "m_cycle.yaml": "name: &n [*n]\n",
    "m_pool_inf.yaml": _model(defaults__pooling=".inf").replace("'.inf'", ".inf"),
    "m_pool_nan.yaml": _model(defaults__pooling=".nan").replace("'.nan'", ".nan"),
    "m_rows_2_62.yaml": _model(tables__0__rows=2 ** 62),
    "m_rows_1e30.yaml": _model(tables__0__rows=1e30),
    "m_rows_neg.yaml": _model(tables__0__rows=-5),
    "m_rows_str.yaml": _model(tables__0__rows="many"),
    "m_dim0.yaml": _model(defaults__dim=0),
    "m_dim_huge.yaml": _model(defaults__dim=10 ** 9),
    "m_count_huge.yaml": _model(tables__0__count=10 ** 9),
    "m_dot.yaml": _model(tables__2__dim=32),
    "m_alpha_inf.yaml": _model(defaults__access={"kind": "zipf", "alpha": ".inf"}).replace("'.inf'", ".inf"),
    "m_dtype.yaml": _model(defaults__dtype="fp64"),
    "m_typo.yaml": _model().replace("rows:", "rowz:", 1),
    "m_no_tables.yaml": _model(tables=[]),
    "m_list.yaml": "- a\n- b\n",
    "m_empty.yaml": "",
    "m_binary.yaml": b"\x89PNG\r\n\x1a\n\xff\xfe\x00",
    "m_bad_yaml.yaml": "name: [unclosed\n",
    "m_dcn.yaml": _model(dense__interaction="dcnv2"),
}
MODEL_FRAGMENTS = {
    "m_dupkey.yaml": "duplicate key 'name'", "m_deep.yaml": "nested deeper", "m_bomb.yaml": "alias",
    "m_cycle.yaml": "cycle", "m_pool_inf.yaml": "pooling", "m_pool_nan.yaml": "pooling",
    "m_rows_2_62.yaml": "rows", "m_rows_1e30.yaml": "rows", "m_rows_neg.yaml": "rows", "m_rows_str.yaml": "rows",
    "m_dim0.yaml": "dim", "m_dim_huge.yaml": "dim", "m_count_huge.yaml": "count", "m_dot.yaml": "dim 32",
    "m_alpha_inf.yaml": "alpha", "m_dtype.yaml": "dtype", "m_typo.yaml": "rowz", "m_no_tables.yaml": "tables",
    "m_list.yaml": "mapping", "m_empty.yaml": "empty", "m_binary.yaml": "m_binary.yaml",
    "m_bad_yaml.yaml": "not valid YAML", "m_dcn.yaml": "cross_layers",
}


def _system(path_value):
    """The cpu preset with one value replaced (path 'params.cpu.count' -> new value text)."""
    data = yaml.safe_load((SYSTEM_PRESETS / f"{CPU}.yaml").read_text())
    path, value = path_value
    node = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return yaml.safe_dump(data, sort_keys=False)


BAD_SYSTEMS = {
    "s_count.yaml": (_system(("params.cpu.count", {"value": 1e30, "source": "x"})), "count"),
    "s_sockets.yaml": (_system(("params.sockets", {"value": 1e30, "source": "x"})), "sockets"),
    "s_sockets_frac.yaml": (_system(("params.sockets", {"value": 2.5, "source": "x"})), "sockets"),
    "s_inf.yaml": (_system(("params.dram.latency", {"value": float("inf"), "source": "x"})), "latency"),
    "s_nosource.yaml": (_system(("params.dram.latency", {"value": "10 ns"})), "source"),
    "s_unit.yaml": (_system(("params.dram.latency", {"value": "10 GB", "source": "x"})), "latency"),
    "s_family.yaml": (_system(("family", "cpu_dramm")), "cpu_dram"),
    "s_neg.yaml": (_system(("params.dram.capacity", {"value": "-4 GB", "source": "x"})), "capacity"),
    "s_dup.yaml": ((SYSTEM_PRESETS / f"{CPU}.yaml").read_text().replace(
        "params:\n", "params:\n  sockets: {value: 4, source: x}\n", 1), "duplicate key 'sockets'"),
    "s_bomb.yaml": ("a: &a [x, x, x, x, x, x, x, x, x]\n" + BOMB + "family: cpu_dram\n", "alias"),
}


def _plan_dict(model, system_name, device="socket0", tier="dram"):
    tables = [TablePlan(t.name, Representation(row_bytes=t.row_bytes, bytes=t.bytes),
                        [Shard(device, tier, 0.0, 1.0, 1.0)]) for t in model.tables]
    return ShardingPlan(model.name, system_name, tables, solver="hand", status="hand-made").to_dict()


def _bad_plans(model):
    good = _plan_dict(model, CPU)
    out = {}

    def variant(name, fn, fragment):
        d = json.loads(json.dumps(good))
        fn(d)
        out[name] = (json.dumps(d), fragment)

    sh = lambda d, i=0: d["tables"][i]["shards"][0]   # noqa: E731
    variant("p_half.json", lambda d: sh(d).update(access_share=0.5), "access shares sum to 0.5")
    variant("p_double.json", lambda d: sh(d).update(access_share=2.0), "outside [0, 1]")
    variant("p_negative.json", lambda d: sh(d).update(access_share=-0.5), "outside [0, 1]")
    variant("p_string.json", lambda d: sh(d).update(access_share="half"), "access_share")
    variant("p_bool.json", lambda d: sh(d).update(rank_hi=True), "rank_hi")
    variant("p_twice.json", lambda d: d["tables"].append(d["tables"][0]), "appears more than once")
    variant("p_missing_table.json", lambda d: d["tables"].pop(), "missing from the plan")
    variant("p_gap.json", lambda d: sh(d).update(rank_lo=0.25), "gap")
    variant("p_slot.json", lambda d: sh(d).update(device="socket9"), "socket9")
    variant("p_part.json", lambda d: sh(d).update(part=-1), "part")
    variant("p_tt_rank.json", lambda d: d["tables"][0]["representation"].update(
        kind="tt", tt_ranks=[1, -4, 1]), "tt_ranks")
    variant("p_row_bytes.json", lambda d: d["tables"][0]["representation"].update(row_bytes=-1.0), "row bytes")
    variant("p_no_tier.json", lambda d: sh(d).pop("tier"), "tier")
    variant("p_tables_obj.json", lambda d: d.update(tables={"a": 1}), "tables")
    variant("p_other_model.json", lambda d: d.update(model="other"), "plan is for 'other'")
    variant("p_other_system.json", lambda d: d.update(system=CSD), "plan is for")
    out["p_nan.json"] = (json.dumps(good).replace('"access_share": 1.0', '"access_share": NaN', 1), "access_share")
    out["p_dupkey.json"] = (json.dumps(good).replace('"model": "tiny"', '"model": "tiny", "model": "tiny"', 1),
                            "duplicate key 'model'")
    out["p_list.json"] = ("[1, 2]", "JSON object")
    out["p_empty.json"] = ("", "not valid JSON")
    out["p_deep.json"] = ("[" * 100000 + "]" * 100000, "p_deep.json")
    return out


def _write_store(path, space_file):
    from embsim.explorer.space import DesignSpace
    from embsim.explorer.store import ResultStore
    with ResultStore(path) as st:
        st.register_space(DesignSpace.from_yaml(space_file))


SPACE = {"name": "tinyspace", "system": CPU, "model": "m.yaml",
         "simulation": {"queries": 256, "batch_size": 32}, "plan": {"mode": "none"},
         "knobs": {"batch": {"path": "sim.batch_size", "values": [32, 64]}},
         "objectives": {"throughput_qps": "max", "energy_per_query_J": "min"}, "sampler": {"kind": "grid"}}


def _space(**change):
    d = json.loads(json.dumps(SPACE))
    d.update(change)
    return yaml.safe_dump(d, sort_keys=False)


BAD_SPACES = {
    "sp_objective.yaml": (_space(objectives={"thruput_qps": "max"}), "thruput_qps"),
    "sp_knob_type.yaml": (_space(knobs={"dim": {"path": "model.defaults.dim", "values": [16, "wide"]}}), "wide"),
    "sp_knob_range.yaml": (_space(knobs={"dim": {"path": "model.defaults.dim", "min": 0, "max": 16, "step": 8}}),
                           "dim"),
    "sp_knob_system.yaml": (_space(knobs={"s": {"path": "system.params.sockets", "values": [2, 1e30]}}), "sockets"),
    "sp_energy.yaml": (_space(plan={"mode": "solve", "energy_weight": 1.0}), "energy_weight"),
    "sp_time_nan.yaml": (_space(plan={"mode": "solve", "time_limit_s": float("nan")}), "time_limit_s"),
    "sp_sampler.yaml": (_space(sampler={"kind": "random"}), "needs 'n'"),
    "sp_path.yaml": (_space(knobs={"b": {"path": "sim.batch_sise", "values": [32]}}), "batch_sise"),
    "sp_override_dot.yaml": (_space(overrides={"model.defaults.dim": 32}), "dim 32"),
    "sp_sim_neg.yaml": (_space(simulation={"queries": -5}), "queries"),
    "sp_model.yaml": (_space(model="nope_model"), "nope_model"),
    "sp_dup.yaml": (_space() + "name: again\n", "duplicate key 'name'"),
    "sp_bomb.yaml": ("a: &a [x, x, x, x, x, x, x, x, x]\n" + BOMB + "name: s\n", "alias"),
    "sp_knob_name.yaml": (_space(knobs={"bad-name": {"path": "sim.batch_size", "values": [32]}}), "bad-name"),
    "sp_seed.yaml": (_space(simulation={"seed": -1}), "seed"),
    "sp_sim_knob_type.yaml": (_space(knobs={"b": {"path": "sim.batch_size", "values": [32, "big"]}}), "batch_size"),
}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_inputs")
    model = model_from_dict(MODEL, "m.yaml")
    (d / "m.yaml").write_text(yaml.safe_dump(MODEL, sort_keys=False))
    tr = generate_trace(model, batches=4, batch_size=32, seed=0)
    tr.save(d / "t.npz")
    (d / "p.json").write_text(json.dumps(_plan_dict(model, CPU)))
    for name, text in BAD_MODELS.items():
        (d / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    for name, (text, _) in BAD_SYSTEMS.items():
        (d / name).write_text(text)
    for name, (text, _) in _bad_plans(model).items():
        (d / name).write_text(text)
    big = dict(MODEL, tables=[{"name": f"t{i}", "rows": 10_000_000} for i in range(4)])
    (d / "m_big.yaml").write_text(yaml.safe_dump(big))
    (d / "p_sram.json").write_text(json.dumps(_plan_dict(model_from_dict(big), CSD, "csd0", "sram")))
    _bad_traces(d, tr)
    (d / "s.yaml").write_text(_space())
    for name, (text, _) in BAD_SPACES.items():
        (d / name).write_text(text)
    _write_store(d / "store.sqlite", d / "s.yaml")
    (d / "other_space.yaml").write_text(_space(name="otherspace"))
    _write_store(d / "other.sqlite", d / "other_space.yaml")
    (d / "empty.sqlite").write_bytes(b"")
    con = sqlite3.connect(d / "foreign.sqlite")
    con.execute("CREATE TABLE x (a)")
    con.commit()
    con.close()
    (d / "text.sqlite").write_text("not a database\n")
    (d / "u.data").write_text("".join(f"{u}\t{i}\t3\t{1000 + u * 7 + i}\n" for u in range(20) for i in range(5)))
    (d / "u20.data").write_text("".join(f"{12345678901234567890 + u}\t{i}\t3\t{1000 + u}\n"
                                        for u in range(8) for i in range(40)))
    (d / "u_neg.data").write_text("1\t2\t3\t4\n-1\t2\t3\t5\n")
    (d / "u_short.data").write_text("1\t2\t3\n")
    (d / "ml.npz").write_text((d / "u.data").read_text())   # a log that happens to end in .npz
    (d / "loc.npz").write_text("not locality stats\n")
    (d / "empty.txt").write_text("")
    (d / "folder").mkdir()
    return d


def _bad_traces(d, tr):
    def save(name, **change):
        t = Trace(**{**dict(lengths=tr.lengths, indices=tr.indices, table_rows=tr.table_rows,
                            table_names=tr.table_names, meta=tr.meta), **change})
        arrays = dict(lengths=t.lengths, indices=t.indices, table_rows=t.table_rows,
                      table_names=np.array(t.table_names, dtype=str), meta=np.array(json.dumps(t.meta)),
                      format_version=np.array(1))
        arrays.update(change.pop("_extra", {}))
        np.savez(d / name, **arrays)
    save("t_dupnames.npz", table_names=["a", "b", "a", "c"])
    save("t_rows.npz", table_rows=tr.table_rows * 2)
    save("t_huge_rows.npz", table_rows=np.array([2 ** 62, 2 ** 62, 2 ** 62, 2 ** 62], dtype=np.int64))
    bad = tr.indices.copy()
    bad[5] = -3
    save("t_negindex.npz", indices=bad)
    save("t_tables.npz", table_rows=tr.table_rows[:3], table_names=tr.table_names[:3])
    np.savez(d / "t_float.npz", lengths=tr.lengths, indices=tr.indices.astype(np.float64), table_rows=tr.table_rows)
    np.savez(d / "t_noindices.npz", lengths=tr.lengths, table_rows=tr.table_rows)
    (d / "t_empty.npz").write_bytes(b"")
    (d / "t_text.npz").write_text("hello")
    (d / "t_zip.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)


def _snapshot(root):
    out = {}
    for dirpath, dirnames, files in os.walk(root):
        for f in dirnames + files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture
def check(run_cli, work, monkeypatch):
    """Run ``embsim ARGS`` in the work folder; assert the error contract and that no file changed."""
    monkeypatch.chdir(work)

    def run(args, *fragments):
        before = _snapshot(work)
        r = run_cli(*args)
        assert_input_error(r, *fragments)
        assert _snapshot(work) == before, "the failed command created, changed or removed a file"
        assert not Path(UNWRITABLE).exists()
        return r
    return run


SIM = ["simulate", "--model", "m.yaml", "--system", CPU]
SIM_P = SIM + ["--plan", "p.json"]
SHARD = ["shard", "--model", "m.yaml", "--system", CPU, "-o", "new_plan.json"]
GEN = ["trace", "gen", "--model", "m.yaml", "--batches", "2", "--batch-size", "8", "-o", "new.npz"]
REPLAY = ["replay", "t.npz", "--cache-rows", "10", "--policy", "lru"]
EXPLORE = ["explore", "s.yaml", "--db", "new.sqlite"]

# ---------------------------------------------------------------- models: every command that reads one ---


@pytest.mark.parametrize("name", sorted(BAD_MODELS))
@pytest.mark.parametrize("command", ["gen", "shard", "simulate"])
def test_bad_model_files(check, name, command):
    args = {"gen": GEN, "shard": SHARD, "simulate": SIM}[command]
    args = [name if a == "m.yaml" else a for a in args]
    check(args, name, MODEL_FRAGMENTS[name])


# ---------------------------------------------------------------- systems ---
@pytest.mark.parametrize("name", sorted(BAD_SYSTEMS))
@pytest.mark.parametrize("command", ["hw", "shard", "simulate"])
def test_bad_system_files(check, name, command):
    fragment = BAD_SYSTEMS[name][1]
    args = {"hw": ["hw", "show", name], "shard": SHARD, "simulate": SIM}[command]
    args = [name if a == CPU else a for a in args]
    check(args, name, fragment)


def test_unknown_system_preset(check):
    check(["hw", "show", "cpu_2s_spr_ddr4"], "cpu_2s_spr_ddr4", "did you mean")


# ---------------------------------------------------------------- plans: simulate validates like shard ---
PLAN_FRAGMENTS = {name: frag for name, (_, frag) in _bad_plans(model_from_dict(MODEL)).items()}


@pytest.mark.parametrize("name", sorted(PLAN_FRAGMENTS))
def test_bad_plans_are_not_simulated(check, name):
    check(SIM + ["--plan", name], PLAN_FRAGMENTS[name])


def test_a_gigabyte_in_megabytes_of_sram_is_refused(check):
    check(["simulate", "--model", "m_big.yaml", "--system", CSD, "--plan", "p_sram.json"], "csd0.sram",
          "capacity")


@pytest.mark.parametrize("name", ["p_half.json", "p_twice.json", "p_sram.json"])
def test_report_refuses_nothing_it_can_draw_but_simulate_refuses_bad_plans(check, name):
    model = "m_big.yaml" if name == "p_sram.json" else "m.yaml"
    system = CSD if name == "p_sram.json" else CPU
    check(["simulate", "--model", model, "--system", system, "--plan", name, "--json", "-o", "r.json"], name)


# ---------------------------------------------------------------- traces ---
TRACE_FRAGMENTS = {
    "t_dupnames.npz": "appears twice", "t_huge_rows.npz": "table_rows", "t_negindex.npz": "indices[5]",
    "t_float.npz": "dtype", "t_noindices.npz": "indices", "t_empty.npz": "empty file",
    "t_text.npz": "not a zip", "t_zip.npz": "t_zip.npz", "folder": "folder", "missing.npz": "no such",
}


@pytest.mark.parametrize("name", sorted(TRACE_FRAGMENTS))
@pytest.mark.parametrize("command", ["stats", "replay", "shard", "simulate"])
def test_bad_trace_files(check, name, command):
    args = {"stats": ["trace", "stats", name], "replay": ["replay", name, "--cache-rows", "10", "--policy", "lru"],
            "shard": SHARD + ["--trace", name], "simulate": SIM_P + ["--trace", name]}[command]
    check(args, TRACE_FRAGMENTS[name])


@pytest.mark.parametrize("name, fragment", [("t_rows.npz", "rows"), ("t_tables.npz", "tables")])
@pytest.mark.parametrize("command", ["shard", "simulate"])
def test_trace_of_another_model(check, name, fragment, command):
    args = SHARD + ["--trace", name] if command == "shard" else SIM_P + ["--trace", name]
    check(args, name, fragment)


# ---------------------------------------------------------------- outputs never replace inputs ---
@pytest.mark.parametrize("args, fragment", [
    (SIM_P + ["-o", "p.json", "--force"], "input"),
    (SIM_P + ["-o", "m.yaml", "--force"], "input"),
    (SIM_P + ["--trace", "t.npz", "-o", "t.npz", "--force"], "input"),
    (SIM_P + ["-o", "./p.json", "--force"], "input"),
    (SIM_P + ["-o", "folder/../p.json", "--force"], "input"),
    (["shard", "--model", "m.yaml", "--system", CPU, "-o", "m.yaml", "--force"], "input"),
    (["shard", "--model", "m.yaml", "--system", CPU, "--trace", "t.npz", "-o", "t.npz", "--force"], "input"),
    (["report", "store.sqlite", "-o", "store.sqlite", "--force"], "input"),
    (["report", "p.json", "-o", "p.json", "--force"], "input"),
    (["report", "store.sqlite", "p.json", "-o", "./p.json", "--force"], "input"),
    (["trace", "import", "ml.npz", "--format", "movielens", "-o", "ml.npz", "--force"], "input"),
    (["trace", "fit", "loc.npz", "-o", "loc.npz", "--force"], "input"),
    (["explore", "s.yaml", "--db", "store.sqlite", "--report", "store.sqlite", "--force"], "input"),
    (["explore", "s.yaml", "--db", "store.sqlite", "--export", "s.yaml", "--force"], "input"),
    (["explore", "s.yaml", "--db", "s.yaml"], "space file"),
    (["explore", "s.yaml", "--db", "store.sqlite", "--report", "x.csv", "--export", "x.csv"], "both"),
])
def test_output_naming_an_input_is_refused_even_with_force(check, args, fragment):
    check(args, fragment)


def test_hard_link_of_an_input_is_refused(check, work):
    link = work / "p_link.json"
    if not link.exists():
        os.link(work / "p.json", link)
    check(SIM_P + ["-o", "p_link.json", "--force"], "input")


# ---------------------------------------------------------------- stores: readers never write ---
@pytest.mark.parametrize("name, fragment", [
    ("empty.sqlite", "empty file"), ("foreign.sqlite", "not an embsim result store"),
    ("text.sqlite", "not an SQLite database"), ("missing.sqlite", "no such"), ("folder", "folder"),
])
def test_report_on_a_file_that_is_not_a_store_writes_nothing(check, name, fragment):
    check(["report", name, "-o", "r.html"], name, fragment)


@pytest.mark.parametrize("db, fragment", [
    ("other.sqlite", "design space 'otherspace'"), ("text.sqlite", "not an SQLite database"),
    ("foreign.sqlite", "foreign.sqlite"), ("folder", "folder"), ("nodir/new.sqlite", "nodir"),
])
def test_explore_refuses_a_store_it_cannot_resume(check, db, fragment):
    check(["explore", "s.yaml", "--db", db, "--workers", "1"], fragment)


@pytest.mark.parametrize("args, fragment", [
    (["report", "m.yaml", "-o", "r.html"], "unknown input type"),
    (["report", "p_list.json", "-o", "r.html"], "JSON object"),
    (["report", "p_empty.json", "-o", "r.html"], "not valid JSON"),
    (["report", "p_dupkey.json", "-o", "r.html"], "duplicate key"),
    (["report", "store.sqlite", "-o", UNWRITABLE], "cannot write"),
    (["report", "store.sqlite", "-o", LONG], "too long"),
    (["report", "store.sqlite", "-o", "m.yaml"], "already exists"),
])
def test_report_inputs_and_outputs(check, args, fragment):
    check(args, fragment)


# ---------------------------------------------------------------- spaces ---
@pytest.mark.parametrize("name", sorted(BAD_SPACES))
def test_bad_design_spaces(check, name):
    check(["explore", name, "--db", "new.sqlite", "--workers", "1"], BAD_SPACES[name][1])


# ---------------------------------------------------------------- numbers, at parse time ---
@pytest.mark.parametrize("extra, fragment", [
    (["--seed", "-1"], "--seed"), (["--seed", "1e3"], "--seed"), (["--seed", str(2 ** 64)], "--seed"),
    (["--qps", "nan"], "--qps"), (["--qps", "inf"], "--qps"), (["--qps", "0"], "--qps"), (["--qps", "-3"], "--qps"),
    (["--queries", "1e30"], "--queries"), (["--queries", str(10 ** 30)], "--queries"), (["--queries", "0"], "--queries"),
    (["--batch-size", str(10 ** 12)], "--batch-size"), (["--batch-size", "0"], "--batch-size"),
    (["--in-flight", "0"], "--in-flight"), (["--in-flight", str(10 ** 9)], "--in-flight"),
    (["--batch-timeout", "nan", "--qps", "10"], "--batch-timeout"),
    (["--time-limit", "nan"], "--time-limit"), (["--time-limit", "-1"], "--time-limit"),
    (["--time-limit", "inf"], "--time-limit"),
    (["--caches", "fifo"], "--caches"), (["--arrival", "burst"], "--arrival"),
    (["--qps", "10", "--closed-loop"], "choose one"),
    (["-o", UNWRITABLE], "cannot write"), (["-o", LONG], "too long"), (["-o", "nodir/r.json"], "nodir"),
    (["-o", "folder"], "folder"), (["-o", "t.npz"], "already exists"),
])
def test_simulate_numbers_and_outputs(check, extra, fragment):
    check(SIM_P + extra, fragment)


@pytest.mark.parametrize("extra, fragment", [
    (["--energy-weight", "nan", "--objective", "makespan+energy"], "--energy-weight"),
    (["--energy-weight", "inf", "--objective", "makespan+energy"], "--energy-weight"),
    (["--energy-weight", "-1", "--objective", "makespan+energy"], "--energy-weight"),
    (["--energy-weight", "1", "--objective", "makespan"], "makespan+energy"),
    (["--time-limit", "0"], "--time-limit"), (["--time-limit", "nan"], "--time-limit"),
    (["--batch-size", "0"], "--batch-size"), (["--batch-size", str(2 ** 40)], "--batch-size"),
    (["--solver", "gurobi"], "--solver"), (["--objective", "energy"], "--objective"),
    (["--representations", "fp32,fp64"], "fp64"),
])
def test_shard_numbers(check, extra, fragment):
    check(SHARD + extra, fragment)


@pytest.mark.parametrize("output, fragment", [
    (UNWRITABLE.replace(".json", ".npz"), "cannot write"), ("y" * 300 + ".npz", "too long"),
    ("nodir/x.npz", "nodir"), ("t.npz", "already exists"), ("new.txt", ".npz"),
])
def test_shard_and_gen_outputs(check, output, fragment):
    check(GEN[:-1] + [output], fragment)


@pytest.mark.parametrize("extra, fragment", [
    (["--seed", "-1"], "--seed"), (["--batches", "0"], "--batches"), (["--batches", str(10 ** 12)], "--batches"),
    (["--batch-size", str(10 ** 9)], "--batch-size"), (["--alpha", "nan"], "--alpha"), (["--alpha", "inf"], "--alpha"),
    (["--alpha", "-1"], "--alpha"), (["--generator", "pareto"], "--generator"),
])
def test_trace_gen_numbers(check, extra, fragment):
    check(GEN + extra, fragment)


@pytest.mark.parametrize("args, fragment", [
    (["u20.data"], "2^53"), (["u_neg.data"], "id >= 0"), (["u_short.data"], "fields"),
    (["empty.txt"], "empty file"), (["missing.data"], "no such"), (["folder"], "folder"),
    (["u.data", "--batch-size", "0"], "--batch-size"), (["u.data", "--batch-size", str(10 ** 9)], "--batch-size"),
    (["u.data", "--batch-size", "1000"], "fewer than one batch"),
])
def test_trace_import(check, args, fragment):
    check(["trace", "import", *args, "--format", "movielens", "-o", "imp.npz"], fragment)


@pytest.mark.parametrize("args, fragment", [
    (["loc.npz"], "loc.npz"), (["empty.txt"], "empty.txt"), (["missing.txt"], "no such"),
    (["empty.txt", "--seed", "-1"], "--seed"), (["empty.txt", "--generator", "lru"], "--generator"),
])
def test_trace_fit(check, args, fragment):
    check(["trace", "fit", *args, "-o", "fit.npz"], fragment)


@pytest.mark.parametrize("extra, fragment", [
    (["--cache-rows", "-1"], "--cache-rows"), (["--cache-rows", "1e30"], "--cache-rows"),
    (["--cache-rows", str(10 ** 30)], "--cache-rows"), (["--row-bytes", "nan"], "--row-bytes"),
    (["--row-bytes", "0"], "--row-bytes"), (["--row-bytes", "inf"], "--row-bytes"),
])
def test_replay_numbers(check, extra, fragment):
    args = ["replay", "t.npz", "--policy", "lru", "--cache-rows", "10"] + extra
    check(args, fragment)


def test_replay_cache_beyond_the_kernel(check):
    check(["replay", "t.npz", "--policy", "lru", "--cache-rows", str(2 ** 31)], "--cache-rows")


@pytest.mark.parametrize("args, fragment", [
    (GEN[:4] + ["--batches", "1000000", "--batch-size", "65536", "-o", "huge.npz"], "--batches"),
    (SIM_P + ["--queries", "100000000"], "--queries"),
])
def test_sizes_beyond_memory_are_refused_before_allocating(check, monkeypatch, args, fragment):
    import embsim.limits
    monkeypatch.setattr(embsim.limits, "memory_B", lambda: 2 ** 30)      # a 1 GiB machine
    check(args, fragment, "GiB")


def test_replay_policy(check):
    check(REPLAY[:-1] + ["mru"], "--policy")


@pytest.mark.parametrize("extra, fragment", [
    (["--workers", "0"], "--workers"), (["--workers", str(10 ** 6)], "--workers"), (["-n", "0"], "-n"),
    (["--seed", "-1"], "--seed"), (["--sampler", "sobol"], "--sampler"), (["--evaluator", "nope"], "module:function"),
    (["--evaluator", "embsim.nope:f"], "cannot import"), (["--report", UNWRITABLE.replace(".json", ".html")],
                                                          "cannot write"),
    (["--export", "x.parquet"], "x.parquet"), (["--report", "m.yaml"], "input"),
])
def test_explore_options(check, extra, fragment):
    check(EXPLORE + extra, fragment)


@pytest.mark.parametrize("args, fragment", [
    (["-o", UNWRITABLE.replace(".json", ".yaml")], "cannot write"), (["-o", "m.yaml"], "already exists"),
    (["-o", "z" * 300 + ".yaml"], "too long"), (["-o", "nodir/h.yaml"], "nodir"),
    (["-o", "h.yaml", "--seed", "-1"], "--seed"),
])
def test_calibrate_refuses_before_measuring(check, args, fragment):
    check(["calibrate", *args], fragment)


@pytest.mark.parametrize("args, fragment", [
    (["-o", "m.yaml"], "m.yaml"), (["-o", "/proc/embsim-demo"], "cannot write"), (["-o", "nodir/demo"], "nodir"),
])
def test_demo_refuses_before_running(check, args, fragment):
    check(["demo", *args], fragment)


@pytest.mark.parametrize("args, fragment", [
    (["--only", "nosuch", "-o", "new_out"], "nosuch"), (["--only", "screc_vs_cpuu", "-o", "new_out"], "screc_vs_cpu"),
    (["-o", "existing_out"], "--force"), (["-o", "m.yaml"], "m.yaml"), (["-o", "nodir/out"], "nodir"),
    (["--quick"], "-o"),
])
def test_reproduce_refuses_before_running(check, work, args, fragment):
    (work / "existing_out").mkdir(exist_ok=True)
    check(["reproduce", *args], fragment)


@pytest.mark.parametrize("args, fragment", [
    (["nosuchcommand"], "nosuchcommand"), (["hw", "list", "extra"], "extra"), (["simulate"], "--model"),
    (["trace", "stats"], "T.npz"), (["replay", "t.npz", "--cache-rows", "x", "--policy", "lru"], "--cache-rows"),
    (["simulate", "--modle", "m.yaml"], "--model"),
])
def test_usage_errors(check, args, fragment):
    check(args, fragment)
