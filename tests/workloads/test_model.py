"""Model presets and the model YAML schema."""
import pytest

from embsim.errors import InputError
from embsim.workloads.model import load_model, preset_names

DCN_ROWS = [40000000, 39060, 17295, 7424, 20265, 3, 7122, 1543, 63, 40000000, 3067956, 405282, 10, 2209,
            11938, 155, 4, 976, 14, 40000000, 40000000, 40000000, 590152, 12973, 108, 36]
DCN_HOT = [3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1]


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_and_names_its_source(name):
    m = load_model(name)
    assert m.n_tables >= 1 and m.source.strip()
    assert all(t.rows > 0 and t.pooling > 0 for t in m.tables)


def test_dcnv2_preset():
    m = load_model("dlrm_dcnv2_criteo1tb")
    assert m.n_tables == 26
    assert [t.rows for t in m.tables] == DCN_ROWS
    assert [t.pooling for t in m.tables] == DCN_HOT
    assert {t.dim for t in m.tables} == {128} and {t.dtype for t in m.tables} == {"fp32"}
    assert round(m.embedding_bytes / 1e9, 1) == 104.5        # sum(rows) x 128 x 4 B
    assert m.dense.interaction == "dcnv2" and m.dense.cross_layers == 3 and m.dense.cross_rank == 512


def test_criteo_kaggle_rows():
    m = load_model("criteo_kaggle")
    assert m.n_tables == 26 and m.total_rows == 33_762_577
    assert {t.pooling for t in m.tables} == {1.0}


def test_dlrm_datasets_like_preset():
    m = load_model("dlrm_datasets_like")
    assert m.n_tables == 856
    assert {t.access.kind for t in m.tables} == {"stackdist"}


def _write(tmp_path, text):
    p = tmp_path / "m.yaml"
    p.write_text(text)
    return p


BASE = """name: x
source: test
tables:
  - {name: a, rows: ROWS, dim: 4, pooling: 2KEY}
dense: {dense_features: 1, bottom_mlp: [1], top_mlp: [1], interaction: cat}
"""


def test_schema_errors(tmp_path):
    with pytest.raises(InputError, match="rows"):
        load_model(_write(tmp_path, BASE.replace("ROWS", "-5").replace("KEY", "")))
    with pytest.raises(InputError, match="did you mean 'rows'"):
        load_model(_write(tmp_path, BASE.replace("ROWS", "5").replace("KEY", ", rowz: 3")))
    with pytest.raises(InputError, match="unknown model 'rm9'"):
        load_model("rm9")
    with pytest.raises(InputError, match="stack_alpha"):
        load_model(_write(tmp_path, BASE.replace("ROWS", "5").replace("KEY", ", access: {stack_alpha: -1}")))
