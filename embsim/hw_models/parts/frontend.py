"""Host front end: the serving host's own work per batch and per query.

Receiving a batch of queries, parsing each sample's sparse and dense
features into index arrays, launching the device work, serialising each
score into the response.  Modelled as linear in the batch:

    host stage     = batch_overhead + batch_size x sample_overhead
    response stage = batch_size x response_per_sample

on one resource (``host``).  Every figure comes from a measurement or a
source (a serving framework's published per-request cost, or an assumption
that says what it covers); ``static_power`` is the rest of the server
(board, fans, NICs, boot disks), charged once per system.  The front end's
own dynamic energy is inside the CPU's, so it has no actions.
"""
from typing import Any, ClassVar

from ..params import param
from .base import Part, PartParams


class FrontEndParams(PartParams):
    batch_overhead: param("time")                  # receive, batch and dispatch one batch
    sample_overhead: param("time")                 # parse one sample's features into indices
    response_per_sample: param("time")             # serialise one score


class HostFrontEnd(Part):
    kind = "frontend"
    Schema: ClassVar[Any] = FrontEndParams

    def host_time_s(self, batch_size: int) -> float:
        return self.p.batch_overhead.value + batch_size * self.p.sample_overhead.value

    def response_time_s(self, batch_size: int) -> float:
        return batch_size * self.p.response_per_sample.value
