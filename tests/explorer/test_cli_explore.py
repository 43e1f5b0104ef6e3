
import pytest

from embsim.explorer.store import ResultStore

from explorer_helpers import write_space

FAKE = "explorer_helpers:fake_evaluate"


def test_explore_then_resume_then_report(tmp_path, run_cli):
    space = write_space(tmp_path)
    db = tmp_path / "r.sqlite"
    r = run_cli("explore", space, "--db", db, "--workers", 1, "--evaluator", FAKE,
                "--report", tmp_path / "r.html", "--export", tmp_path / "r.csv")
    assert r.code == 0, r
    assert "16 points: 0 already stored, 16 evaluated (15 ok, 1 infeasible, 0 errors)" in r.err
    assert (tmp_path / "r.html").is_file() and len((tmp_path / "r.csv").read_text().splitlines()) == 17
    r = run_cli("explore", space, "--db", db, "--workers", 1, "--evaluator", FAKE)
    assert r.code == 0 and "16 already stored, 0 evaluated" in r.err
    r = run_cli("explore", space, "--db", db, "--workers", 1, "--evaluator", FAKE, "--sampler", "random", "-n", 5,
                "--seed", 3)
    assert r.code == 0, r
    with ResultStore(db) as st:
        assert len(st) == len(st.dataframe()["key"].unique()) <= 21
    r = run_cli("report", db, "-o", tmp_path / "again.html")
    assert r.code == 0 and "Pareto front" in (tmp_path / "again.html").read_text()


def test_failed_points_exit_1_with_a_warning(tmp_path, run_cli):
    r = run_cli("explore", write_space(tmp_path), "--db", tmp_path / "r.sqlite", "--workers", 1,
                "--evaluator", "explorer_helpers:broken_evaluate")
    assert r.code == 1 and "warning: 8 points failed (re-run to retry them)" in r.err


@pytest.mark.parametrize("content,fragment", [
    ("name: x\nsystem: rm1\nmodel: rm1\n", "knobs: missing required field"),
    ("name: [unclosed\n", "not valid YAML"),
    ("- a list\n", "expected a YAML mapping"),
])
def test_bad_space_files_exit_2_with_one_line(tmp_path, run_cli, content, fragment):
    from conftest import assert_input_error
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    r = run_cli("explore", bad, "--db", tmp_path / "r.sqlite")
    assert_input_error(r, "bad.yaml", fragment)
    assert not (tmp_path / "r.sqlite").exists()


def test_bad_knob_path_and_option_errors(tmp_path, run_cli):
    from conftest import assert_input_error
    space = write_space(tmp_path, knobs={"d": {"path": "system.params.devices.cuont", "values": [1, 2]}})
    assert_input_error(run_cli("explore", space, "--db", tmp_path / "r.sqlite"), "did you mean 'count'?")
    space = write_space(tmp_path)
    assert_input_error(run_cli("explore", space, "--db", tmp_path / "r.sqlite", "--workers", 0), "--workers")
    assert_input_error(run_cli("explore", tmp_path / "none.yaml", "--db", tmp_path / "r.sqlite"), "no such file")
    assert_input_error(run_cli("explore", space, "--db", tmp_path / "r.sqlite", "--evaluator", "nope"),
                       "expected 'module:function'")
    (tmp_path / "r.html").write_text("mine")
    assert_input_error(run_cli("explore", space, "--db", tmp_path / "r.sqlite", "--evaluator", FAKE,
                               "--report", tmp_path / "r.html"), "already exists")
    assert not (tmp_path / "r.sqlite").exists()      # refused before any work
