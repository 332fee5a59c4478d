"""What every command shares in reading its arguments and talking to the user: exit codes, the
one-line usage error, notes on stderr, and the argparse ``type=`` converters that check a value
as it is read, naming the option."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import podsim
from podsim import report
from podsim.units import parse_time_ps

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Image formats matplotlib's Agg canvas writes (``--plot``).
IMAGE = (".png", ".svg", ".pdf")
#: Help of every command's ``--quiet``.
QUIET_HELP = "no progress on stderr (a bar on a terminal; otherwise a line a minute once a run takes longer)"
#: Help of a SYSTEM argument.
SYSTEM_HELP = "shipped name (see 'podsim list') or a .toml spec"


class UsageError(Exception):
    """A bad argument: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2; subcommands inherit it."""

    def error(self, message: str) -> NoReturn:
        print(f"podsim: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


class CheckingParser(Parser):
    """A parser that raises UsageError with argparse's reason instead of printing it: for command
    lines the CLI builds itself (a sweep's points), whose errors it reports in the user's terms."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def note(text: str) -> None:
    """One line for the user on stderr, prefixed ``podsim:`` (stdout is kept for results)."""
    print(f"podsim: {text}", file=sys.stderr)


def arg(parse: Callable[[str, str], Any], field: str) -> Callable[[str], Any]:
    """An argparse ``type=`` from a ``parse(text, field)`` of :mod:`podsim.units`."""

    def convert(text: str) -> Any:
        try:
            return parse(text, field)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = field  # argparse names the type in its messages
    return convert


def fault_change(*, up: bool) -> Callable[[str], podsim.faults.Change]:
    """An argparse ``type=`` for ``KIND:NAME[@TIME]``: an element of :mod:`podsim.faults` failing
    (or, with ``up``, repaired) at TIME (a repair needs one). Names are checked against the system
    when the run starts."""

    def convert(text: str) -> podsim.faults.Change:
        element, at, when = text.rpartition("@") if "@" in text else (text, "", "")
        kind, sep, name = element.partition(":")
        if not sep or kind not in podsim.faults.KINDS or not name:
            raise argparse.ArgumentTypeError(f"expected KIND:NAME[@TIME] with KIND one of {', '.join(podsim.faults.KINDS)}, got {text!r}")
        if up and not at:
            raise argparse.ArgumentTypeError(f"a repair needs a time: KIND:NAME@TIME, got {text!r}")
        try:
            at_ps = parse_time_ps(when, "time") if at else 0
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        target = podsim.faults.Element(kind, name)
        return podsim.faults.repair(target, at_ps) if up else podsim.faults.fail(target, at_ps)

    convert.__name__ = "repair" if up else "fail"
    return convert


class Once(argparse.Action):
    """Store an option's value, refusing a second one: under two names (``--size``, ``--bytes``)
    the last would otherwise win without a word."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{'/'.join(self.option_strings)}: given twice; give one value")
        setattr(namespace, self.dest, values)


def writable(path: Path) -> None:
    """Refuse ``path`` unless a file can be written there (not a folder, permissions, a read-only
    file system), found by opening it to append: a file that was not there is removed again."""
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    if not existed:
        path.unlink()


def output(suffixes: tuple[str, ...]) -> Callable[[str], str]:
    """An argparse ``type=`` for a file to write: checked before any long run (known suffix,
    existing folder, Parquet support present), so a typo never costs a finished simulation."""

    def check(text: str) -> str:
        path = Path(text)
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"expected a file ending in {' or '.join(suffixes)}, got {text!r}")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"folder {str(path.parent)!r} does not exist")
        writable(path)
        if ".parquet" in suffixes:
            try:
                report.table_format(path)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err).removeprefix("path: ")) from None
        return text

    return check


def int_in(lo: int, hi: int | None = None, shown: str | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for a whole number >= lo, and <= hi when given (``shown``: how the
    range is written in the error; it gives the range, not every value)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if hi is None and value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        if hi is not None and not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{shown or f'{lo}, {hi}'}], got {value}")
        return value

    return convert


#: An option's value that leaves the choice to the generator (its None).
AUTO = "auto"


def or_auto(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """``convert``, or :data:`AUTO` for ``auto``: given, so that a workload that does not read
    the option refuses it as it would any value."""

    def either(text: str) -> Any:
        return AUTO if text == AUTO else convert(text)

    return either


def auto(value: Any) -> Any:
    """An option's value for the generator: None for :data:`AUTO`."""
    return None if value == AUTO else value


positive_int = int_in(1)
seed = int_in(0, 2**64 - 1, "0, 2**64 - 1")


def fraction(text: str) -> float:
    """An argparse ``type=`` for a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def add_output(p: argparse.ArgumentParser, out: bool = True) -> None:
    """``--json``, and with ``out`` ``--out FILE`` for the command's table."""
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    if out:
        p.add_argument("--out", type=output((".csv", ".parquet")), metavar="FILE", help="also write the table to FILE.csv or FILE.parquet (needs podsim[parquet])")


def flag(dest: str) -> str:
    """The command-line flag of an argparse dest: ``top_k`` -> ``--top-k``."""
    return "--" + dest.replace("_", "-")


def dest(flag: str) -> str:
    """The argparse dest of a command-line flag (the inverse of :func:`flag`)."""
    return flag[2:].replace("-", "_")


def given(value: Any, default: Any) -> Any:
    """``value`` if the option was given, else ``default``. Not ``value or default``: a given zero
    or empty value must reach the checks, not be replaced by the default."""
    return default if value is None else value


def is_given(value: Any) -> bool:
    """An option's parsed value says it was given: not None (unset) and not False (a flag left
    off). Not ``value not in (None, False)``: a given 0 equals False."""
    return value is not None and value is not False


# A value that starts like a negative number or size: "-4KiB", "-1.5us", "-.5".
_NEGATIVE_VALUE = re.compile(r"-\.?\d")


def attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``--opt -4KiB`` as ``--opt=-4KiB``. argparse reads a token that starts with ``-`` as an
    option unless it is a plain negative number, so a negative size or time would otherwise be
    reported as a missing argument instead of by the option's own range check."""
    out: list[str] = []
    for i, token in enumerate(argv):
        if token == "--":  # what follows is positional: leave it alone
            return out + list(argv[i:])
        prev = out[-1] if out else ""
        if _NEGATIVE_VALUE.match(token) and prev.startswith("--") and "=" not in prev:
            out[-1] = f"{prev}={token}"
        else:
            out.append(token)
    return out
