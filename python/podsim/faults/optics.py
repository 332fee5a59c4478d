"""Optics of a system: module count, power, and the latency budget of one optical link.

Per optical link tier: modules (from the module <-> link mapping, equal to the inventory's
count), module type, power per module and in total, and the one-way latency budget of a link:
propagation (the spec's link latency, which the engine simulates), host FEC and the module's own
latency. Module latency is published for no 400G module (faults.md §2): it is reported as
"not published" and counted as 0 in the total. The engine's link latency holds only the
propagation term; the FEC and module terms are what a run leaves out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from podsim.faults.elements import Catalog, optical_tiers

#: Shown where the spec has no figure because the sources publish none.
NOT_PUBLISHED = "not published"


def optics(system: Any, catalog: Catalog | None = None) -> pd.DataFrame:
    """One row per optical link tier of ``system`` (no rows for an all-electrical scale-up;
    ``catalog``: ``Catalog(system)`` when the caller has one already, else it is built here).

    Columns: ``tier``, ``module``, ``modules``, ``links``, ``module_power_W``, ``power_W``
    (all modules of the tier), ``propagation_ns`` (spec link latency, simulated), ``fec_ns``,
    ``module_ns`` (NaN when not published), ``budget_ns`` (sum of the published terms),
    ``module_latency`` (``NOT_PUBLISHED`` or the source key), ``power_source``, ``power_evidence``.
    """
    cat = catalog if catalog is not None else Catalog(system)
    spec = system.spec
    rows = []
    for tier, module_name in optical_tiers(system).items():
        module = spec.transceivers[module_name]
        links = cat.links[cat.links["tier"] == tier]
        n = int((cat.transceivers["tier"] == tier).sum())
        power, fec, lat = module.get("power"), module.get("fec_latency"), module.get("latency")
        propagation = float(np.mean(_latency_ps(system, links["link"].to_numpy()))) * 1e-3
        fec_ns = fec.si * 1e9 if fec is not None else np.nan
        module_ns = lat.si * 1e9 if lat is not None else np.nan
        rows.append({
            "tier": tier, "module": module_name, "modules": n, "links": len(links),
            "module_power_W": power.si if power is not None else np.nan,
            "power_W": n * power.si if power is not None else np.nan,
            "propagation_ns": propagation, "fec_ns": fec_ns, "module_ns": module_ns,
            "budget_ns": propagation + np.nansum([fec_ns, module_ns]),
            "module_latency": NOT_PUBLISHED if lat is None else lat.source,
            "power_source": power.source if power is not None else NOT_PUBLISHED,
            "power_evidence": power.evidence if power is not None else "",
        })
    columns = ["tier", "module", "modules", "links", "module_power_W", "power_W", "propagation_ns", "fec_ns",
               "module_ns", "budget_ns", "module_latency", "power_source", "power_evidence"]
    return pd.DataFrame(rows, columns=columns)


def _latency_ps(system: Any, link_ids: np.ndarray) -> np.ndarray:
    return system.topology.channels().latency_ps[link_ids].astype(np.float64)
