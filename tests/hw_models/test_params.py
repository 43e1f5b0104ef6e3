"""Sourced parameters: range checks, unit kinds, description rows, line counting."""
import pytest
from hypothesis import given, settings, strategies as st

from embsim.config import Schema, validate
from embsim.errors import InputError
from embsim.hw_models.params import describe_params, expected_lines, field_kind, param


class Part(Schema):
    bandwidth: param("bandwidth")
    share: param("count", hi=1.0)
    reserved: param("bytes", lo_inclusive=True)
    count: param("count", integer=True)


class Top(Schema):
    cores: param("count", integer=True)
    part: Part


def S(v):
    return {"value": v, "source": "test"}


GOOD = {"cores": S(4), "part": {"bandwidth": S("2 GB/s"), "share": S(0.5), "reserved": S("0 B"), "count": S(3)}}


def test_describe_rows_carry_part_kind_and_source():
    t = validate(Top, GOOD, "t.yaml")
    assert describe_params(t) == [("system", "cores", 4.0, "count", "test"),
                                  ("part", "bandwidth", 2e9, "bandwidth", "test"),
                                  ("part", "share", 0.5, "count", "test"),
                                  ("part", "reserved", 0.0, "bytes", "test"),
                                  ("part", "count", 3.0, "count", "test")]
    assert field_kind(Part, "bandwidth") == "bandwidth"


@pytest.mark.parametrize("field, value, fragment", [
    ("bandwidth", "0 GB/s", "part.bandwidth: must be > 0, got 0"),
    ("share", 1.2, "part.share: must be <= 1, got 1.2"),
    ("reserved", "-1 GB", "part.reserved: must be >= 0"),
    ("count", 2.5, "part.count: must be a whole number, got 2.5"),
])
def test_range_checks_are_one_line_errors(field, value, fragment):
    bad = {**GOOD, "part": {**GOOD["part"], field: S(value)}}
    with pytest.raises(InputError) as e:
        validate(Top, bad, "t.yaml")
    assert fragment in str(e.value) and "\n" not in str(e.value)


def brute_force_lines(row_bytes, line_bytes, rows):
    """Mean lines touched by rows 0..rows-1 packed from a line-aligned base."""
    total = 0
    for i in range(rows):
        start, end = i * row_bytes, (i + 1) * row_bytes - 1
        total += end // line_bytes - start // line_bytes + 1
    return total / rows


@settings(max_examples=200, deadline=None)
@given(row_bytes=st.integers(1, 2048), line=st.sampled_from([32, 64, 128]))
def test_expected_lines_equals_brute_force(row_bytes, line):
    # over a whole period (line / gcd rows) the mean is exact
    import math
    period = line // math.gcd(row_bytes, line)
    assert expected_lines(row_bytes, line) == pytest.approx(brute_force_lines(row_bytes, line, period))
    moved = expected_lines(row_bytes, line) * line
    assert row_bytes <= moved < row_bytes + line
