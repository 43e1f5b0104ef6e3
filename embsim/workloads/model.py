"""Model specs: the embedding tables and dense part of a recommendation model.

A model is a YAML file (or a preset name from ``workloads/presets/``):

    name: rm2
    source: "DeepRecSys, Gupta et al., ISCA 2020, Table 1"
    defaults: {dim: 64, dtype: fp32, pooling: 120, access: {kind: zipf, alpha: 1.05}}
    tables:
      - {name: emb, rows: 500000, count: 32}     # 32 tables emb_0 .. emb_31
    dense: {dense_features: 256, bottom_mlp: [128, 64], top_mlp: [128, 64, 1], interaction: dot}

``defaults`` fill fields a table leaves out; ``count`` repeats a table.
"""
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Optional

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from .. import config
from ..errors import InputError
from ..limits import MAX_DIM, MAX_POOLING, MAX_TABLE_COUNT, MAX_TABLE_ROWS, MAX_TOTAL_ROWS
from .sequence import SequenceSchema, SequenceSpec, sequence_from_schema

PRESET_DIR = Path(__file__).parent / "presets"

DTYPE_BYTES = {"fp32": 4.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}


# ----------------------------------------------------------------- schema ---
class AccessSchema(config.Schema):
    """How rows of a table are drawn when a trace is generated."""

    kind: Literal["uniform", "zipf", "stackdist", "drift"] = "zipf"
    alpha: float = Field(1.05, ge=0, description="zipf exponent over row ranks")
    stack_alpha: Optional[float] = Field(None, gt=0, description="stackdist: power-law exponent of LRU stack distances")
    reuse_p: Optional[float] = Field(None, ge=0, le=1, description="stackdist: share of accesses that re-use a row")
    drift_every: Optional[PositiveInt] = Field(None, description="drift: batches between hot-set moves")
    drift_fraction: Optional[float] = Field(None, ge=0, le=1, description="drift: share of the hot set replaced per move")


class TableDefaults(config.Schema):
    dim: Optional[int] = Field(None, gt=0, le=MAX_DIM)
    dtype: Literal["fp32", "fp16", "int8", "int4"] = "fp32"
    pooling: Optional[float] = Field(None, gt=0, le=MAX_POOLING)
    pooling_dist: Literal["fixed", "poisson", "lognormal"] = "fixed"
    pooling_sigma: float = Field(0.5, gt=0)
    access: AccessSchema = AccessSchema()


class TableSchema(config.Schema):
    name: str = Field(min_length=1)
    rows: int = Field(gt=0, le=MAX_TABLE_ROWS, strict=False)
    count: int = Field(1, gt=0, le=MAX_TABLE_COUNT)
    dim: Optional[int] = Field(None, gt=0, le=MAX_DIM)
    dtype: Optional[Literal["fp32", "fp16", "int8", "int4"]] = None
    pooling: Optional[float] = Field(None, gt=0, le=MAX_POOLING)
    pooling_dist: Optional[Literal["fixed", "poisson", "lognormal"]] = None
    pooling_sigma: Optional[float] = Field(None, gt=0)
    access: Optional[AccessSchema] = None


class DenseSchema(config.Schema):
    dense_features: PositiveInt
    bottom_mlp: list[PositiveInt]
    top_mlp: list[PositiveInt]
    interaction: Literal["dot", "dcnv2", "cat"] = "dot"
    cross_layers: int = Field(0, ge=0)
    cross_rank: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _cross(self):
        if self.interaction == "dcnv2" and (self.cross_layers == 0 or self.cross_rank == 0):
            raise ValueError("interaction 'dcnv2' needs cross_layers > 0 and cross_rank > 0")
        return self


class ModelSchema(config.Schema):
    name: str
    source: str = Field(min_length=1)
    notes: str = ""
    defaults: TableDefaults = TableDefaults()
    tables: list[TableSchema] = Field(min_length=1)
    dense: DenseSchema
    sequence: Optional[SequenceSchema] = None


# ---------------------------------------------------------------- objects ---
@dataclass(frozen=True)
class AccessSpec:
    kind: str = "zipf"
    alpha: float = 1.05
    stack_alpha: Optional[float] = None
    reuse_p: Optional[float] = None
    drift_every: Optional[int] = None
    drift_fraction: Optional[float] = None


