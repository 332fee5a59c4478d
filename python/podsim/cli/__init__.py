"""The ``podsim`` command line, a module per command (:mod:`.run`, :mod:`.compare`, :mod:`.hbm`,
:mod:`.sweep`, :mod:`.export`, :mod:`.info` for list and peak, :mod:`.bench` for bench and demo).

Exit codes: 0 ok; 1 the simulation could not finish (deadlock); 2 bad usage, reported in one
line as ``podsim: error: ...``; 130 interrupted by Ctrl-C (what was reached is printed first).
"""

from podsim.cli.entry import main
from podsim.cli.parser import build_parser

__all__ = ["build_parser", "main"]
