"""Run every validation comparison and print its table (model, measured, ratio, source).

    PYTHONPATH=. python -m validation.run_all
    python validation/run_all.py

Each script can also run alone (``python -m validation.<name>``).  Nothing is
asserted here: the tables are for reading; tests/test_validation.py checks
only what physics requires (see validation/README.md).
"""
if __package__ in (None, ""):
    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702

from validation import (fbgemm_tbe_forward, smartssd_p2p_bandwidth, smartssd_random_read_iops,
                        torchrec_planner_bandwidth)

SCRIPTS = (smartssd_p2p_bandwidth, smartssd_random_read_iops, fbgemm_tbe_forward, torchrec_planner_bandwidth)


def all_rows():
    """Every comparison row of every script (for tests and notebooks)."""
    return [row for mod in SCRIPTS for row in mod.compare()[0]]


def main():
    print("\n".join(mod.report() for mod in SCRIPTS), end="")


if __name__ == "__main__":
    main()
