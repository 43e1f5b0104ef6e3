"""How much work a query brings: the number of candidate items it asks to rank.

A recommendation query ranks a set of candidate items, and that set's size
varies from query to query.  DeepRecSys (Gupta et al., ISCA 2020) reports
production query sizes as heavy tailed and its load generator
(``loadGenerator.py``) draws them from a normal, a lognormal or a measured
distribution, clipped to ``[1, max_mini_batch_size]``; its run script uses a
mean of 165 candidates and a cap of 1024.  The default here is a lognormal
of mean 165 capped at 1024.  No spread is published with those figures, so
``sigma`` (of the underlying normal) is an assumption: 0.66 puts the cap of
1024 at the 99.9th percentile, "few queries above a thousand candidates".

The simulator's unit of work stays the sample (one candidate, one row of the
trace's batch): a request of ``s`` candidates is ``s`` samples that arrive
together, so samples arrive in bursts and a batch of ``batch_size`` samples
holds a few requests, or part of a large one.  ``request_bounds`` cuts a
stream of samples into requests (sizes rounded to whole candidates).
"""
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

DEEPRECSYS_MEAN = 165.0      # candidates per query, DeepRecSys run_DeepRecSys.sh avg_mini_batch_size
DEEPRECSYS_MAX = 1024        # max_mini_batch_size there
ASSUMED_SIGMA = 0.66         # assumption: puts the cap at the 99.9th percentile (see the module docstring)


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@dataclass(frozen=True)
class QuerySizes:
    """Candidates per query: ``lognormal`` (mean ``mean`` before the cap, ``sigma``, capped at ``max``) or ``fixed``."""

    kind: str = "lognormal"
    mean: float = DEEPRECSYS_MEAN
    sigma: float = ASSUMED_SIGMA
    max: int = DEEPRECSYS_MAX

    def __post_init__(self):
        if self.kind not in ("lognormal", "fixed"):
            raise InputError(f"query sizes: kind: {self.kind!r}: expected lognormal or fixed")
        if not self.mean >= 1:
            raise InputError(f"query sizes: mean: {self.mean!r}: expected at least 1 candidate")
        if not self.sigma >= 0:
            raise InputError(f"query sizes: sigma: {self.sigma!r}: expected >= 0")
        if not self.max >= self.mean:
            raise InputError(f"query sizes: max: {self.max!r}: expected at least the mean ({self.mean})")

    @property
    def mu(self) -> float:
        """Mean of the underlying normal: a lognormal of mean ``mean`` has mu = ln(mean) - sigma^2/2."""
        return math.log(self.mean) - 0.5 * self.sigma ** 2

    def capped_mean(self) -> float:
        """E[min(max(X, 1), cap)]: the mean candidates per query after clipping to [1, max]."""
        if self.kind == "fixed" or self.sigma == 0:
            return float(min(max(self.mean, 1.0), self.max))
        mu, s = self.mu, self.sigma

        def partial(m):           # E[X; X < m] for the lognormal
            return math.exp(mu + 0.5 * s * s) * _phi((math.log(m) - mu - s * s) / s)

        below_1 = _phi((0.0 - mu) / s)                       # P(X < 1): clipped up to 1
        above = 1.0 - _phi((math.log(self.max) - mu) / s)    # P(X >= max): clipped down to max
        return below_1 * 1.0 + (partial(self.max) - partial(1.0)) + above * self.max

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Candidates of ``n`` queries (float64, clipped to [1, max]) from ``rng``."""
        if self.kind == "fixed" or self.sigma == 0:
            return np.full(int(n), min(max(self.mean, 1.0), self.max))
        return np.clip(rng.lognormal(self.mu, self.sigma, size=int(n)), 1.0, float(self.max))

    def request_bounds(self, samples: int, rng: np.random.Generator) -> np.ndarray:
        """Cut ``samples`` samples into requests: int64 bounds from 0 to ``samples`` (the last request may be cut short)."""
        samples = int(samples)
        mean = self.capped_mean()
        sizes = np.zeros(0, dtype=np.int64)
        while sizes.sum() < samples:
            more = int(1.2 * (samples - sizes.sum()) / mean) + 16
            sizes = np.concatenate([sizes, np.rint(self.draw(more, rng)).astype(np.int64)])
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        n = int(np.searchsorted(bounds, samples, side="left"))
        bounds = bounds[:n + 1].copy()
        bounds[-1] = samples
        return bounds

    def to_dict(self) -> dict:
        return {"kind": self.kind, "mean": self.mean, "sigma": self.sigma, "max": self.max,
                "capped_mean": self.capped_mean()}
