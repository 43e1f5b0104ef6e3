"""The result store: one SQLite file that a killed sweep resumes from.

Every evaluated point is one row, keyed by the SHA-256 of its full
configuration (``space.config_key``), and committed the moment it finishes
(WAL journal, ``synchronous=FULL``: a commit survives the process being
killed, and a power cut).  A re-run asks ``done_keys()`` and skips those, so
a sweep killed with SIGKILL loses no finished point and stores none twice
(the key is the primary key).

A row's ``status`` is:

- ``ok``: ``metrics`` holds the flat metrics dict;
- ``infeasible``: the design cannot run (an ``InputError``: tables do not fit,
  a value out of range); the message is in ``error``.  Not retried, since the
  same configuration gives the same answer;
- ``error``: the evaluator failed unexpectedly (a bug); the traceback is in
  ``error``.  Retried on the next run, and replaced by its new outcome.

Larger per-point outputs (the sharding plan, the full SimResult, a latency
sample) go to ``artifacts`` and are read only on request
(``artifacts(key)``), so loading a big sweep as a DataFrame stays fast.
"""
import datetime
import functools
import json
import sqlite3
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import InputError
from ..fileio import atomic_output, note_input
from .space import canonical_json

SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS points (
    key         TEXT PRIMARY KEY,
    space       TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    knobs       TEXT NOT NULL,
    config      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'infeasible', 'error')),
    metrics     TEXT,
    error       TEXT,
    elapsed_s   REAL,
    finished_at TEXT NOT NULL,
    version     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    key   TEXT PRIMARY KEY REFERENCES points(key) ON DELETE CASCADE,
    data  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spaces (
    name        TEXT PRIMARY KEY,
    objectives  TEXT NOT NULL,
    knobs       TEXT NOT NULL,
    source      TEXT NOT NULL,
    derived     TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""

@functools.lru_cache(maxsize=256)
def _compiled(expr):
    from .space import Constraint
    return Constraint(expr, None, "derived")


def _derive(expr, row):
    try:
        v = _compiled(expr).value(row)
        return float(v)
    except (KeyError, TypeError, ValueError, ArithmeticError, InputError):
        return float("nan")


# Columns of the DataFrame that are not knobs or metrics.
BOOK_COLUMNS = ["key", "space", "idx", "status", "error", "elapsed_s", "finished_at", "version"]


class ResultStore:
    """A SQLite result store; open with ``ResultStore(path)`` (created if absent)."""

    def __init__(self, path, create=True):
        """``create=False`` opens an existing store read-only: nothing is ever written to it."""
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError(f"{self.path}: no such result store")
        if self.path.exists() and self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, expected a .sqlite file")
        if not self.path.parent.exists():
            raise InputError(f"{self.path}: folder {self.path.parent} does not exist")
        note_input(self.path)
        if not create:
            self._open_read_only()
            return
        if self.path.exists() and self.path.stat().st_size > 0:
            self._check_header()
            self._check_ours()
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.executescript(_DDL)
            row = self.conn.execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise InputError(f"{self.path}: not an embsim result store ({e})") from None
        if row is None:
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise InputError(f"{self.path}: result store schema {row[0]}, this embsim reads {SCHEMA_VERSION}")

    def _check_header(self):
        with open(self.path, "rb") as f:
            head = f.read(16)
        if head != b"SQLite format 3\x00":
            what = "an empty file" if not head else "not an SQLite database"
            raise InputError(f"{self.path}: not an embsim result store ({what}; expected a .sqlite written by "
                             f"'embsim explore')")

    def _check_ours(self):
        """An existing database is resumed only if it is an embsim store: never add tables to another one."""
        ro = ResultStore.__new__(ResultStore)
        ro.path = self.path
        ro._open_read_only()
        ro.close()

    def _open_read_only(self):
        """Read without writing: ``immutable`` when no writer's journal is beside the file (no -shm/-wal
        created), else plain read-only so that points a killed sweep left in its WAL journal are seen."""
        self._check_header()
        wal = Path(str(self.path) + "-wal").exists()
        uri = f"{self.path.resolve().as_uri()}?{'mode=ro' if wal else 'immutable=1'}"
        try:
            self.conn = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            missing = sorted({"points", "artifacts", "spaces", "meta"} - tables)
            if missing:
                raise InputError(f"{self.path}: not an embsim result store (no table '{missing[0]}')")
            row = self.conn.execute("SELECT v FROM meta WHERE k='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise InputError(f"{self.path}: not an embsim result store ({e})") from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise InputError(f"{self.path}: result store schema {row[0] if row else 'missing'}, "
                             f"this embsim reads {SCHEMA_VERSION}")

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing --------------------------------------------------------------
    def register_space(self, space):
        """Remember a space's knobs and objectives (the report uses them).

        A store holds one design space: results of another space (another name) are refused, so
        that two studies never merge into one Pareto front.
        """
        others = sorted(n for n in self.spaces() if n != space.name)
        if others:
            raise InputError(f"{self.path}: holds results of design space '{others[0]}', not '{space.name}' "
                             f"({space.source}); give this space its own --db")
        knobs = [{"name": k.name, "path": k.path} for k in space.knobs]
        self.conn.execute("INSERT OR REPLACE INTO spaces VALUES (?, ?, ?, ?, ?)",
                          (space.name, json.dumps(space.objectives), json.dumps(knobs), space.source,
                           json.dumps(getattr(space, "derived", {}))))

    def add(self, point, status, metrics=None, error=None, elapsed_s=None, artifacts=None, space=""):
        """Commit one finished point at once (replacing an earlier 'error' row of the same key)."""
        if status not in ("ok", "infeasible", "error"):
            raise ValueError(f"status {status!r}")
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        with self.conn:  # one transaction: the point and its artifacts, or neither
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET status=excluded.status, metrics=excluded.metrics, "
                "error=excluded.error, elapsed_s=excluded.elapsed_s, finished_at=excluded.finished_at, "
                "version=excluded.version WHERE points.status = 'error'",
                (point.key, space, point.index, canonical_json(point.values), canonical_json(point.config),
                 status, json.dumps(metrics, allow_nan=True) if metrics is not None else None,
                 error, elapsed_s, now, __version__))
            if artifacts:
                self.conn.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?)",
                                  (point.key, json.dumps(artifacts, allow_nan=True)))

    # -- reading --------------------------------------------------------------
    def done_keys(self):
        """Keys of points that need no re-run (status ok or infeasible)."""
        return {r[0] for r in self.conn.execute("SELECT key FROM points WHERE status != 'error'")}

    def __len__(self):
        return self.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]

    def spaces(self):
        return {n: {"objectives": json.loads(o), "knobs": json.loads(k), "source": s, "derived": json.loads(d)}
                for n, o, k, s, d in self.conn.execute("SELECT name, objectives, knobs, source, derived FROM spaces")}

    def config(self, key):
        row = self.conn.execute("SELECT config FROM points WHERE key=?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return json.loads(row[0])

    def artifacts(self, key):
        """The stored plan / SimResult / latency sample of a point ({} if none)."""
        row = self.conn.execute("SELECT data FROM artifacts WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else {}

    def dataframe(self, space=None):
        """All points as a DataFrame: bookkeeping columns, one column per knob, one per metric.

        Knob columns are the knob names; metric columns the evaluator's keys
        (a metric that shares a knob's name gets a ``metric.`` prefix), then
        the space's ``derived`` metrics, computed now from the row (NaN where
        a name is missing or the expression fails, and on rows not ``ok``).  Rows
        are ordered by space, then the point's sample index, so equal sweeps
        give equal frames whatever order the points finished in.
        """
        q = "SELECT key, space, idx, status, error, elapsed_s, finished_at, version, knobs, metrics FROM points"
        args = ()
        if space is not None:
            q += " WHERE space=?"
            args = (space,)
        rows = self.conn.execute(q + " ORDER BY space, idx, key", args).fetchall()
        derived = {n: s["derived"] for n, s in self.spaces().items()}
        records, knob_names = [], []
        for r in rows:
            rec = dict(zip(BOOK_COLUMNS, r[:8]))
            knobs = json.loads(r[8])
            for k in knobs:
                if k not in knob_names:
                    knob_names.append(k)
            rec.update(knobs)
            for m, v in (json.loads(r[9]) if r[9] else {}).items():
                rec[f"metric.{m}" if m in knobs or m in BOOK_COLUMNS else m] = v
            for name, expr in derived.get(rec["space"], {}).items():
                rec[name] = _derive(expr, rec) if rec["status"] == "ok" else float("nan")
            records.append(rec)
        df = pd.DataFrame.from_records(records)
        if df.empty:
            return pd.DataFrame(columns=BOOK_COLUMNS)
        df.attrs["knobs"] = knob_names
        return df.reset_index(drop=True)

    # -- export ---------------------------------------------------------------
    def export(self, path, force=False):
        """Write the DataFrame to ``.csv`` or ``.json`` (records), chosen by the suffix."""
        path = Path(path)
        df = self.dataframe()
        if path.suffix == ".csv":
            with atomic_output(path, force, mode="w") as f:
                df.to_csv(f, index=False)
        elif path.suffix == ".json":
            with atomic_output(path, force, mode="w") as f:
                f.write(df.to_json(orient="records", indent=1))
                f.write("\n")
        else:
            raise InputError(f"{path}: unknown export format '{path.suffix}' (expected .csv or .json)")
        return path
