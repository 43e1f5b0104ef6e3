"""Progress bars: shown on a terminal, silent otherwise (pipes, CI, tests)."""
import sys

from tqdm.auto import tqdm


def progress(total=None, desc="", unit="it", enabled=None):
    """A tqdm bar that only draws when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, unit_scale=True, leave=False)
