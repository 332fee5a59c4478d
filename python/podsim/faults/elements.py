"""The failable elements of a built system and the links each one takes down.

An element is named by a kind and a name (:class:`Element`); a :class:`Catalog` lists every element
of a system and resolves an element to the links it removes. Links are identified by the id of
their first channel (``a -> b``; ``b -> a`` is the channel after it), as in the engine's table.

Kinds:

* ``"link"``: one link, both directions. Name ``"<a>~<b>"`` (node names, lower node id first), with
  ``#i`` appended for the i-th of parallel links between the same two nodes (``#0`` may be omitted).
* ``"direction"``: one direction ``"<a>-><b>"`` of a link. The engine's links are lossless and
  credit-based: the credits of ``b -> a`` return over ``a -> b``, so a dead direction stops both
  and the whole link is removed before a run (a retraining link layer takes it down the same
  way). During a run (:mod:`podsim.faults.timeline`) only that direction fails: the engine
  models credit returns as link-layer control that survives.
* ``"transceiver"``: one optical module at one end of an optical link tier. Name
  ``"<node>/xcvr<j>"``. **Module <-> link mapping**: at every node, the node's links of that tier
  are sorted by (peer node id, link id) and cut into consecutive groups of ``links_per_module``
  (``electrical_lanes x lane_rate_uni // link rate``: two 224 Gb/s UB links per 400G module,
  hardware.md §1.6); module ``j`` carries group ``j``. On CloudMatrix 384, L1 switch k's module j
  carries its uplinks to L2 switches 2j and 2j+1 of sub-plane k, and L2 switch's module j its links
  to nodes 2j and 2j+1. A link faster than one module rides on several modules, each of which takes
  it down.
* ``"switch"``: a switch chip; all its links. ``"switch:<role>"`` restricts random draws to one
  role (``"switch:l2"``).
* ``"tray"``: a field-replaceable switch tray (``topology.switches_per_tray`` consecutive switch
  chips; NVL72: 2 NVSwitch chips). Name ``"tray<t>"``.

Random draws (:meth:`Catalog.names`) accept ``"link:<tier>"`` (``"link:l1-l2"``) and
``"transceiver:<tier>"`` to restrict to one tier; plain ``"link"`` means every link that touches
a switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from podsim.systems.fabric import tier_name, width

#: Element kinds :func:`podsim.faults.apply` understands.
KINDS = ("link", "direction", "transceiver", "switch", "tray")

#: Relative slack when dividing rates, so 56e9 / 28e9 counts as exactly 2 links per module.
_RATE_SLACK = 1e-9


@dataclass(frozen=True)
class Element:
    """One failed element: ``kind`` (one of :data:`KINDS`) and its ``name`` in the system.

    Example: ``Element("switch", "nvswitch03")``, ``Element("transceiver", "node00/l1sw0/xcvr3")``.
    """

    kind: str
    name: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: must be one of {list(KINDS)}, got {self.kind!r}")
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name: expected a non-empty element name, got {self.name!r}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def link(a: str, b: str, index: int = 0) -> Element:
    """The ``index``-th link between nodes named ``a`` and ``b`` (either order)."""
    return Element("link", _pair_name(a, b, index, "~"))


def direction(a: str, b: str, index: int = 0) -> Element:
    """Direction ``a -> b`` of the ``index``-th link between ``a`` and ``b`` (see module docs)."""
    return Element("direction", _pair_name(a, b, index, "->"))


def _pair_name(a: str, b: str, index: int, sep: str) -> str:
    """``"a<sep>b#index"``; refuses a node name carrying its own ``#i``, which would otherwise
    be read as the index and the given ``index`` appended after it (``"b#3#0"``)."""
    for field, node in (("a", a), ("b", b)):
        if isinstance(node, str) and "#" in node:
            idx = node.partition("#")[2]
            raise ValueError(f"{field}: a node name has no '#', got {node!r}; give the link's index as index={idx or 'i'}")
    return f"{a}{sep}{b}#{index}"


def transceiver(name: str) -> Element:
    """The optical module called ``name`` (``"node00/l1sw0/xcvr3"``)."""
    return Element("transceiver", name)


def switch(name: str) -> Element:
    """The switch chip called ``name`` (``"nvswitch03"``, ``"plane0/l2sw05"``)."""
    return Element("switch", name)


def tray(index: int) -> Element:
    """Switch tray ``index`` (NVL72: trays 0..8, chips 2t and 2t+1)."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index: expected a tray index >= 0, got {index!r}")
    return Element("tray", f"tray{int(index)}")


