import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from embsim.errors import InputError
from embsim.explorer.report import SECTIONS, write_report
from embsim.explorer.space import DesignSpace
from embsim.explorer.store import ResultStore
from embsim.explorer.sweep import run_sweep

from explorer_helpers import fake_evaluate, write_space

PLAN = {
    "model": "toy", "system": "toy", "makespan_s": 2e-4, "solver": "cbc", "status": "Optimal",
    "baselines": {"round_robin": {"makespan_s": 3e-4}},
    "tables": [{"table": f"t{i}", "representation": {"kind": "dense", "dtype": "fp32"},
                "shards": [{"device": "d0", "tier": "sram", "rank_lo": 0.0, "rank_hi": 0.01, "access_share": 0.4},
                           {"device": f"d{i % 2}", "tier": "dram", "rank_lo": 0.01, "rank_hi": 1.0,
                            "access_share": 0.6}]} for i in range(4)],
}
SIM = {"throughput": {"queries_per_s": 1000.0, "lookups_per_s": 8e4},
       "latency_s": {"p50": 1e-3, "p95": 2e-3, "p99": 3e-3, "max": 4e-3},
       "energy": {"per_query_J": 0.01}, "latency_sample_s": [1e-3 * (1 + (i % 37) / 10) for i in range(500)]}


@pytest.fixture
def store(tmp_path):
    space = DesignSpace.from_yaml(write_space(tmp_path))
    db = tmp_path / "r.sqlite"
    with ResultStore(db) as st:
        run_sweep(space, st, evaluate=fake_evaluate, workers=1)
    return db


@pytest.fixture
def full_report(tmp_path, store):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    (tmp_path / "sim.json").write_text(json.dumps(SIM))
    out = tmp_path / "report.html"
    write_report([store, tmp_path / "plan.json", tmp_path / "sim.json"], out)
    return out


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    """A report of a real sweep: a reduced examples/spaces/quick.yaml through the real evaluator."""
    import yaml
    quick = Path(__file__).parents[2] / "examples" / "spaces" / "quick.yaml"
    data = yaml.safe_load(quick.read_text())
    data["overrides"]["model.tables.0.rows"] = 20000
    data["simulation"]["queries"] = 1024
    data["knobs"]["n_ssd"]["values"] = [1, 2]
    data["knobs"]["batch"]["values"] = [64, 128]
    space = DesignSpace.from_dict(data, source="quick-small", base_dir=quick.parent)
    d = tmp_path_factory.mktemp("real")
    with ResultStore(d / "q.sqlite") as st:
        assert run_sweep(space, st, workers=1).ok == 4
    return write_report([d / "q.sqlite"], d / "report.html")


def test_real_report_has_a_chart_in_every_chart_section(real_report):
    text = real_report.read_text()
    assert "class='missing'" not in text, re.findall(r"Not available: [^<]*", text)
    ids = plot_ids(text)
    for sid in ("pareto", "designs", "bandwidth", "latency", "plan", "topology"):
        assert f"plot-{sid}-0" in ids
    assert "screc_4x_smartssd" in text and "SmartSSD product brief" in text    # sources from System.describe()


def plot_ids(text):
    return re.findall(r"<div class='plot' id='([^']+)'>", text)


def test_report_has_every_section_and_plotly_once(full_report):
    text = full_report.read_text()
    for sid, _heading in SECTIONS:
        assert f"<section id='{sid}'>" in text
    import plotly.offline
    assert text.count(plotly.offline.get_plotlyjs()) == 1       # plotly.js embedded, once
    assert "<script src" not in text and "<link" not in text   # nothing fetched: opens offline
    assert text.count("</html>") == 1
    ids = plot_ids(text)
    for sid in ("pareto", "designs", "bandwidth", "latency", "plan"):
        assert any(i.startswith(f"plot-{sid}-") for i in ids), sid
    assert "Pareto-optimal designs" in text and "devices" in text
    # the toy system has no family, so topology and sources say why instead of failing
    assert "Not available: no system to draw" in text


