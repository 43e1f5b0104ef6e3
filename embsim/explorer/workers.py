"""Pool workers that end when their parent ends, whatever kills it.

A sweep's worker processes (and the solver processes they start, such as
CBC) must not outlive ``embsim explore``: orphans would keep solving, write
nothing anyone reads, and hold the parent's stderr open so that a pipe
reading it never ends.  Each worker therefore

- leads its own process group (``setpgid``), so the worker and every process
  it starts can be ended together, and Ctrl-C at a terminal reaches only the
  parent (which then ends the workers itself);
- asks Linux to send it SIGTERM when its parent dies (``PR_SET_PDEATHSIG``),
  which covers SIGKILL of the parent; elsewhere a watchdog thread notices
  the parent is gone (``getppid`` changes) within ``WATCHDOG_S``;
- on SIGTERM kills its whole group (itself and its solver children).

``end_pool(pool)`` is the parent's side: SIGKILL to every worker's group.
"""
import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1
WATCHDOG_S = 0.5


def _end_group(*_):
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        os._exit(143)


def _set_parent_death_signal():
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid):
    import time
    while True:
        if os.getppid() != parent_pid:
            _end_group()
        time.sleep(WATCHDOG_S)


def worker_init(parent_pid):
    """ProcessPoolExecutor initializer: tie the worker's life (and its children's) to ``parent_pid``."""
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # the parent handles Ctrl-C and ends the workers
    signal.signal(signal.SIGTERM, _end_group)
    _set_parent_death_signal()
    if os.getppid() != parent_pid:                     # the parent died before the signal was armed
        _end_group()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="embsim-parent-watch").start()


def end_pool(pool):
    """Kill every worker of ``pool`` and the processes they started (their process groups)."""
    for proc in list(getattr(pool, "_processes", {}).values()):
        for kill in (os.killpg, os.kill):              # its whole group, else the worker alone
            try:
                kill(proc.pid, signal.SIGKILL)
                break
            except (ProcessLookupError, PermissionError, OSError):
                continue
    pool.shutdown(wait=True, cancel_futures=True)
