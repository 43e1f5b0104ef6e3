"""embsim calibrate: the fitted CPU part predicts gathers it was not fitted on.

One quick calibration (about 20-30 s on 2 shared cores) feeds every test here;
it also times the held-out shapes, interleaved with the fit shapes (after one
warm-up pass, median of the repeats).  The held-out shapes differ from every
fit shape: other row sizes (including rows that straddle lines) in fp32,
fp16 and int8, pooling 1, 10 and 100, smaller DRAM-resident tables and
LLC-resident ones, all sized from the host's LLC.  The model's single-core time must be within 25% of the
measured median on every one.  Without the conversion term fp16 rows miss by
about 2x; without the bag and add terms single-row bags are over-predicted
(a bag of one row is a copy); ``test_every_term_is_needed`` checks both on
the same measurements.
"""
import dataclasses

import pytest
import yaml

from embsim.hw_models import calibrate as cal
from embsim.hw_models.loader import system_from_dict

# Timing on a shared core would measure the neighbour: `make test` runs these alone.
pytestmark = pytest.mark.serial

MiB = 2**20
HELD_OUT = cal.held_out_shapes(cal.host_info().llc_bytes)
TOLERANCE = 0.25


@pytest.fixture(scope="module")
def calibration():
    return cal.calibrate(quick=True, seed=1, holdout=HELD_OUT)


def _errors(calibration, fit=None):
    """(shape, measured s, predicted s, relative error) per held-out shape, by the preset of ``fit``."""
    preset = calibration.preset if fit is None else cal.build_preset(
        calibration.info, fit, calibration.stream_Bps, calibration.latency_s, calibration.llc_copy_Bps,
        calibration.matmul_flops)
    system = system_from_dict(preset, source="calibrated")
    out = []
    for shape, m in zip(HELD_OUT, calibration.holdout_measured_s):
        level = cal.level_of(shape, calibration.info.llc_bytes)
        p = system.gather_time_s(shape.row_bytes, 1.0, level, cores=1, dtype=shape.dtype, pooling=shape.pooling)
        out.append((shape, m, p, (p - m) / m))
    return out


def _report(rows):
    return "\n".join(f"{s.dtype} row {s.row_bytes:4d} B pooling {s.pooling:3d} table "
                     f"{'full' if s.table_bytes is None else f'{s.table_bytes / MiB:.0f} MiB'}: measured "
                     f"{m * 1e9:7.1f} ns predicted {p * 1e9:7.1f} ns ({e:+.1%})" for s, m, p, e in rows)


def test_held_out_shapes_are_not_fit_shapes():
    fit = set(cal.fit_shapes())
    assert not fit & set(HELD_OUT)
    for s in HELD_OUT:          # no held-out row size is a fit row size of its dtype
        assert s.row_bytes not in {f.row_bytes for f in fit if f.dtype == s.dtype}
    assert {1, 10, 100} <= {s.pooling for s in HELD_OUT}
    assert {"fp32", "fp16", "int8"} <= {s.dtype for s in HELD_OUT}


@pytest.mark.parametrize("llc_MiB", [8, 32, 105, 260, 504])
def test_held_out_tables_sit_in_the_level_they_check(llc_MiB):
    llc = llc_MiB * MiB
    bench_table = max(cal.Settings.pick(quick=True).table_bytes, 8 * llc)   # calibrate()'s gather table
    sized = [s for s in cal.held_out_shapes(llc) if s.table_bytes is not None]
    assert {cal.level_of(s, llc) for s in sized} == {"llc", "dram"}
    for s in sized:
        if cal.level_of(s, llc) == "dram":
            assert 2 * llc <= s.table_bytes < bench_table       # beyond the LLC, smaller than the full table
        else:
            assert 4 * MiB <= s.table_bytes <= llc // 2


def test_calibrated_model_predicts_held_out_gathers_within_25_percent(calibration):
    # Held-out shapes are timed in the calibration's own round-robin session (so
    # load from neighbours on this shared machine drifts over fit and check alike)
    # and never enter the fit.
    assert calibration.holdout_shapes == HELD_OUT
    rows = _errors(calibration)
    print(_report(rows))
    assert max(abs(e) for *_, e in rows) <= TOLERANCE, _report(rows)


def test_every_term_is_needed(calibration):
    """The same measurements, predicted with the conversion term removed, are predicted worse; the
    reduce's per-added-row and per-bag terms are found in the measurements (fitted above zero).

    Without the conversion term some held-out shape misses by more than the 25% tolerance
    (fp16 by about 4x).  The bag and add terms are the reduce's own cost (the sum alone, no
    memory in it), so the non-negative fit leaves them at zero unless the measurements need
    them.  An earlier version required the single-row fp32 copies to be predicted 10 points
    worse without the terms (+30% vs +5% on the hosts of the time); on a 2-vCPU Xeon with a
    260 MiB LLC (2026-12-06) the copies were predicted within 10-18% either way (without the
    terms -1.6% and +10.4%, with them -18.4% and -7.5%, in two runs): there a copy costs
    about what a row of a larger bag does, so that check tested the host, not the model.
    """
    f = calibration.fit
    rows = _errors(calibration, dataclasses.replace(f, convert_s={}))
    assert max(abs(e) for *_, e in rows) > TOLERANCE, f"without the conversion term:\n{_report(rows)}"
    assert f.add_overhead_s > 0 and f.bag_overhead_s > 0, f


def test_preset_is_valid_and_sourced(calibration, tmp_path):
    path = tmp_path / "host.yaml"
    path.write_text(yaml.safe_dump(calibration.preset, sort_keys=False))
    from embsim.hw_models.loader import load_system
    system = load_system(str(path))
    rows = system.describe()
    assert rows and all(src.strip() for *_, src in rows)
    measured = [r for r in rows if "measured on this host by embsim calibrate" in r[4]]
    fitted = {r[1] for r in measured}
    assert {"row_overhead", "lines_in_flight", "sum_bandwidth", "add_overhead", "bag_overhead", "convert.fp16", "convert.int8",
            "latency", "peak_bandwidth"} <= fitted
    others = [r for r in rows if r not in measured]
    assert all(r[4].startswith("assumption") for r in others), others


def test_fit_is_physical(calibration):
    f = calibration.fit
    assert f.gather_overhead_s >= 0 and f.line_time_s > 0 and f.sum_bandwidth_Bps > 0
    assert f.add_overhead_s >= 0 and f.bag_overhead_s >= 0 and all(v >= 0 for v in f.convert_s.values())
    assert f.convert_s["fp16"] > f.convert_s["int8"]     # numpy widens fp16 in software, int8 by a cast
    assert f.llc_line_time_s <= f.line_time_s          # an LLC hit never slower than DRAM
    # single-core random-access bandwidth stays under the measured streaming bandwidth
    system = system_from_dict(calibration.preset)
    assert system.random_bandwidth_Bps("dram", cores=1) <= calibration.stream_Bps * 1.0000001