def test_missing_data_sections_say_so(tmp_path):
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    out = write_report([tmp_path / "plan.json"], tmp_path / "r.html")
    text = out.read_text()
    assert text.count("class='missing'") >= 5
    assert any(i.startswith("plot-plan-") for i in plot_ids(text))


def test_bad_inputs(tmp_path, store):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(InputError, match="neither a SimResult nor a sharding plan"):
        write_report([tmp_path / "x.json"], tmp_path / "r.html")
    with pytest.raises(InputError, match="no such file"):
        write_report([tmp_path / "none.sqlite"], tmp_path / "r.html")
    (tmp_path / "r.html").write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        write_report([store], tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text() == "mine"
    write_report([store], tmp_path / "r.html", force=True)
    assert "Pareto front" in (tmp_path / "r.html").read_text()


def test_cli_report_and_errors(tmp_path, store, run_cli, assert_error):
    r = run_cli("report", store, "-o", tmp_path / "cli.html")
    assert r.code == 0, r and (tmp_path / "cli.html").is_file()
    assert_error(run_cli("report", tmp_path / "nothing.sqlite", "-o", tmp_path / "x.html"), "no such file")
    assert not (tmp_path / "x.html").exists()
    assert_error(run_cli("report", store, "-o", tmp_path / "cli.html"), "already exists")


@pytest.fixture
def assert_error():
    from conftest import assert_input_error
    return assert_input_error


# ------------------------------------------------------------ real browser ---
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def open_in_chromium(page, tmp_path):
    """Load ``page`` in headless chromium; return (DOM after scripts ran, console error lines)."""
    profile = tmp_path / f"profile-{page.stem}"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
           "--dump-dom", page.as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    assert "</html>" in p.stdout, p.stderr[-2000:]
    console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
    return p.stdout, [l for l in console if "error" in l.lower() or "Uncaught" in l]


def unrendered(dom, ids):
    """Plot divs of ``ids`` without a drawn plotly SVG (or marked failed)."""
    bad = []
    for pid in ids:
        m = re.search(rf'<div class="plot[^"]*" id="{pid}"(.*?)<script', dom, re.S)
        if not m or "main-svg" not in m.group(1) or "data-error" in m.group(0):
            bad.append(pid)
    return bad


needs_chromium = pytest.mark.skipif(_chromium() is None,
                                    reason="no chromium on this machine (.ci/run installs Debian's chromium)")


@needs_chromium
def test_report_renders_in_headless_chromium(real_report, tmp_path):
    """Open a real sweep's report offline in headless chromium: every chart draws an SVG, no console errors."""
    dom, errors = open_in_chromium(real_report, tmp_path)
    assert not errors, errors
    ids = plot_ids(real_report.read_text())
    assert len(ids) >= 6 and not unrendered(dom, ids)


@needs_chromium
def test_the_browser_check_catches_a_broken_chart(full_report, tmp_path):
    text = full_report.read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(text.replace("id='plot-pareto-0-data'>{", "id='plot-pareto-0-data'>{{", 1))
    dom, errors = open_in_chromium(broken, tmp_path)
    assert errors and "plot-pareto-0" in errors[0]
    assert unrendered(dom, plot_ids(text)) == ["plot-pareto-0"]


def test_source_date_epoch_makes_the_page_byte_identical(tmp_path, store, monkeypatch):
    """Same inputs, same page, byte for byte, once the write time is pinned (reproducible-builds)."""
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = write_report([store, tmp_path / "plan.json"], tmp_path / "a.html").read_bytes()
    b = write_report([store, tmp_path / "plan.json"], tmp_path / "b.html").read_bytes()
    assert a == b and b"written 2023-11-14 22:13 UTC" in a
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH: 'yesterday' is not a whole number"):
        write_report([store], tmp_path / "c.html")
    assert not (tmp_path / "c.html").exists()
