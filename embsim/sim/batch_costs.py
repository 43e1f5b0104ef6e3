"""Pricing batches for the engine: each (trace batch, size) once, partial batches by a checked affine rule.

Under Poisson arrivals with a batch timeout most batches leave part full, so a
run of thousands of batches asks for thousands of distinct (trace batch,
size) pairs, and pricing each through the family's ``batch_cost`` (a Python
walk over every table shard) cost more than the simulation itself.

A partial batch of ``n`` queries carries ``n / batch_size`` of its trace
batch's lookups, bytes, hits and MACs (``Simulation.batch_load``), and a
family's service times, bytes and actions are sums of per-row, per-query and
per-batch terms: affine in ``n``.  So ``BatchCosts`` prices each trace batch
exactly at four sizes (1, B/4, B/2, B), fits ``a + b n`` to every number of
the cost through the two largest, and uses that line for every other size
only if the line reproduces the exact costs at the two smaller sizes
(relative error below ``AFFINE_RTOL``) and all four costs have the same
items.  A family with a kink (a ``max``, a capacity cap, a ceiling) inside
the range fails the check, and that trace batch is priced exactly at every
size it is asked for.  Full batches are always priced exactly.
"""
from ..hw_models.system import BatchCost, StageWork

AFFINE_RTOL = 1e-9           # a line is accepted if it meets the exact cost this closely at the check sizes
AFFINE_ATOL = 1e-18          # ... or within this much in absolute terms (seconds, bytes, counts near zero)


def _numbers(cost: BatchCost):
    """(shape, values): the cost's items and keys, and its numbers in that order."""
    shape = (tuple((w.stage, w.resource) for w in cost.work), tuple(cost.bytes), tuple(cost.actions))
    values = [float(w.time_s) for w in cost.work] + [float(v) for v in cost.bytes.values()] + \
        [float(v) for v in cost.actions.values()]
    return shape, values


class _Line:
    """Every number of a batch cost as ``a + b n``."""

    def __init__(self, shape, at_hi, at_lo, n_hi, n_lo):
        self.shape = shape
        self.slope = [(h - lo) / (n_hi - n_lo) for h, lo in zip(at_hi, at_lo)]
        self.offset = [h - s * n_hi for h, s in zip(at_hi, self.slope)]

    def values(self, n):
        return [a + b * n for a, b in zip(self.offset, self.slope)]

    def meets(self, values, n):
        return all(abs(p - v) <= max(AFFINE_ATOL, AFFINE_RTOL * abs(v)) for p, v in zip(self.values(n), values))

    def cost(self, n) -> BatchCost:
        items, byte_keys, action_keys = self.shape
        v = self.values(n)
        i, j = len(items), len(items) + len(byte_keys)
        return BatchCost(work=[StageWork(s, r, max(0.0, t)) for (s, r), t in zip(items, v[:i])],
                         bytes=dict(zip(byte_keys, v[i:j])), actions=dict(zip(action_keys, v[j:])))


class BatchCosts:
    """``costs(k, n)``: the BatchCost of trace batch ``k`` holding ``n`` queries, from ``price(k, n)``."""

    def __init__(self, price, batch_size: int):
        self.price, self.B = price, int(batch_size)
        self.cache: dict = {}
        self.lines: dict = {}        # trace batch -> _Line, or None when the cost is not affine in n
        self.exact_calls = 0

    def _exact(self, k, n):
        key = (k, n)
        cost = self.cache.get(key)
        if cost is None:
            self.exact_calls += 1
            cost = self.cache[key] = self.price(k, n)
        return cost

    def _line(self, k):
        if k in self.lines:
            return self.lines[k]
        sizes = sorted({self.B, max(1, self.B // 2), max(1, self.B // 4), 1}, reverse=True)
        line = None
        if len(sizes) == 4:
            got = [_numbers(self._exact(k, n)) for n in sizes]
            if all(shape == got[0][0] for shape, _ in got):
                line = _Line(got[0][0], got[0][1], got[1][1], sizes[0], sizes[1])
                if not all(line.meets(v, n) for (_, v), n in zip(got[2:], sizes[2:])):
                    line = None
        self.lines[k] = line
        return line

    def __call__(self, k: int, n: int) -> BatchCost:
        key = (k, n)
        cost = self.cache.get(key)
        if cost is not None:
            return cost
        if n == self.B:
            return self._exact(k, n)
        line = self._line(k)
        if line is None:
            return self._exact(k, n)
        cost = self.cache[key] = line.cost(n)
        return cost
