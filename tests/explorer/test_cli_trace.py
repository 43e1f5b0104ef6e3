"""``embsim trace``: import and stats on files the tests write, gen through the group, and bad inputs."""
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embsim.workloads.trace import Trace, load_trace

from conftest import assert_input_error

UDATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t51\t2\t880606923\n"
INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
MODEL_YAML = """name: tiny
source: test
defaults: {dim: 4, pooling: 2, access: {kind: zipf, alpha: 1.0}}
tables:
  - {name: a, rows: 50}
  - {name: b, rows: 7, access: {kind: uniform}}
dense: {dense_features: 2, bottom_mlp: [2], top_mlp: [1], interaction: cat}
"""


def small_trace(path, **change):
    lengths = np.array([[[1, 2], [0, 1]], [[2, 0], [1, 1]]], dtype=np.int32)
    arrays = dict(lengths=lengths, indices=np.array([0, 1, 2, 3, 4, 0, 5, 6]), table_rows=np.array([5, 7]))
    arrays.update(change)
    np.savez(path, **arrays)
    return path


def write_pt(path, indices, offsets, lengths):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save((torch.as_tensor(indices), torch.as_tensor(offsets), torch.as_tensor(lengths)), buf)
    path.write_bytes(buf.getvalue())
    return path


# ------------------------------------------------------------------ good paths ---
def test_import_movielens_then_stats(run_cli, tmp_path):
    (tmp_path / "u.data").write_text(UDATA)
    r = run_cli("trace", "import", tmp_path / "u.data", "--format", "movielens", "--batch-size", "2",
                "-o", tmp_path / "t.npz")
    assert r.code == 0, r
    assert "wrote" in r.err and r.out == ""
    tr = load_trace(tmp_path / "t.npz")
    assert tr.n_batches == 2 and tr.table_names == ["users", "items"]
    r = run_cli("trace", "stats", tmp_path / "t.npz", "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["overall"]["accesses"] == 8 and d["tables"][0]["name"] == "users"
    assert d["tables"][0]["rows"] == 3 and d["tables"][1]["unique_rows"] == 4
    assert d["trace_meta"]["format"] == "u.data"
    r = run_cli("trace", "stats", tmp_path / "t.npz")
    assert r.code == 0 and "users" in r.out and "ALL" in r.out and "top 1%" in r.out
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.out)


def test_import_default_batch_size_and_force(run_cli, tmp_path):
    rows = "".join(f"{i % 7}\t{i % 13}\t3\t{1000 + i}\n" for i in range(600))
    (tmp_path / "u.data").write_text(rows)
    out = tmp_path / "t.npz"
    out.write_bytes(b"old")
    r = run_cli("trace", "import", tmp_path / "u.data", "--format", "movielens", "-o", out, "--force")
    assert r.code == 0, r
    tr = load_trace(out)
    assert tr.batch_size == 256 and tr.n_batches == 2 and tr.meta["dropped_interactions"] == 88


def test_import_recbole(run_cli, tmp_path):
    (tmp_path / "x.inter").write_text(INTER_HEADER + "a\tb\t1\t3\nc\tb\t1\t2\n")
    r = run_cli("trace", "import", tmp_path / "x.inter", "--format", "movielens", "--batch-size", "1",
                "-o", tmp_path / "t.npz")
    assert r.code == 0, r
    assert load_trace(tmp_path / "t.npz").indices.tolist() == [0, 0, 1, 0]


@pytest.mark.parametrize("out", ["t.npz", "t.trace"])
def test_import_dlrm_datasets_then_stats(run_cli, tmp_path, out):
    """Into a .npz (read whole) or a .trace (streamed from the mapped file): the same batch-major trace."""
    lengths = np.array([[1, 2, 0, 1], [1, 1, 1, 1]])
    offsets = np.concatenate([[0], np.cumsum(lengths.ravel())])
    indices = np.array([3, 1, 1, 2, 9, 8, 7, 9])
    p = write_pt(tmp_path / "d.pt", indices, offsets, lengths)
    r = run_cli("trace", "import", p, "--format", "dlrm-datasets", "--batch-size", "2", "-o", tmp_path / out)
    assert r.code == 0, r
    tr = load_trace(tmp_path / out)
    # batch 0: table 0 samples 0,1 -> [3, 1, 1]; table 1 -> [9, 8]; batch 1: table 0 -> [2]; table 1 -> [7, 9]
    assert tr.indices.tolist() == [3, 1, 1, 9, 8, 2, 7, 9]
    assert tr.table_rows.tolist() == [4, 10]
    r = run_cli("trace", "stats", tmp_path / out, "--json")
    assert json.loads(r.out)["tables"][1]["unique_rows"] == 3


