"""Every public name of the Python API has a docstring: the API is what users read first."""

from __future__ import annotations

import importlib
import inspect
import re
import types

import pytest

import podsim

# By name: podsim.sweep is the function, its module only importable so.
MODULES = [importlib.import_module(f"podsim{suffix}") for suffix in
           ("", ".fabrics", ".hbm", ".faults", ".workloads", ".calibration", ".sweep", ".units")]


def _public(module: types.ModuleType) -> list[tuple[str, object]]:
    """The module's ``__all__``, else the public names it defines itself (not those it imports)."""
    if hasattr(module, "__all__"):
        return [(n, getattr(module, n)) for n in module.__all__]
    return [(n, o) for n, o in vars(module).items()
            if not n.startswith("_") and getattr(o, "__module__", None) == module.__name__]


def _undocumented() -> list[str]:
    missing = []
    for module in MODULES:
        for name, obj in _public(module):
            if not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)):
                continue
            if not (obj.__doc__ or "").strip():
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(obj) and obj.__module__.startswith("podsim"):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    if not (member.__doc__ or "").strip():
                        missing.append(f"{module.__name__}.{name}.{attr}")
    return missing


def test_every_public_name_has_a_docstring() -> None:
    assert _undocumented() == []


@pytest.mark.parametrize("name", ["Deadlock", "CutOff", "InvariantViolation"])
def test_the_engine_exceptions_say_when_they_are_raised(name: str) -> None:
    assert "Raised" in (getattr(podsim, name).__doc__ or "")


def test_calibration_comes_with_the_package() -> None:
    """The README calls podsim.calibration after a plain 'import podsim'."""
    assert callable(podsim.calibration.report)


# The entry points a user calls help() on first: each names every parameter it takes.
ENTRY_POINTS = [
    podsim.simulate, podsim.Simulation, podsim.Simulation.schedule, podsim.Topology.save, podsim.hbm.simulate,
    podsim.hbm.copy, podsim.hbm.mix, podsim.fabrics.star, podsim.fabrics.folded_clos, podsim.fabrics.ring,
    podsim.fabrics.full_mesh, podsim.faults.draw, podsim.faults.failure_rates, podsim.faults.optics,
    podsim.faults.job_summary, podsim.faults.summarize, podsim.calibration.operation_time,
    podsim.calibration.bandwidth, podsim.calibration.report,
]


@pytest.mark.parametrize("fn", ENTRY_POINTS, ids=lambda fn: fn.__qualname__)
def test_help_of_an_entry_point_names_every_parameter(fn: object) -> None:
    params = inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
    named = [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    doc = fn.__doc__ or ""
    assert [n for n in named if not re.search(rf"\b{n}\b", doc)] == []
