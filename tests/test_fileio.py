import pytest

from embsim.errors import InputError
from embsim.fileio import atomic_output, write_text


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_output(target, mode="w") as f:
            f.write("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_never_overwritten_without_force(tmp_path):
    target = tmp_path / "mine.txt"
    target.write_text("user work")
    with pytest.raises(InputError, match="already exists"):
        write_text(target, "new")
    assert target.read_text() == "user work"
    write_text(target, "new", force=True)
    assert target.read_text() == "new"
