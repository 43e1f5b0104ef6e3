"""embsim trace sketch: the report per table and overall, JSON, and one-line errors."""
import json

import pytest

from conftest import assert_input_error


@pytest.fixture
def trace_file(run_cli, tmp_path):
    p = tmp_path / "t.npz"
    r = run_cli("trace", "gen", "--model", "rm1", "--batches", 4, "--batch-size", 256, "--generator", "zipf",
                "--seed", 1, "-o", p)
    assert r.code == 0, r
    return p


def test_sketch_report(run_cli, trace_file):
    r = run_cli("trace", "sketch", trace_file, "--memory-rows", 4000, "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["overall"]["sketch_slots"] <= 4000 and 0 <= d["overall"]["recall"] <= 1
    assert len(d["tables"]) == 8 and all(v["hot_set_size"] == v["top_k"] for v in d["tables"].values())
    r = run_cli("trace", "sketch", trace_file, "--memory-rows", 4000, "--threshold", 3, "--decay", 0.9)
    assert r.code == 0, r
    assert "overall" in r.out and "recall" in r.out


@pytest.mark.parametrize("args, frag", [(["--memory-rows", 2], "--memory-rows"),
                                        (["--memory-rows", 100, "--decay", 0], "--decay"),
                                        (["--memory-rows", 100, "--threshold", -1], "--threshold"),
                                        (["--memory-rows", 100, "--top", 1.5], "--top")])
def test_bad_sketch_options(run_cli, trace_file, args, frag):
    assert_input_error(run_cli("trace", "sketch", trace_file, *args), frag)


def test_missing_trace(run_cli, tmp_path):
    assert_input_error(run_cli("trace", "sketch", tmp_path / "no.npz", "--memory-rows", 100), "no.npz")
