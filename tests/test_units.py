import math

import pytest
from hypothesis import given, strategies as st

from embsim import units
from embsim.units import UnitError, parse


@pytest.mark.parametrize("text,kind,expected", [
    ("19.2 GB/s", "bandwidth", 19.2e9),
    ("897 GiB/s", "bandwidth", 897 * 2**30),
    ("240 Gbit/s", "bandwidth", 30e9),
    ("75 us", "time", 75e-6),
    ("75µs", "time", 75e-6),
    ("2.1 ms", "time", 2.1e-3),
    ("4 GiB", "bytes", 4 * 2**30),
    ("4 GB", "bytes", 4e9),
    ("34.6 Mbit", "bytes", 34.6e6 / 8),
    ("64 B", "bytes", 64),
    ("3.9 pJ/bit", "energy_per_bit", 3.9e-12),
    ("3.9 pJ/bit", "energy_per_byte", 3.9e-12 * 8),
    ("4.5 pJ", "energy", 4.5e-12),
    ("1.2 GHz", "frequency", 1.2e9),
    ("19.5 TFLOP/s", "rate", 19.5e12),
    ("750000 IOPS", "rate", 7.5e5),
    ("25 W", "power", 25.0),
    ("4800 MT/s", "rate", 4.8e9),
    ("1e3", "count", 1000.0),
    (42, "bytes", 42.0),
])
def test_parse_good(text, kind, expected):
    assert parse(text, kind) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text,kind,fragment", [
    ("19.2 GBps", "bandwidth", "unknown unit"),
    ("4 GiB", "bandwidth", "is not a bandwidth"),
    ("fast", "bandwidth", "expected a bandwidth"),
    ("", "time", "expected a time"),
    ("3 parsecs", "time", "unknown unit"),
    ("1 GiHz", "frequency", "unknown unit"),
    (True, "count", "expected a count"),
    ("nan GB", "bytes", "expected"),
    (None, "power", "expected a power"),
])
def test_parse_bad(text, kind, fragment):
    with pytest.raises(UnitError, match=fragment):
        parse(text, kind)


@given(st.floats(min_value=1e-3, max_value=1e15, allow_nan=False), st.sampled_from(["bytes", "bandwidth", "time", "energy", "power"]))
def test_format_then_parse_round_trips(value, kind):
    text = units.format_quantity(value, kind, digits=12)
    assert math.isclose(parse(text, kind), value, rel_tol=1e-9)
