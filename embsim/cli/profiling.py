"""The profiling options of every command that ranks hot rows: ``--profile`` and ``--profile-share``.

    @click.command("simulate")
    @profile_options
    def simulate(..., profile):     # profile: {"profile": path | "in-sample" | None, "share": float}

The plan's coverage curves and the simulator's row-to-tier map come from a
*profile* trace, the figures from a disjoint *evaluation* trace
(``workloads.profile``).  ``--profile P.npz|P.trace`` names the profile (the
whole ``--trace`` is then the evaluation); without it the first
``--profile-share`` (default 0.5) of the trace's batches profile and the rest
are evaluated; ``--profile in-sample`` ranks rows from the replayed trace
itself (the oracle, for studies of what a perfect profile is worth).
``embsim shard``, ``simulate`` and ``explore`` take the same two options, so
``shard --trace T`` and ``simulate --plan PLAN --trace T`` plan and place from
the same batches of ``T``.
"""
from __future__ import annotations

import functools

import click

from ..workloads.profile import DEFAULT_PROFILE_SHARE, IN_SAMPLE
from .options import FiniteFloat

_OPTIONS = (
    click.option("--profile", "profile_path", type=str, default=None,
                 help="Profile trace (.npz or .trace) that ranks hot rows and plans; 'in-sample' ranks rows from the "
                      "replayed trace itself (an oracle). Default: the first --profile-share of the trace's batches."),
    click.option("--profile-share", type=FiniteFloat(0, 1, min_open=True), default=None,
                 help=f"Share of the trace's batches that profile when no --profile is given (default "
                      f"{DEFAULT_PROFILE_SHARE:g}; the rest are evaluated)."),
)


def profile_settings(profile_path=None, profile_share=None) -> dict:
    """The options as ``{"profile", "share"}``; InputError (one line) for a share of 1 or a share with a file."""
    from ..errors import InputError
    if profile_share is not None and not 0.0 < profile_share < 1.0:
        raise InputError(f"--profile-share: {profile_share}: expected a share of the batches strictly between 0 and 1")
    if profile_share is not None and profile_path is not None:
        raise InputError(f"--profile-share {profile_share:g}: only without --profile (the profile {profile_path} "
                         "is a trace of its own)")
    return {"profile": profile_path, "share": DEFAULT_PROFILE_SHARE if profile_share is None else profile_share}


def profile_options(command):
    """Decorator: add the profiling options; the command gets them as ``profile`` (see module doc)."""
    @functools.wraps(command)
    def wrapper(*args, profile_path, profile_share, **kwargs):
        return command(*args, profile=profile_settings(profile_path, profile_share), **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def open_profile(settings: dict, model):
    """The profile as ``workloads.profile.split`` takes it: None, ``IN_SAMPLE`` or an open trace checked
    against ``model`` (InputError naming the file if it is missing, unreadable or of other tables)."""
    path = settings.get("profile")
    if path is None or path == IN_SAMPLE:
        return path
    from ..workloads.store import open_trace
    from ..workloads.trace import check_matches
    reader = open_trace(path)
    check_matches(reader, model, path)
    return reader
