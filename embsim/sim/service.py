"""Drawing service times: one batch's time on a resource from its mean and the resource's variability.

``ServiceSampler(variability, names, seed)`` turns the mean service time a
family gives for one (batch, stage, resource) item into the time the engine
holds the resource: ``max(floor_s, mean) x X``, with ``X`` of mean 1 and the
resource's coefficient of variation (the floor is the least *mean* time; a
kernel launch jitters as the kernel does) (``embsim.hw_models.variability``):

- deterministic: ``X = 1``;
- exponential: ``X ~ Exp(1)`` (CV 1);
- lognormal: ``ln X ~ N(-s^2/2, s^2)`` with ``s^2 = ln(1 + cv^2)``;
- gamma: shape ``1/cv^2``, scale ``cv^2``;
- a ``slows_only`` profile: ``X = 1 + D``, ``D`` lognormal of mean and
  standard deviation ``cv`` (disturbances only add time to the best case).

Determinism: every resource has its own stream, seeded by ``(seed, index of
the resource)`` through ``numpy.random.SeedSequence``, and draws are taken
in the order the engine asks for them (batch dispatch order, which simpy
makes deterministic), so the same seed gives the same times bit for bit.
Draws come in chunks (one numpy call per ``CHUNK`` items of a resource), so
the cost per item is an array read, not a Generator call.
"""
import math

import numpy as np

from ..hw_models.variability import DETERMINISTIC

CHUNK = 4096
SERVICE_STREAM = 0x5E7          # tag of the service-time streams in the seed sequence


class ServiceSampler:
    """Per resource: unit-mean multipliers drawn in chunks, and the floor."""

    def __init__(self, variability: dict, names: list, seed: int):
        self.profiles = [variability.get(n, DETERMINISTIC) for n in names]
        self.floors = [float(p.floor_s) for p in self.profiles]
        self._rngs = [np.random.default_rng(np.random.SeedSequence([int(seed), SERVICE_STREAM, i]))
                      for i in range(len(names))]
        self._buf: list = [np.zeros(0)] * len(names)
        self._pos = [CHUNK] * len(names)
        self.fixed = [p.distribution == "deterministic" for p in self.profiles]

    def _refill(self, r):
        p, rng = self.profiles[r], self._rngs[r]
        if p.slows_only:
            s2 = math.log(2.0)                     # sd / mean of D = 1
            x = 1.0 + rng.lognormal(math.log(p.cv) - 0.5 * s2, math.sqrt(s2), CHUNK)
        elif p.distribution == "exponential":
            x = rng.exponential(1.0, CHUNK)
        elif p.distribution == "lognormal":
            s2 = math.log1p(p.cv * p.cv)
            x = rng.lognormal(-0.5 * s2, math.sqrt(s2), CHUNK)
        else:   # gamma
            k = 1.0 / (p.cv * p.cv)
            x = rng.gamma(k, 1.0 / k, CHUNK)
        self._buf[r] = x
        self._pos[r] = 0

    def __call__(self, r: int, mean_s: float) -> float:
        """The time one item of mean ``mean_s`` holds resource ``r``."""
        if self.fixed[r]:
            return max(self.floors[r], mean_s)
        i = self._pos[r]
        if i >= CHUNK:
            self._refill(r)
            i = 0
        self._pos[r] = i + 1
        return max(self.floors[r], mean_s) * float(self._buf[r][i])


def deterministic_sampler(names: list) -> ServiceSampler:
    """Every resource deterministic, no floor: the engine serves the family's mean times."""
    return ServiceSampler({}, names, 0)