def test_gen_through_the_group_then_stats(run_cli, tmp_path):
    (tmp_path / "m.yaml").write_text(MODEL_YAML)
    r = run_cli("trace", "gen", "--model", tmp_path / "m.yaml", "--batches", "3", "--batch-size", "8",
                "-o", tmp_path / "g.npz")
    assert r.code == 0, r
    r = run_cli("trace", "stats", tmp_path / "g.npz", "--json")
    d = json.loads(r.out)
    assert [t["name"] for t in d["tables"]] == ["a", "b"] and d["batches"] == 3


def test_group_help_lists_all_subcommands(run_cli):
    r = run_cli("trace", "--help")
    assert r.code == 0
    for name in ("gen", "import", "stats", "fit"):
        assert f"  {name} " in r.out


def test_stats_does_not_import_generators_or_torch(tmp_path):
    """The group is lazy: 'trace stats' loads neither the generator kernels nor torch."""
    p = small_trace(tmp_path / "t.npz")
    code = ("import sys; from embsim.cli import main; rc = main(['trace', 'stats', sys.argv[1], '--json']);"
            "print('LOADED', [m for m in ('torch', 'embsim.workloads.generators', 'embsim.cli.trace_gen')"
            " if m in sys.modules]); sys.exit(rc)")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    res = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "LOADED []" in res.stdout


