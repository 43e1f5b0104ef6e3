import pytest
from pydantic import Field

from embsim import config
from embsim.errors import InputError


class Inner(config.Schema):
    bandwidth: config.Q.bandwidth
    capacity: config.Q.bytes = Field(gt=0)


class Outer(config.Schema):
    name: str
    parts: list[Inner]
    peak: config.sourced("bandwidth")


GOOD = {"name": "x", "parts": [{"bandwidth": "1 GB/s", "capacity": "1 GiB"}],
        "peak": {"value": "2 GB/s", "source": "datasheet"}}


def test_valid_config_parses_units():
    cfg = config.validate(Outer, GOOD, "x.yaml")
    assert cfg.parts[0].bandwidth == 1e9 and cfg.parts[0].capacity == 2**30
    assert cfg.peak.value == 2e9 and cfg.peak.source == "datasheet"


@pytest.mark.parametrize("patch,fragment", [
    ({"parts": [{"bandwith": "1 GB/s", "capacity": 1}]}, "x.yaml: parts[0].bandwith: unknown key 'bandwith'; did you mean 'bandwidth'?"),
    ({"parts": [{"bandwidth": "1 GiB", "capacity": 1}]}, "parts[0].bandwidth: '1 GiB' is not a bandwidth"),
    ({"parts": [{"bandwidth": "1 GB/s", "capacity": "-4 GiB"}]}, "parts[0].capacity"),
    ({"peak": {"value": "2 GB/s"}}, "peak: every number needs a non-empty 'source'"),
    ({"name": 3}, "name"),
    ({"nmae": "x"}, "unknown key 'nmae'; did you mean 'name'?"),
])
def test_schema_errors_are_one_line_and_name_the_field(patch, fragment):
    with pytest.raises(InputError) as e:
        config.validate(Outer, {**GOOD, **patch}, "x.yaml")
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_overrides_checked_and_sourced(tmp_path):
    data = {"a": {"b": {"value": 1, "source": "s"}}, "l": [1, 2]}
    out = config.apply_overrides(data, {"a.b": 5, "l.1": 7})
    assert out["a"]["b"] == {"value": 5, "source": "override: a.b=5"} and out["l"] == [1, 7]
    assert data["a"]["b"]["value"] == 1  # the original is untouched
    with pytest.raises(InputError, match="a.bb: unknown key 'bb'; did you mean 'b'"):
        config.apply_overrides(data, {"a.bb": 1})


@pytest.mark.parametrize("text,fragment", [("", "empty file"), ("- a\n- b\n", "expected a YAML mapping"), ("a: [1,\n", "not valid YAML")])
def test_load_yaml_errors(tmp_path, text, fragment):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=fragment):
        config.load_yaml(p)


def test_a_parsed_file_is_reused_but_never_shared_or_stale(tmp_path):
    """load_yaml keeps what it parsed (a sweep loads the same presets hundreds of times), but a caller's
    edit never reaches the next caller, and a file that changed is read again."""
    import os
    from embsim.config import load_yaml
    f = tmp_path / "s.yaml"
    f.write_text("a: {b: 1}\n")
    first = load_yaml(f)
    first["a"]["b"] = 99
    assert load_yaml(f) == {"a": {"b": 1}}
    f.write_text("a: {b: 22}\n")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))   # a later write, whatever the clock
    assert load_yaml(f) == {"a": {"b": 22}}
    f.write_text("a: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_yaml(f)