@dataclass(frozen=True)
class TableSpec:
    """One embedding table: ``rows`` x ``dim`` values of ``dtype``."""

    name: str
    rows: int
    dim: int
    dtype: str = "fp32"
    pooling: float = 1.0          # mean lookups per sample
    pooling_dist: str = "fixed"   # fixed | poisson | lognormal | sequence (the model's history lengths)
    pooling_sigma: float = 0.5    # lognormal shape
    access: AccessSpec = field(default_factory=AccessSpec)

    @property
    def row_bytes(self):
        """Bytes of one row in the table's own dtype."""
        return self.dim * DTYPE_BYTES[self.dtype]

    @property
    def bytes(self):
        return self.rows * self.row_bytes


@dataclass(frozen=True)
class DenseSpec:
    dense_features: int
    bottom_mlp: tuple
    top_mlp: tuple
    interaction: str = "dot"
    cross_layers: int = 0
    cross_rank: int = 0


@dataclass(frozen=True)
class ModelSpec:
    """A recommendation model: its embedding tables and its dense part."""

    name: str
    tables: tuple
    dense: DenseSpec
    source: str = ""
    notes: str = ""
    sequence: Optional[SequenceSpec] = None   # generative (HSTU) models: history tables, lengths, layers

    @property
    def n_tables(self):
        return len(self.tables)

    @property
    def table_rows(self):
        return np.array([t.rows for t in self.tables], dtype=np.int64)

    @property
    def row_offsets(self):
        """Global id of each table's row 0; a row's global id is offset + index."""
        return np.concatenate([[0], np.cumsum(self.table_rows)[:-1]]).astype(np.int64)

    @property
    def total_rows(self):
        return int(self.table_rows.sum())

    @property
    def embedding_bytes(self):
        return float(sum(t.bytes for t in self.tables))

    @property
    def lookups_per_sample(self):
        return float(sum(t.pooling for t in self.tables))

    def dense_macs_per_sample(self):
        """Multiply-accumulates of the dense part (bottom MLP, interaction, top MLP) per sample."""
        d = self.dense
        macs, width = 0, d.dense_features
        for w in d.bottom_mlp:
            macs += width * w
            width = w
        dims = {t.dim for t in self.tables}
        dim = max(dims) if dims else width
        n_vec = len(self.tables) + 1
        if d.interaction == "dot":
            macs += n_vec * (n_vec - 1) // 2 * dim
            width = width + n_vec * (n_vec - 1) // 2
        elif d.interaction == "dcnv2":
            x0 = width + sum(t.dim for t in self.tables)
            macs += d.cross_layers * 2 * x0 * d.cross_rank
            width = x0
        else:
            width = width + sum(t.dim for t in self.tables)
        for w in d.top_mlp:
            macs += width * w
            width = w
        return macs

    def with_tables(self, tables):
        return ModelSpec(self.name, tuple(tables), self.dense, self.source, self.notes, self.sequence)

    def sequence_table_indices(self):
        """Indices of the tables read once per history position (empty for a DLRM)."""
        if self.sequence is None:
            return []
        names = [t.name for t in self.tables]
        return [names.index(n) for n in self.sequence.tables]


def _table_from_schema(t, defaults, index, sequence_names=()):
    pick = lambda name: getattr(t, name) if getattr(t, name) is not None else getattr(defaults, name)
    dim, pooling = pick("dim"), pick("pooling")
    if pooling is None and t.name in sequence_names:
        pooling = 1.0          # replaced by the mean history length (_sequence_tables)
    if dim is None:
        raise ValueError(f"tables[{index}].dim: missing (give it on the table or in defaults)")
    if pooling is None:
        raise ValueError(f"tables[{index}].pooling: missing (give it on the table or in defaults)")
    acc = pick("access")
    spec = dict(rows=t.rows, dim=dim, dtype=pick("dtype"), pooling=float(pooling),
                pooling_dist=pick("pooling_dist"), pooling_sigma=pick("pooling_sigma"),
                access=AccessSpec(**acc.model_dump()))
    if t.count == 1:
        return [TableSpec(name=t.name, **spec)]
    return [TableSpec(name=f"{t.name}_{i}", **spec) for i in range(t.count)]