def optical_tiers(system: Any) -> dict[str, str]:
    """Link tier -> optical module name, for the fabric of an intact ``podsim.System``.

    The builder records which tiers are optical and with which module; System keeps that record
    on its fabric and has no public view of it yet.

    Raises:
        TypeError: ``system`` is not a System; for a FaultedSystem, the message points to its
            ``.base`` (elements and failure rates belong to the intact build).
    """
    fabric = getattr(system, "_fabric", None)
    if fabric is None:
        hint = "; a FaultedSystem's elements and failure rates are those of its .base" if hasattr(system, "base") else ""
        raise TypeError(f"system: expected a podsim.System, got {type(system).__name__}{hint}")
    return dict(fabric.optical)


class Catalog:
    """Every failable element of a built system, and the links each takes down.

    Attributes:
        links: one row per link: ``link`` (first channel id), ``a``, ``b`` (node ids, a < b in
            channel order), ``tier``, ``rate_Bps`` (uni), ``name``.
        transceivers: one row per optical module: ``name``, ``node``, ``tier``, ``links`` (tuple
            of link ids).
        trays: per tray, the switch node ids it holds (empty when the spec has no trays).

    Raises:
        TypeError: ``system`` is not a :class:`podsim.System` (see :func:`optical_tiers`).
    """

    def __init__(self, system: Any) -> None:
        optical = optical_tiers(system)  # first: it refuses what is not an intact system
        topo = system.topology
        self._names = topo.names
        role = np.asarray(system.roles())
        self._role = role
        is_ep = topo.is_endpoint()
        ch = topo.channels()
        first = np.flatnonzero(ch.reverse > np.arange(len(ch)))
        a, b = ch.src[first].astype(np.int64), ch.dst[first].astype(np.int64)
        tiers = [tier_name(x, y) for x, y in zip(role[a], role[b])]
        names = []
        seen: dict[tuple[int, int], int] = {}
        for x, y in zip(a.tolist(), b.tolist()):
            key = (min(x, y), max(x, y))
            i = seen.get(key, 0)
            seen[key] = i + 1
            names.append(f"{self._names[key[0]]}~{self._names[key[1]]}#{i}")
        self.links = pd.DataFrame(
            {"link": first, "a": a, "b": b, "tier": tiers, "rate_Bps": ch.rate_Bps[first], "name": names}
        )
        self._touches_switch = ~(is_ep[a] & is_ep[b])
        self._by_name = dict(zip(names, first.tolist()))
        self._parallel = {(self._names[x], self._names[y]): n for (x, y), n in seen.items()}
        self._system = system.name
        self._switches = np.flatnonzero(~is_ep)
        self._switch_by_name = {self._names[s]: int(s) for s in self._switches}
        self.transceivers = self._modules(optical, system.spec.transceivers)
        self._xcvr = dict(zip(self.transceivers["name"], self.transceivers["links"]))
        self.trays = self._trays(system.spec)

    def _modules(self, optical: dict[str, str], catalog: dict[str, dict[str, Any]]) -> pd.DataFrame:
        rows: list[tuple[str, int, str, tuple[int, ...]]] = []
        for tier, module_name in optical.items():
            module = catalog[module_name]
            capacity = module["electrical_lanes"].value * module["lane_rate_uni"].si
            sel = self.links[self.links["tier"] == tier]
            for node in np.union1d(sel["a"], sel["b"]).tolist():
                mine = sel[(sel["a"] == node) | (sel["b"] == node)]
                peer = np.where(mine["a"] == node, mine["b"], mine["a"])
                order = np.lexsort((mine["link"].to_numpy(), peer))
                ids = mine["link"].to_numpy()[order].tolist()
                rates = mine["rate_Bps"].to_numpy()[order]
                groups = _group(ids, rates, capacity)
                w = width(len(groups))
                rows += [(f"{self._names[node]}/xcvr{j:0{w}d}", node, tier, g) for j, g in enumerate(groups)]
        return pd.DataFrame(rows, columns=["name", "node", "tier", "links"])

    def _trays(self, spec: Any) -> list[np.ndarray]:
        per = spec.topology.get("switches_per_tray")
        if per is None:
            return []
        sw = self._switches  # whole trays: the single-tier builder refuses a partial one
        return [sw[i : i + per.value] for i in range(0, len(sw), per.value)]

    def names(self, kind: str) -> list[str]:
        """Names of every element of ``kind`` (``"link"``, ``"link:l1-l2"``, ``"direction"``,
        ``"direction:l1-l2"``, ``"transceiver"``, ``"transceiver:l1-l2"``, ``"switch"``,
        ``"switch:l2"``, ``"tray"``), in a fixed order (for seeded random draws). Without a tier,
        links and directions are those that touch a switch."""
        base, _, sub = kind.partition(":")
        if base in ("link", "direction"):
            sel = self._touches_switch if not sub else (self.links["tier"] == sub).to_numpy()
            if not sel.any():
                raise ValueError(f"kinds: {kind!r}: no such link tier; tiers: {sorted(set(self.links['tier']))}")
            names = self.links["name"][sel].tolist()
            if base == "link":
                return names
            # "a~b#i" -> both of its directions, "a->b#i" then "b->a#i".
            out = []
            for name in names:
                body, _, idx = name.partition("#")
                a, _, b = body.partition("~")
                out += [f"{a}->{b}#{idx}", f"{b}->{a}#{idx}"]
            return out
        if base == "transceiver":
            sel = self.transceivers if not sub else self.transceivers[self.transceivers["tier"] == sub]
            if sel.empty:
                raise ValueError(f"kinds: {kind!r}: this system has no scale-up optical modules{' on tier ' + sub if sub else ''}")
            return sel["name"].tolist()
        if base == "switch":
            sw = self._switches if not sub else self._switches[self._role[self._switches] == sub]
            if len(sw) == 0:
                raise ValueError(f"kinds: {kind!r}: no switch role {sub!r}; roles: {sorted(set(self._role[self._switches]))}")
            return [self._names[s] for s in sw]
        if base == "tray" and not sub:
            if not self.trays:
                raise ValueError(f"kinds: {kind!r}: this system has no switch trays (topology.switches_per_tray)")
            return [f"tray{t}" for t in range(len(self.trays))]
        raise ValueError(
            f"kinds: expected link[:tier], direction[:tier], transceiver[:tier], switch[:role] or tray, got {kind!r}"
        )

    def element(self, kind: str, name: str) -> Element:
        """The :class:`Element` of a draw from :meth:`names` (``"link:l1-l2"`` -> kind ``"link"``)."""
        return Element(kind.partition(":")[0], name)

    def resolve(self, element: Element) -> np.ndarray:
        """Link ids (first channel ids) that ``element`` takes down.

        Raises:
            ValueError: naming the element when the system has no such element.
        """
        if not isinstance(element, Element):
            raise TypeError(f"failures: expected podsim.faults.Element items, got {type(element).__name__}")
        kind, name = element.kind, element.name
        if kind in ("link", "direction"):
            return np.array([self._link_id(element)], dtype=np.int64)
        if kind == "transceiver":
            if self.transceivers.empty:
                raise ValueError(f"failures: {element}: {self._system} has no optical modules in its scale-up fabric "
                                 "(its links are electrical)")
            if name not in self._xcvr:
                raise ValueError(f"failures: {element}: no such optical module (e.g. {self.transceivers['name'].iloc[0]!r})")
            return np.asarray(self._xcvr[name], dtype=np.int64)
        if kind == "switch":
            if name not in self._switch_by_name:
                raise ValueError(f"failures: {element}: no switch chip of that name (e.g. {next(iter(self._switch_by_name))!r})")
            return self._links_of_nodes([self._switch_by_name[name]])
        t = int(name[4:]) if name.startswith("tray") and name[4:].isdigit() else -1
        if not 0 <= t < len(self.trays):
            raise ValueError(f"failures: {element}: this system has {len(self.trays)} switch trays")
        return self._links_of_nodes(self.trays[t].tolist())

    def channels(self, element: Element) -> np.ndarray:
        """Channel ids ``element`` takes down in a run (:mod:`podsim.faults.timeline`): both
        directions of each of its links, except for a ``"direction"``, which is that one channel."""
        links = self.resolve(element)
        if element.kind != "direction":
            return np.sort(np.concatenate([links, links + 1]))
        src_name = element.name.partition("#")[0].partition("->")[0]
        first = int(links[0])
        a = int(self.links["a"][self.links["link"] == first].iloc[0])
        return np.array([first if self._names[a] == src_name else first + 1], dtype=np.int64)

    def _links_of_nodes(self, nodes: list[int]) -> np.ndarray:
        hit = self.links["a"].isin(nodes) | self.links["b"].isin(nodes)
        return self.links["link"][hit].to_numpy(dtype=np.int64)

    def _link_id(self, element: Element) -> int:
        sep = "~" if element.kind == "link" else "->"
        body, _, idx = element.name.partition("#")
        a, found, b = body.partition(sep)
        if not found or not (idx or "0").isdecimal():
            raise ValueError(f"failures: {element}: expected a name like 'a{sep}b' or 'a{sep}b#1' "
                             "(node names, then the index of a parallel link)")
        for x, y in ((a, b), (b, a)):
            key = f"{x}~{y}#{int(idx or 0)}"
            if key in self._by_name:
                return self._by_name[key]
            parallel = self._parallel.get((x, y), 0)
            if parallel:
                raise ValueError(f"failures: {element}: {x!r} and {y!r} have {parallel} parallel links: "
                                 f"index 0 to {parallel - 1}, got {idx}")
        raise ValueError(f"failures: {element}: no link between {a!r} and {b!r} {self._link_example(a, b, sep)}")

    def _link_example(self, a: str, b: str, sep: str) -> str:
        """The link tiers and a link name that exists: one of a node the caller named when it has
        links (written from that node), else the first link."""
        ids = {self._names[n]: n for n in np.union1d(self.links["a"], self.links["b"]).tolist()}
        mine = next((n for n in (a, b) if n in ids), None)
        rows = self.links if mine is None else self.links[(self.links["a"] == ids[mine]) | (self.links["b"] == ids[mine])]
        x, y = self._names[rows["a"].iloc[0]], self._names[rows["b"].iloc[0]]
        if mine == y:
            x, y = y, x
        return f"(link tiers: {', '.join(sorted(set(self.links['tier'])))}); e.g. {x + sep + y!r}"


def _group(ids: list[int], rates: np.ndarray, capacity: float) -> list[tuple[int, ...]]:
    """Cut one node's links of an optical tier into modules: consecutive groups of as many links as
    a module's electrical capacity holds; a link faster than a module gets several modules."""
    out: list[tuple[int, ...]] = []
    cur: list[int] = []
    room = 0.0
    for link_id, rate in zip(ids, rates.tolist()):
        if rate > capacity * (1 + _RATE_SLACK):
            out += [(link_id,)] * int(np.ceil(rate / capacity * (1 - _RATE_SLACK)))
            continue
        if rate > room * (1 + _RATE_SLACK):
            if cur:
                out.append(tuple(cur))
            cur, room = [], capacity
        cur.append(link_id)
        room -= rate
    if cur:
        out.append(tuple(cur))
    return out
