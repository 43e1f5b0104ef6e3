"""YAML configs: load, apply checked overrides, validate against a schema.

Schemas are pydantic models that forbid unknown keys.  A validation failure
becomes one InputError line naming the file, the dotted field, the value and
what was expected; an unknown key gets a did-you-mean suggestion:

    error: rm9.yaml: tables[2].rowz: unknown key 'rowz'; did you mean 'rows'?

Quantities with units are declared with the ``Q`` types below (``Q.bytes``,
``Q.bandwidth`` ...), which accept a number in SI units or a unit string.
``Sourced`` wraps a quantity that must carry its source, as every number of a
hardware preset does:

    hbm_bandwidth: {value: "2039 GB/s", source: "[S] NVIDIA A100 datasheet"}
"""
import copy
import difflib
import typing
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from . import units
from .errors import InputError
from .fileio import note_input


class Schema(BaseModel):
    """Base of every config schema: unknown keys are errors, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _quantity(kind):
    def check(value):
        try:
            return units.parse(value, kind)
        except units.UnitError as e:
            raise ValueError(str(e)) from None
    return Annotated[float, BeforeValidator(check)]


class Q:
    """Annotated float types that parse a unit string of one kind."""

    bytes = _quantity("bytes")
    bandwidth = _quantity("bandwidth")
    time = _quantity("time")
    frequency = _quantity("frequency")
    rate = _quantity("rate")
    energy = _quantity("energy")
    energy_per_bit = _quantity("energy_per_bit")
    energy_per_byte = _quantity("energy_per_byte")
    power = _quantity("power")
    count = _quantity("count")


class Sourced(Schema):
    """A number with the source it came from (datasheet, paper, or 'assumption: why')."""

    value: float
    source: str

    def __float__(self):
        return self.value


def sourced(kind):
    """Schema type for ``{value: '<quantity>', source: '...'}`` with ``value`` of ``kind``."""
    def check(raw):
        if not isinstance(raw, dict):
            raise ValueError(f"expected {{value: ..., source: ...}} with a source for the number, got {raw!r}")
        if "source" not in raw or not str(raw.get("source", "")).strip():
            raise ValueError("every number needs a non-empty 'source' (datasheet, paper, or 'assumption: why')")
        unknown = set(raw) - {"value", "source"}
        if unknown:
            raise ValueError(f"unknown key {sorted(unknown)[0]!r}; expected only 'value' and 'source'")
        if "value" not in raw:
            raise ValueError("missing 'value'")
        try:
            v = units.parse(raw["value"], kind)
        except units.UnitError as e:
            raise ValueError(str(e)) from None
        return Sourced(value=v, source=str(raw["source"]).strip())
    return Annotated[Sourced, BeforeValidator(check)]


# Limits of what a config file may hold: deeper nesting, or more values once aliases are
# expanded, is refused (a "billion laughs" file would otherwise take minutes to validate).
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 1_000_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and nesting deeper than MAX_YAML_DEPTH."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:          # an unhashable key: the base class explains it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(data, path):
    """Values in ``data`` with every alias expanded; InputError past MAX_YAML_NODES or on a cycle."""
    sizes, active = {}, set()

    def size(x):
        if not isinstance(x, (dict, list)):
            return 1
        if id(x) in sizes:
            return sizes[id(x)]
        if id(x) in active:
            raise InputError(f"{path}: an alias refers to a mapping or list that contains it (a cycle)")
        active.add(id(x))
        items = list(x.keys()) + list(x.values()) if isinstance(x, dict) else x
        n = 1 + sum(size(v) for v in items)
        active.discard(id(x))
        sizes[id(x)] = n
        if n > MAX_YAML_NODES:
            raise InputError(f"{path}: more than {MAX_YAML_NODES:,} values once aliases are expanded "
                             f"(an alias bomb?); expected a config file")
        return n
    return size(data)


def load_yaml(path):
    """Read a YAML mapping from ``path``; errors name the file.

    Duplicate keys are errors (a second ``rows:`` never silently wins), and
    so are nesting deeper than MAX_YAML_DEPTH and aliases that expand past
    MAX_YAML_NODES values.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    note_input(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _PARSED:
        _PARSED[key] = _parse_yaml(path)
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
    return copy.deepcopy(_PARSED[key])      # a caller may edit its copy


# Parsed files by (path, mtime, size): a sweep or `embsim reproduce` loads the same system and part presets
# hundreds of times, and parsing them was a third of a quick reproduce run.  A changed file has a new key.
_PARSED: dict = {}
_PARSED_MAX = 512


def _parse_yaml(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise InputError(f"{path}:{line}: not valid YAML ({getattr(e, 'problem', e)})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected YAML)") from None
    if data is None:
        raise InputError(f"{path}: empty file (expected a YAML mapping)")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a YAML mapping at the top level, got {type(data).__name__}")
    _expanded_size(data, path)
    return data


def apply_overrides(data, overrides, source="overrides"):
    """Return a copy of ``data`` with dotted-path ``overrides`` applied.

    Every path must already exist (an unknown key is an error, with a
    suggestion), so a typo never silently adds a parameter.  List elements are
    addressed by index: ``tables.3.rows``.
    """
    data = copy.deepcopy(data)
    for path, value in (overrides or {}).items():
        node = data
        keys = str(path).split(".")
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(node, list):
                try:
                    idx = int(key)
                    node[idx]
                except (ValueError, IndexError):
                    raise InputError(f"{source}: {path}: '{key}' is not an index of a list of {len(node)}") from None
                if last:
                    node[idx] = value
                else:
                    node = node[idx]
                continue
            if not isinstance(node, dict) or key not in node:
                choices = list(node) if isinstance(node, dict) else []
                raise InputError(f"{source}: {path}: unknown key '{key}'{_suggest(key, choices)}")
            if last:
                if isinstance(node[key], dict) and "source" in node[key] and not isinstance(value, dict):
                    node[key] = {"value": value, "source": f"override: {path}={value}"}
                else:
                    node[key] = value
            else:
                node = node[key]
    return data


def _suggest(word, choices):
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _fields_at(model, loc):
    """Field names of the schema reached by following ``loc`` from ``model``."""
    tp = model
    for key in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(key)
            if field is None:
                return []
            tp = field.annotation
        else:
            args = typing.get_args(tp)
            tp = args[-1] if args else Any
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp):
    """Strip Annotated/Optional wrappers to reach a model class where there is one."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
            models = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = models[0] if len(models) == 1 else tp
            if len(models) != 1:
                return tp
        else:
            return tp


def _loc_text(loc):
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(schema, data, source):
    """Validate ``data`` against ``schema``; raise one InputError line on failure."""
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        # An unknown key usually explains a "missing" one beside it (a typo): report it first.
        errors = sorted(e.errors(), key=lambda x: x["type"] != "extra_forbidden")
        err = errors[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        field = _loc_text(loc)
        if err["type"] == "extra_forbidden":
            key = loc[-1]
            hint = _suggest(key, _fields_at(schema, loc[:-1]))
            raise InputError(f"{source}: {field}: unknown key '{key}'{hint}") from None
        if err["type"] == "missing":
            raise InputError(f"{source}: {field}: missing required field") from None
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        value = err.get("input")
        shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
        raise InputError(f"{source}: {field}: {msg} (got {shown})") from None


def load(schema, path, overrides=None):
    """Load YAML at ``path``, apply dotted ``overrides``, validate against ``schema``."""
    data = apply_overrides(load_yaml(path), overrides, source=str(path))
    return validate(schema, data, str(path))
