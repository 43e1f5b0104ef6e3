"""`embsim reproduce --quick --only NAME`: the documented JSON, an offline HTML page, sources of every
varied parameter, drivers that move the ratio as their mechanism implies or are explained."""
import json
import math
import re

import pytest

from embsim.cli import main
from embsim.explorer.experiment import experiment_names, load_experiment
from embsim.explorer.reproduce import to_json


@pytest.fixture(scope="module")
def ascend(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro") / "out"
    assert main(["reproduce", "--quick", "--only", "ascend_realistic", "-o", str(out)]) == 0
    return out, json.loads((out / "reproduce.json").read_text())


def test_json_has_exactly_the_documented_schema(ascend):
    _, doc = ascend
    assert list(doc) == ["experiments"] and len(doc["experiments"]) == 1
    e = doc["experiments"][0]
    assert set(e) == {"name", "published", "measured_ratio", "drivers", "sensitivity"}
    assert e["name"] == "ascend_realistic"
    assert e["published"]["low"] == 1.5 and e["published"]["high"] == 6.5 and "2507.01676" in e["published"]["paper"]
    assert math.isfinite(e["measured_ratio"]) and e["measured_ratio"] > 0
    for d in e["drivers"]:
        assert set(d) == {"mechanism", "ratio_without"} and d["ratio_without"] > 0
    assert {d["mechanism"] for d in e["drivers"]} == {"asymmetric_mapping", "l1_preloading"}
    assert e["sensitivity"]
    for s in e["sensitivity"]:
        assert set(s) == {"parameter", "source", "low", "high", "ratio_low", "ratio_high"}
        assert "assumption" in s["source"].lower()          # found by their sources, nothing else is varied
        assert s["low"] <= s["high"]
    swing = [abs(math.log(s["ratio_high"] / s["ratio_low"])) for s in e["sensitivity"]]
    assert swing == sorted(swing, reverse=True)              # most influential first


def test_html_opens_offline_with_charts(ascend):
    out, _ = ascend
    page = (out / "reproduce.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*['\"]?(https?:)?//", page, re.I)
    assert "Plotly.newPlot" in page and "plotly.js" in page.lower()
    assert "tornado" in page.lower() and "Published" in page


def test_drivers_move_the_ratio_as_implied_or_are_explained(ascend):
    _, doc = ascend
    e = doc["experiments"][0]
    page = (ascend[0] / "reproduce.html").read_text()
    for d in e["drivers"]:
        if d["ratio_without"] >= e["measured_ratio"] * 0.99:   # did not fall: the report must say why
            assert f"without {d['mechanism']} the ratio" in page


def test_shipped_experiments_load_and_name_their_paper():
    names = experiment_names()
    assert names[:4] == ["screc_vs_cpu", "screc_vs_gpu", "ascend_realistic", "ascend_extreme"]
    for n in names:
        exp = load_experiment(n)
        assert exp.published.paper and (exp.published.low or exp.published.high)


def test_to_json_drops_the_details():
    entry = {"name": "x", "published": {}, "measured_ratio": 1.0, "drivers": [], "sensitivity": [], "details": {}}
    assert to_json([entry]) == {"experiments": [{k: v for k, v in entry.items() if k != "details"}]}