# ------------------------------------------------------------------- bad inputs ---
def case_files(tmp_path):
    """name -> (setup(tmp_path) -> args, fragments); the output (if any) is tmp_path/'out.npz'."""
    out = str(tmp_path / "out.npz")

    def imp(content, fmt="movielens", name="in.data", extra=(), binary=False):
        def setup():
            if fmt == "dlrm-datasets":  # without torch these inputs give the missing-torch error instead
                pytest.importorskip("torch")
            p = tmp_path / name
            p.write_bytes(content) if binary else p.write_text(content)
            return ["trace", "import", p, "--format", fmt, "--batch-size", "1", *extra, "-o", out]
        return setup

    def stats_of(**change):
        def setup():
            return ["trace", "stats", small_trace(tmp_path / "in.npz", **change)]
        return setup

    def raw_stats(content):
        def setup():
            (tmp_path / "in.npz").write_bytes(content)
            return ["trace", "stats", tmp_path / "in.npz"]
        return setup

    def truncated():
        small_trace(tmp_path / "full.npz")
        data = (tmp_path / "full.npz").read_bytes()
        (tmp_path / "in.npz").write_bytes(data[:len(data) // 2])
        return ["trace", "stats", tmp_path / "in.npz"]

    def existing_output():
        (tmp_path / "u.data").write_text(UDATA)
        (tmp_path / "out.npz").write_bytes(b"precious")
        return ["trace", "import", tmp_path / "u.data", "--format", "movielens", "--batch-size", "1", "-o", out]

    def dlrm_bad_offsets():
        write_pt(tmp_path / "d.pt", np.array([1, 2]), np.array([0, 1]), np.array([[1, 1]]))
        return ["trace", "import", tmp_path / "d.pt", "--format", "dlrm-datasets", "-o", out]

    def gen(model, yaml_text=None, batch_size="4"):
        def setup():
            m = model
            if yaml_text is not None:
                (tmp_path / "m.yaml").write_text(yaml_text)
                m = tmp_path / "m.yaml"
            return ["trace", "gen", "--model", m, "--batches", "2", "--batch-size", batch_size, "-o", out]
        return setup

    return {
        "empty u.data": (imp(""), ["empty file"]),
        "wrong header": (imp(INTER_HEADER.replace("item_id", "itm")), ["line 1", "no 'item_id' field"]),
        "non-numeric field": (imp("1\t2\t3\t4\n5\tsix\t7\t8\n"), ["line 2", "item: 'six'"]),
        "wrong column count": (imp("1\t2\t3\t4\t5\n"), ["line 1", "5 tab separated fields", "expected 4"]),
        "extra column later": (imp("1\t2\t3\t4\n1\t2\t3\t4\t5\n"), ["line 2", "5 tab separated fields"]),
        "negative id": (imp("1\t2\t3\t4\n-1\t2\t3\t5\n"), ["line 2", "user: '-1'", ">= 0"]),
        "nonexistent input": (lambda: ["trace", "import", tmp_path / "nope.data", "--format", "movielens",
                                       "-o", out], ["nope.data", "no such file"]),
        "unknown format": (imp(UDATA, fmt="csv"), ["--format", "'csv'"]),
        "batch size 0": (imp(UDATA, extra=("--batch-size", "0")), ["'--batch-size': 0", "positive"]),
        "batch size negative": (imp(UDATA, extra=("--batch-size", "-3")), ["'--batch-size': -3"]),
        "batch size larger than file": (imp(UDATA, extra=("--batch-size", "9")), ["fewer than one batch of 9"]),
        "output exists": (existing_output, ["out.npz", "already exists", "--force"]),
        "output not npz": (lambda: ["trace", "import", tmp_path / "u.data", "--format", "movielens",
                                    "-o", tmp_path / "out.txt"], ["out.txt", "end in .npz"]),
        "dlrm bad offsets": (dlrm_bad_offsets, ["offsets: 2 entries", "1 x 2 + 1 = 3"]),
        "dlrm not a torch file": (imp(b"not torch", fmt="dlrm-datasets", name="d.pt", binary=True),
                                  ["not a readable torch .pt file of tensors", "unpickling refused"]),
        "dlrm plain pickle": (imp(pickle.dumps({"indices": [1, 2]}, protocol=4), fmt="dlrm-datasets", name="d.pt",
                                  binary=True), ["not a readable torch .pt file of tensors"]),
        "stats not an npz": (raw_stats(b"hello"), ["not a zip archive"]),
        "stats empty file": (raw_stats(b""), ["an empty file"]),
        "stats truncated npz": (truncated, ["not a readable .npz trace"]),
        "stats mismatched lengths": (stats_of(indices=np.arange(5)), ["lengths add up to 8", "indices holds 5"]),
        "stats out-of-range index": (stats_of(indices=np.array([0, 1, 2, 3, 4, 0, 5, 7])),
                                     ["indices[7] = 7", "table 1", "0..6"]),
        "stats negative rows": (stats_of(table_rows=np.array([5, -7])), ["table_rows[1]", "-7", "positive"]),
        "stats zero rows": (stats_of(table_rows=np.array([0, 7])), ["table_rows[0]", "= 0"]),
        "stats float indices": (stats_of(indices=np.zeros(8)), ["indices: dtype float64"]),
        "stats nonexistent": (lambda: ["trace", "stats", tmp_path / "none.npz"], ["none.npz", "no such trace file"]),
        "gen unknown preset": (gen("rm99"), ["unknown model 'rm99'"]),
        "gen unknown yaml key": (gen(None, MODEL_YAML.replace("rows: 50", "rowz: 50")), ["rowz", "unknown key"]),
        "gen negative rows": (gen(None, MODEL_YAML.replace("rows: 50", "rows: -50")), ["rows"]),
        "gen batch size 0": (gen("rm1", batch_size="0"), ["'--batch-size' / '-b': 0"]),
        "gen missing model file": (gen(str(tmp_path / "missing.yaml")), ["missing.yaml"]),
    }


CASES = sorted(case_files(Path("/nonexistent")).keys())


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_and_no_output(run_cli, tmp_path, case):
    setup, fragments = case_files(tmp_path)[case]
    args = setup()
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    r = run_cli(*args)
    assert_input_error(r, *fragments)
    assert r.out == ""
    after = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before, "a bad input must leave no file behind and change none"


def test_there_are_at_least_15_bad_inputs():
    assert len(CASES) >= 15


def test_missing_torch_is_an_input_error(run_cli, tmp_path, monkeypatch):
    (tmp_path / "d.pt").write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "torch", None)
    r = run_cli("trace", "import", tmp_path / "d.pt", "--format", "dlrm-datasets", "-o", tmp_path / "out.npz")
    assert_input_error(r, "needs PyTorch", "pip install torch", "embsim[torch]")
    assert not (tmp_path / "out.npz").exists()


def test_a_crash_while_saving_leaves_no_output(run_cli, tmp_path, monkeypatch):
    """Not an input error (exit 1, a bug), but still no half-written file."""
    (tmp_path / "u.data").write_text(UDATA)

    def boom(self, path, force=False):
        raise RuntimeError("simulated crash")
    monkeypatch.setattr(Trace, "save", boom)
    with pytest.raises(RuntimeError):
        run_cli("trace", "import", tmp_path / "u.data", "--format", "movielens", "--batch-size", "1",
                "-o", tmp_path / "out.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.data"]
