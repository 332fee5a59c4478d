"""Progress of a long run on stderr: a bar on a terminal, a line a minute in a log."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from podsim.cli.options import note
from podsim.units import format_time_ps


class Progress:
    """Progress of one run on stderr, fed by the engine's progress callback (about every million
    events): the share of the payload delivered (or what ``done_is`` says), the events processed
    (or what ``counts`` names) and the simulated time.

    On a terminal it is a tqdm bar, which estimates the time left. Otherwise (a log file, a pipe,
    a batch job) it is a line every ``LOG_EVERY_S`` seconds of wall time with the same estimate,
    so that a long unattended run shows it is alive and when it should end; a shorter run prints
    nothing. With ``quiet`` (--quiet) it is silent.
    """

    #: Wall-clock seconds between two progress lines when stderr is not a terminal.
    LOG_EVERY_S = 60.0

    def __init__(self, desc: str, *, quiet: bool, terminal: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, counts: str = "events",
                 done_is: str = "of the payload delivered") -> None:
        from tqdm import tqdm

        terminal = sys.stderr.isatty() if terminal is None else terminal
        self._desc = desc
        self._counts = counts  # what the second argument counts
        self._done_is = done_is  # what the third one is the share of
        self._log = not quiet and not terminal
        self._clock = clock
        self._start = clock()
        self._next_line = self._start + self.LOG_EVERY_S
        self._bar = tqdm(desc=desc, total=100.0, disable=quiet or not terminal, leave=False, file=sys.stderr,
                         bar_format="{desc}: {percentage:3.0f}% " + done_is + " |{bar}| "
                                    "{elapsed} elapsed, {remaining} left{postfix}")  # (tqdm starts a postfix with ", ")

    def __call__(self, now_ps: int, events: int, done: float) -> None:
        self._bar.set_postfix_str(f"{events:,} {self._counts}, {format_time_ps(now_ps)} simulated", refresh=False)
        self._bar.update(100.0 * done - self._bar.n)
        if self._log and self._clock() >= self._next_line:
            self._line(now_ps, events, done)

    def _line(self, now_ps: int, events: int, done: float) -> None:
        from tqdm import tqdm

        elapsed = self._clock() - self._start
        self._next_line = self._clock() + self.LOG_EVERY_S
        left = (f"about {tqdm.format_interval(elapsed * (1 - done) / done)} left at this pace" if done > 0
                else "no estimate of the time left yet")
        note(f"{self._desc}: {100 * done:.1f}% {self._done_is}, {tqdm.format_interval(elapsed)} elapsed, "
             f"{left}; {events:,} {self._counts}, {format_time_ps(now_ps)} simulated")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
