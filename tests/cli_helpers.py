"""What the ``podsim`` command-line tests share: running a command in-process, and its JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podsim import cli

#: A small shipped system, for commands whose system does not matter.
SMALL = "hgx-h100"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``podsim *argv`` in this process; its exit code, standard output and standard error."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str, expect: int = 0) -> Any:
    """Run ``podsim *argv --json``, expecting exit code ``expect``; the parsed output."""
    code, out, err = run(capsys, *argv, "--json")
    assert code == expect, err
    return json.loads(out)
