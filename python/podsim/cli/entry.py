"""The ``podsim`` entry point: parse, run the command, and turn its errors into exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import podsim
from podsim.cli.errors import as_option
from podsim.cli.options import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, attach_negative_values
from podsim.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (argparse's own exits, --help and bad usage, included)."""
    parser = build_parser()
    try:
        args = parser.parse_args(attach_negative_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    sdk = {"cmake_dir": ("lib", "cmake", "podsim"), "include_dir": ("include",), "lib_dir": ("lib",)}
    for flag, parts in sdk.items():
        if getattr(args, flag):
            print(Path(podsim.__file__).parent.joinpath(*parts))
            return EXIT_OK
    if args.command is None:
        args = parser.parse_args(["demo"])
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (podsim list | head): not an error. Point stdout at /dev/null so
        # that the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except podsim.Deadlock as err:
        print(f"podsim: error: the run deadlocked: {err}", file=sys.stderr)
        return EXIT_FAILED
    except podsim.CutOff as err:
        print(f"podsim: error: the faults cut ranks off: {err}", file=sys.stderr)
        return EXIT_FAILED
    except (UsageError, ValueError, TypeError, OSError) as err:
        print(f"podsim: error: {as_option(str(err), args)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("podsim: error: out of memory: the fabric or the run is too large for this machine "
              "(README, 'Limits', gives what the engine keeps per node, port and packet)", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("podsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