def model_from_dict(data, source="<dict>"):
    """Build a ModelSpec from a plain mapping (the YAML structure)."""
    s = config.validate(ModelSchema, data, source)
    tables = []
    seq_names = set(s.sequence.tables) if s.sequence is not None else set()
    if s.sequence is not None:
        _check_sequence_names(s, source)
    for i, t in enumerate(s.tables):
        try:
            tables += _table_from_schema(t, s.defaults, i, seq_names)
        except ValueError as e:
            raise InputError(f"{source}: {e}") from None
    names = [t.name for t in tables]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InputError(f"{source}: tables: duplicate table name '{sorted(dup)[0]}'")
    if len(tables) > MAX_TABLE_COUNT:
        raise InputError(f"{source}: tables: {len(tables)} tables after 'count'; expected at most {MAX_TABLE_COUNT}")
    total = sum(t.rows for t in tables)
    if total > MAX_TOTAL_ROWS:
        raise InputError(f"{source}: tables: {total} rows in all; expected at most 2^62 (global row ids are int64)")
    d = s.dense
    if d.interaction == "dot":
        for t in tables:
            if t.name not in seq_names and t.dim != d.bottom_mlp[-1]:   # sequence tables feed the HSTU layers
                raise InputError(f"{source}: dense.interaction: 'dot' takes dot products of the bottom MLP's "
                                 f"output ({d.bottom_mlp[-1]} wide) with every embedding, but table '{t.name}' "
                                 f"has dim {t.dim}; expected equal widths (or interaction 'cat')")
    dense = DenseSpec(d.dense_features, tuple(d.bottom_mlp), tuple(d.top_mlp), d.interaction,
                      d.cross_layers, d.cross_rank)
    seq = None
    if s.sequence is not None:
        seq = sequence_from_schema(s.sequence)
        tables = _sequence_tables(tables, seq, source)
    return ModelSpec(s.name, tuple(tables), dense, s.source, s.notes, seq)


def _check_sequence_names(s, source):
    names = [t.name if t.count == 1 else f"{t.name}_{i}" for t in s.tables for i in range(t.count)]
    listed = s.sequence.tables
    for j, n in enumerate(listed):
        if n not in names:
            hint = config._suggest(n, names)
            raise InputError(f"{source}: sequence.tables[{j}]: '{n}' is not a table of the model{hint}")
        if listed.count(n) > 1:
            raise InputError(f"{source}: sequence.tables: '{n}' listed twice")


def _sequence_tables(tables, seq, source):
    """Tables with the sequence ones set to one lookup per history position (pooling = mean length)."""
    out = []
    for t in tables:
        if t.name in seq.tables:
            if t.dim != seq.hstu.d_model:
                raise InputError(f"{source}: table '{t.name}': dim {t.dim}, but sequence.hstu.d_model is "
                                 f"{seq.hstu.d_model}; a sequence table's rows feed the HSTU layers, expected equal")
            t = replace(t, pooling=seq.length.mean, pooling_dist="sequence")
        out.append(t)
    return out


def preset_names():
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def resolve(name_or_path, preset_dir, what):
    """Path of a preset name or a YAML file; InputError naming the choices if neither."""
    p = Path(str(name_or_path))
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise InputError(f"{p}: no such {what} file")
        return p
    cand = Path(preset_dir) / f"{name_or_path}.yaml"
    if cand.is_file():
        return cand
    names = sorted(q.stem for q in Path(preset_dir).glob("*.yaml"))
    hint = config._suggest(name_or_path, names)
    raise InputError(f"unknown {what} '{name_or_path}'{hint} (presets: {', '.join(names)}; or give a YAML path)")


def load_model(name_or_path, overrides=None):
    """Load a model preset by name, or a model YAML file, with optional dotted overrides."""
    path = resolve(name_or_path, PRESET_DIR, "model")
    data = config.apply_overrides(config.load_yaml(path), overrides, source=str(path))
    return model_from_dict(data, source=str(path))
