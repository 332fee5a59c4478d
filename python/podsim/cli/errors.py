"""Errors the Python API raises about an argument, reported as the command-line option that set
it: ``--size (size_bytes): must be ...``."""

from __future__ import annotations

import argparse

from podsim.cli.options import dest, is_given
from podsim.cli.workload_options import WORKLOADS

#: Arguments of the Python API that a command-line option sets, so that an error the API raises
#: about one names the option the user typed.
_OPTION_OF = {
    "retransmit_timeout_ps": "--retransmit-timeout", "size_bytes": "--size", "message_bytes": "--size",
    "bytes_per_pair": "--bytes-per-pair", "tokens_per_rank": "--tokens", "num_experts": "--experts",
    "top_k": "--top-k", "skew": "--skew", "duration_s": "--duration", "load": "--load", "chunks": "--chunks",
    "root": "--root", "mtu": "--mtu", "window": "--trace-window", "groups": "--ranks", "peer": "--peer",
    "request_bytes": "--request", "stride_bytes": "--stride", "write_fraction": "--write-fraction",
    "outstanding": "--outstanding", "devices": "--ranks", "duration_ps": "--duration",
}


def as_option(message: str, args: argparse.Namespace) -> str:
    """``"retransmit_timeout_ps: must be ..."`` -> ``"--retransmit-timeout (retransmit_timeout_ps): must be ..."``,
    when that option was given (else the field is not the user's: a spec file's, a default's)."""
    field, sep, rest = message.partition(": ")
    option = _OPTION_OF.get(field) if sep else None
    name = dest(option) if option else ""
    value = getattr(args, name, None)
    if option and value is None:
        # Not given, but the workload took the option's default: say so, or the user is told
        # of a value they never typed.
        names = getattr(args, "workload", None) or []
        kinds = [WORKLOADS[n] for n in ([names] if isinstance(names, str) else names) if n in WORKLOADS]
        if any(name in k.defaults for k in kinds):
            return f"{option} ({field}): {rest} (the default of {option}; give {option} to change it)"
    if not is_given(value):
        return message
    return f"{option} ({field}): {rest}"

