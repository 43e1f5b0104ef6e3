"""The trace's digest (for a result's ``config_hash``), hashed in a thread beside the map and replay."""
import hashlib
import threading
import time

import numpy as np

from .streamed import stream_digest


def trace_digest(trace):
    if not hasattr(trace, "indices"):            # a streamed trace: the same digest, chunk by chunk
        return stream_digest(trace)
    h = hashlib.blake2b(digest_size=16)
    for a in (trace.lengths, trace.indices, trace.table_rows):
        h.update(np.ascontiguousarray(a).view(np.uint8))
    return h.hexdigest()


class TraceDigest:
    """The trace's digest (for ``config_hash``), computed once, in a thread beside the map and replay.

    hashlib releases the GIL on large buffers and the map and replay kernels
    run without it, so on a machine with a free core the 8 bytes per lookup
    are hashed at no cost in wall time.  ``value`` waits for the thread.
    """

    def __init__(self, trace):
        self._trace, self._value, self.cpu_s = trace, None, 0.0
        self._thread = threading.Thread(target=self._compute, name="embsim-trace-digest", daemon=True)
        self._thread.start()

    def _compute(self):
        t = time.thread_time()
        self._value = trace_digest(self._trace)
        self.cpu_s = time.thread_time() - t

    def __getstate__(self):                # a Simulation stays picklable: send the value, not the thread
        return {"_trace": None, "_value": self.value, "cpu_s": self.cpu_s, "_thread": None}

    @property
    def value(self):
        if self._thread is not None:       # None once unpickled: the value came with it
            self._thread.join()
        if self._value is None:            # the thread failed: compute here (and raise here)
            self._compute()
        return self._value
