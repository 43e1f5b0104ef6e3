"""The explorer: design spaces, sweeps, a SQLite result store, Pareto fronts and HTML reports.

    from embsim.explorer import DesignSpace, ResultStore, run_sweep, pareto_front, write_report

Names are imported lazily, so that the CLI (``embsim.cli``) starts
without pandas, scipy or dask.
"""
import importlib

_EXPORTS = {
    "DesignSpace": "space", "Point": "space", "load_space": "space", "config_key": "space",
    "ResultStore": "store",
    "run_sweep": "sweep", "SweepSummary": "sweep",
    "pareto_front": "pareto", "pareto_mask": "pareto",
    "write_report": "report",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
