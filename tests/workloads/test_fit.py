"""locality_stats.txt parsing and the generator fit."""
from pathlib import Path

import numpy as np
import pytest

from embsim.errors import InputError
from embsim.workloads.fit import fit_locality, read_locality_stats, tvd, write_locality_stats
from embsim.workloads.generators import generate_trace
from embsim.workloads.locality import BIN_LABELS, reuse_histogram
from embsim.workloads.model import model_from_dict

DATA = Path(__file__).parents[2] / "embsim" / "workloads" / "data" / "dlrm_datasets_2021_locality_stats.txt"


@pytest.fixture(scope="module")
def fit2021():
    return fit_locality(DATA, seed=0)


def test_fit_reaches_the_goal_on_the_2021_file(fit2021):
    r = fit2021
    print(f"\nfit of stackdist to the 2021 file: {r.params}; TVD {r.tvd:.4f} on {r.trace.n_indices:,} lookups "
          f"(search TVD {r.search_tvd:.4f}, {r.evaluations} trial traces)")
    assert r.blocks == 17
    assert r.trace.n_indices >= 10_000_000
    # the reported TVD is the sample trace's own histogram against the file
    _, acc = reuse_histogram(r.trace)
    assert tvd(acc, r.target) == pytest.approx(r.tvd)
    assert r.tvd <= 0.10


def _block(name, rows, acc):
    out = [name, "Locality stats after processing 1 batches of size 8", "Avg # of indices: 100",
           "Histogram of col sizes:"]
    out += [f"{lab}: {v:.3f}" for lab, v in zip(BIN_LABELS, rows)]
    out += ["[0, 1, 2]", "['0.000']", "Ratio of index distribution at different column sizes:"]
    out += [f"{lab}: {v:.3f}" for lab, v in zip(BIN_LABELS, acc)]
    return out


def test_multi_block_files_are_averaged(tmp_path):
    a, b = np.zeros(17), np.zeros(17)
    a[0], b[0], b[3] = 1.0, 0.5, 0.5
    p = tmp_path / "two.txt"
    p.write_text("\n".join(_block("x.pt", a, a) + [""] + _block("y.pt", b, b)) + "\n")
    s = read_locality_stats(p)
    assert [blk.name for blk in s.blocks] == ["x.pt", "y.pt"]
    assert s.access_share[0] == pytest.approx(0.75) and s.access_share[3] == pytest.approx(0.25)


def test_the_packaged_file_parses():
    s = read_locality_stats(DATA)
    assert len(s.blocks) == 17 and s.blocks[0].n_indices == 887017990
    assert s.access_share.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("text,fragment", [
    ("", "empty file"),
    ("hello\nworld\n", "no 'Ratio of index distribution"),
    (None, "share 'abc'"),
    ("BADHEADER", "expected bin '(1, 2]"),
    ("TRUNC", "file ends inside"),
])
def test_bad_files(tmp_path, text, fragment):
    good = _block("x.pt", np.eye(17)[0], np.eye(17)[0])
    if text is None:
        good[4] = "(0, 1]: abc"
        text = "\n".join(good)
    elif text == "BADHEADER":
        good[5] = "(1, 3]: 0.000"
        text = "\n".join(good)
    elif text == "TRUNC":
        text = "\n".join(good[:-3])
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        read_locality_stats(p)
    msg = str(e.value)
    assert fragment in msg and str(p) in msg and "\n" not in msg


def test_fit_recovers_a_histogram_of_known_parameters(tmp_path):
    """A locality file written from a trace of known stackdist parameters is fitted closely."""
    known = {"kind": "stackdist", "reuse_p": 0.3, "stack_alpha": 1.2, "alpha": 1.1}
    m = model_from_dict({"name": "k", "source": "test",
                         "tables": [{"name": "t", "rows": 60_000, "dim": 8, "pooling": 256, "access": known}],
                         "dense": {"dense_features": 1, "bottom_mlp": [1], "top_mlp": [1], "interaction": "cat"}})
    tr = generate_trace(m, 1, 4096, seed=99)
    p = tmp_path / "known.txt"
    write_locality_stats(p, tr, name="known.pt")
    r = fit_locality(p, seed=1, sample=False, max_evaluations=30)
    print(f"\nknown {known} rows 60000 -> fitted {r.params}, TVD {r.tvd:.4f}")
    assert r.tvd <= 0.06
