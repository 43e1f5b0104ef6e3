"""Writing outputs safely: whole files or nothing, and never over a user's file.

Every output goes to a temporary file beside its target and is renamed into
place only when complete, so a crash or a bad input never leaves a
half-written file.  An existing target is refused unless ``force=True``: a
user's work is never overwritten by surprise.

An output is never one of the command's inputs, ``--force`` or not: every
reader calls ``note_input(path)`` and ``check_output`` refuses a target that
resolves to (or is a hard link of) a noted input or one of the ``inputs`` it
is given.  ``inputs_of_command()`` scopes the noted inputs to one command
(the CLI opens one per invocation).
"""
import contextlib
import contextvars
import errno
import json
import os
import tempfile
from pathlib import Path

from .errors import InputError

_NOTED_INPUTS = contextvars.ContextVar("embsim_noted_inputs", default=None)
# errno values that mean "this place cannot be written", an environment problem the user fixes
UNWRITABLE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG,
                     errno.ENOTDIR, errno.ENOENT, errno.EISDIR, errno.ELOOP}


@contextlib.contextmanager
def inputs_of_command():
    """Collect the inputs read inside this block, so that no output of the block replaces one."""
    token = _NOTED_INPUTS.set([])
    try:
        yield
    finally:
        _NOTED_INPUTS.reset(token)


def note_input(path):
    """Record that the current command reads ``path`` (outputs may then not name it)."""
    noted = _NOTED_INPUTS.get()
    if noted is not None and path is not None:
        noted.append(Path(path))


def same_file(a, b):
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output(path, force=False, inputs=(), folder=False):
    """Raise InputError if ``path`` cannot be written: an input of the command (always, even
    with ``force``), exists without ``force``, no folder, a folder, a name the system refuses.

    ``inputs``: paths (or preset names, which are skipped) this command reads.  ``folder``: the
    output is a folder (an existing one is replaced with ``force``), not a file.
    """
    path = Path(path)
    for inp in [*(i for i in inputs if i is not None), *(_NOTED_INPUTS.get() or [])]:
        if same_file(path, inp):
            raise InputError(f"{path}: is also an input of this command ({inp}); an output never replaces "
                             f"an input, even with --force: choose another output name")
    try:
        exists, is_dir = path.exists(), path.is_dir()
        parent_ok = path.parent.is_dir()
    except OSError as e:
        raise InputError(f"{path}: cannot be written ({e.strerror})") from None
    _check_name_length(path)
    if is_dir and not folder:
        raise InputError(f"{path}: is a folder, expected a file name")
    if exists and not force:
        raise InputError(f"{path}: already exists; choose another name or pass --force to replace it")
    if not parent_ok:
        raise InputError(f"{path}: folder {path.parent} does not exist")
    _probe_folder(path)


def _probe_folder(path):
    """Create and remove a temporary file beside ``path``: the one test of writability that holds for
    every user (root too), read-only mounts and full disks."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".embsim-probe-", dir=path.parent)
    except OSError as e:
        raise InputError(f"{path}: cannot write in folder {path.parent} ({e.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _check_name_length(path):
    """The temporary file's name (``.NAME.XXXXXXXX.partSUFFIX``) must fit the folder's name limit too."""
    try:
        limit = os.pathconf(path.parent if path.parent.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    need = len(path.name.encode()) + 15 + len(path.suffix.encode())
    if need > limit:
        raise InputError(f"{path}: file name too long ({len(path.name.encode())} bytes; with the temporary "
                         f"file's prefix and suffix it needs {need}, this folder allows {limit})")


@contextlib.contextmanager
def atomic_output(path, force=False, mode="wb"):
    """Open a temporary file beside ``path``; rename it to ``path`` on success.

    With ``mode=None`` yields the temporary *path* instead of an open file, for
    writers that want a file name (numpy.savez, sqlite, plotly).
    """
    path = Path(path)
    check_output(path, force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    except OSError as e:
        raise InputError(f"{path}: cannot write in folder {path.parent} ({e.strerror})") from None
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
    note_input(path)
    try:
        with open(path) as f:
            d = json.load(f, object_pairs_hook=_unique_keys)
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a {what} file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    except _DuplicateKey as e:
        raise InputError(f"{path}: duplicate key {e.args[0]!r} (a JSON object names each key once)") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a {what}") from None
    if not isinstance(d, dict):
        raise InputError(f"{path}: expected a JSON object (a {what})")
    return d


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise _DuplicateKey(k)
        d[k] = v
    return d
