"""Writing outputs safely: whole files or nothing, and never over a user's file.

Every output goes to a temporary file beside its target and is renamed into
place only when complete, so a crash or a bad input never leaves a
half-written file.  An existing target is refused unless ``force=True``: a
user's work is never overwritten by surprise.
"""
import contextlib
import json
import os
import tempfile
from pathlib import Path

from .errors import InputError


def check_output(path, force=False):
    """Raise InputError if ``path`` cannot be written (exists without force, no folder)."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; choose another name or pass --force to replace it")
    if not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file name")


@contextlib.contextmanager
def atomic_output(path, force=False, mode="wb"):
    """Open a temporary file beside ``path``; rename it to ``path`` on success.

    With ``mode=None`` yields the temporary *path* instead of an open file, for
    writers that want a file name (numpy.savez, sqlite, plotly).
    """
    path = Path(path)
    check_output(path, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; outputs get the usual permissions
    try:
        if mode is None:
            yield Path(tmp)
        else:
            with open(tmp, mode) as f:
                yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text, force=False):
    """Write ``text`` to ``path`` atomically."""
    with atomic_output(path, force, mode="w") as f:
        f.write(text)


def read_json_object(path, what):
    """The JSON object in ``path``; InputError naming the file if it is missing, not JSON, or not an object.

    ``what`` names the expected content in messages ("plan", "result").
    """
    try:
        with open(path) as f:
            d = json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a {what} file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise InputError(f"{path}: expected a JSON object (a {what})")
    return d
