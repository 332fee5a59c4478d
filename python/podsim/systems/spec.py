"""Loading and validating system spec files (TOML) against the component catalog.

A system file names a builder, a chip and its topology counts; it refers to chips, link types,
optical modules and switch chips by name in the shipped catalog (``specs/chips.toml``,
``specs/links.toml``, ``specs/switches.toml``) or in its own ``[chips.*]``, ``[links.*]``,
``[transceivers.*]`` and ``[switches.*]`` tables. ``extends = "other-system"`` starts from another
system file (a shipped name, or a path relative to this file) and replaces only what this file
sets; an error in one field is reported against the file that set it. Every problem raises :class:`SpecError` (a
ValueError) naming the file, the field and the value.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from podsim._validate import MAX_PACKET_BYTES, MAX_PORTS, U32_MAX
from podsim.messages import MAX_MESSAGE_BYTES
from podsim.topology import DEFAULT_ENDPOINT_BUFFER
from podsim.systems.quantity import Quantity, SpecError, parse_quantity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: Makes the error for a problem between fields (message, then the fields): see :func:`spec_error`.
_ErrorAt = Callable[..., SpecError]

#: Builders a system file may name in ``system.builder``.
BUILDERS = ("two-tier-clos", "single-tier")
#: Component categories; each maps names to component tables.
CATEGORIES = ("chips", "links", "transceivers", "switches")
#: HBM generations the memory model knows timings for.
HBM_TYPES = ("HBM2", "HBM2E", "HBM3", "HBM3E")
#: Largest relative gap allowed between a chip's quoted HBM bandwidth and stacks x bits x pin rate.
HBM_QUOTE_TOLERANCE = 0.02
#: Longest chain of ``extends``, in files (a bound on the loader's recursion).
MAX_EXTENDS = 64


#: Why a bound holds, for its message (see parse_quantity's ``bounds``).
_PORTS_WHY = "the engine's most ports per node"
_COUNTER_WHY = "the engine's 32-bit counter"
_PACKET_WHY = "a packet size the engine takes, at most 2^30 B"


@dataclass(frozen=True)
class _Q:
    dimension: str
    integer: bool = False
    minimum: float | None = None
    optional: bool = False
    is_list: bool = False
    bounds: tuple[float, float, str] | None = None  # in the dimension's base unit, and why
    engine: bool = True  # the value reaches the engine (see parse_quantity)


@dataclass(frozen=True)
class _Str:
    choices: tuple[str, ...] | None = None
    ref: str | None = None  # category the name must exist in
    optional: bool = False


@dataclass(frozen=True)
class _Bool:
    optional: bool = False


@dataclass(frozen=True)
class _Table:
    fields: Mapping[str, Any]
    optional: bool = False


#: What a system power figure counts: "all-in" (compute, network, cooling and power conversion, as
#: an analyst's rack total) or "power-shelf output" (what the rack's power shelves deliver).
POWER_BASES = ("all-in", "power-shelf output")

_COUNT = _Q("count", integer=True)
_COUNT0 = _Q("count", integer=True, minimum=0)

_CHIP = {
    "kind": _Str(("npu", "gpu", "cpu")),
    "title": _Str(),
    "dies": _COUNT,
    "die_endpoints": _Bool(),
    # 0 is allowed so a user can describe a die reachable only through its sibling; the
    # reachability check then rejects the system by name.
    "scale_up_links": _Q("count", integer=True, minimum=0, optional=True, bounds=(0, MAX_PORTS, _PORTS_WHY)),
    "scale_up_bandwidth_uni": _Q("bandwidth", optional=True),
    "die_to_die_rate_uni": _Q("bandwidth", optional=True),
    "power": _Q("power", optional=True),
    # The chip's own engines in memory operations (podsim.Topology.add_endpoint); absent = ideal.
    "endpoint": _Table(
        {
            "issue_latency": _Q("time", minimum=0, optional=True),
            "read_latency": _Q("time", minimum=0, optional=True),
            "write_latency": _Q("time", minimum=0, optional=True),
            "max_outstanding_reads": _Q("count", integer=True, optional=True, bounds=(1, U32_MAX, _COUNTER_WHY)),
            "max_outstanding_writes": _Q("count", integer=True, optional=True, bounds=(1, U32_MAX, _COUNTER_WHY)),
            "read_rate_uni": _Q("bandwidth", optional=True),
            "write_rate_uni": _Q("bandwidth", optional=True),
            # Where write_rate_uni applies: the target's write engine (commit, with credit
            # backpressure) or the initiator's (issue). Point-to-point measurements cannot tell.
            "write_limit_at": _Str(("target", "initiator"), optional=True),
        },
        optional=True,
    ),
    "compute": _Table(
        {
            "bf16_dense": _Q("flops"),
            "fp8_dense": _Q("flops", optional=True),
            "fp4_dense": _Q("flops", optional=True),
            "int8_dense": _Q("ops", optional=True),
            "int8_per_bf16": _Q("ratio", optional=True),
        },
        optional=True,
    ),
    "hbm": _Table(
        {
            "type": _Str(HBM_TYPES),
            "stacks": _COUNT,
            "bus_bits_per_stack": _Q("bits", integer=True),
            "gbps_per_pin": _Q("pin_rate"),
            "capacity_per_stack": _Q("dram_bytes"),
            "bandwidth_quoted_uni": _Q("bandwidth", optional=True, engine=False),
        },
        optional=True,
    ),
}
_LINK = {"title": _Str(), "rate_uni": _Q("bandwidth")}
_TRANSCEIVER = {
    "title": _Str(),
    "rate_uni": _Q("bandwidth", engine=False),
    "electrical_lanes": _COUNT,
    "lane_rate_uni": _Q("bandwidth", engine=False),
    # Optional reliability, power and latency figures (podsim.faults); absent = not published.
    "power": _Q("power", optional=True),
    "latency": _Q("time", minimum=0, optional=True, engine=False),
    "fec_latency": _Q("time", minimum=0, optional=True, engine=False),
    "fit": _Q("failure_rate", optional=True),
}
_SWITCH = {
    "title": _Str(),
    "ports": _Q("count", integer=True, bounds=(1, MAX_PORTS, _PORTS_WHY)),  # connected ports
    "latency": _Q("time", minimum=0),
    "buffer_per_port": _Q("bytes", integer=True),
    "cut_through": _Q("flag"),
    "fit": _Q("failure_rate", optional=True),
}
_COMPONENT = {"chips": _CHIP, "links": _LINK, "transceivers": _TRANSCEIVER, "switches": _SWITCH}

_LINK_USE = {"link": _Str(ref="links"), "latency": _Q("time"), "transceiver": _Str(ref="transceivers", optional=True)}
_TOPOLOGY = {
    "two-tier-clos": {
        "nodes": _COUNT,
        "chips_per_node": _COUNT,
        "cpus_per_node": _COUNT0,
        "l1_per_node": _COUNT,
        "l2_per_plane": _COUNT,
        "l1_switch": _Str(ref="switches"),
        "l2_switch": _Str(ref="switches"),
        "rank_link": _Table(_LINK_USE),
        "uplink": _Table(_LINK_USE),
        "cpu_link": _Table({"links_per_l1": _COUNT, "latency": _Q("time")}, optional=True),
        "die_link": _Table({"latency": _Q("time")}, optional=True),
    },
    "single-tier": {
        "chips": _COUNT,
        "chips_per_group": _COUNT,
        "switches": _COUNT,
        "switch": _Str(ref="switches"),
        # Switch chips per field-replaceable tray (NVL72: 2); podsim.faults fails them together.
        "switches_per_tray": _Q("count", integer=True, optional=True),
        "link_split": _Q("count", integer=True, minimum=0, optional=True, is_list=True),
        "rank_link": _Table(_LINK_USE),
        "die_link": _Table({"latency": _Q("time")}, optional=True),
    },
}
_SYSTEM_HEAD = {
    "name": _Str(),
    "title": _Str(),
    "builder": _Str(BUILDERS),
    "chip": _Str(ref="chips"),
    "cpu": _Str(ref="chips", optional=True),
}
_SYSTEM_REST = {
    "scale_out": _Table({"rate_uni_per_chip": _Q("bandwidth", engine=False), "transceivers_per_chip": _Q("count", integer=True, minimum=0, optional=True)}, optional=True),
    # basis: what the figure counts, so that comparisons put like with like (POWER_BASES).
    "power": _Table({"system": _Q("power"), "basis": _Str(POWER_BASES, optional=True)}, optional=True),
    "racks": _Table({"compute": _COUNT, "network": _Q("count", integer=True, minimum=0, optional=True)}, optional=True),
    # Packet and transaction sizes of the scale-up protocol: the defaults podsim.simulate uses
    # for this system (each can still be given per run).
    "transport": _Table(
        {
            # Ranges podsim.Simulation accepts; how they relate to each other: _check_transport.
            "mtu": _Q("bytes", integer=True, bounds=(2, MAX_PACKET_BYTES, _PACKET_WHY)),
            "header": _Q("bytes", integer=True, minimum=0, bounds=(0, MAX_PACKET_BYTES, _PACKET_WHY)),
            "ack": _Q("bytes", integer=True, optional=True, bounds=(1, MAX_PACKET_BYTES, _PACKET_WHY)),
            "request": _Q("bytes", integer=True, optional=True, bounds=(1, MAX_PACKET_BYTES, _PACKET_WHY)),
            "txn": _Q("bytes", integer=True, optional=True, bounds=(1, MAX_MESSAGE_BYTES, "the engine's largest message, 2^48 B")),
            # Fault recovery: end-to-end retransmission timeout, and link-level replay cost
            # beyond one link round trip.
            "retransmit_timeout": _Q("time", optional=True),
            "replay": _Q("time", minimum=0, optional=True),
        },
        optional=True,
    ),
}


@dataclass(frozen=True)
class SystemSpec:
    """A validated system spec with the components it uses resolved.

    Component tables are plain dicts whose numbers are :class:`Quantity` objects
    (``spec.chip["hbm"]["gbps_per_pin"].value`` is in Gb/s; ``.si`` is in base units).

    Attributes:
        file: the file it was read from (or the shipped name).
        name, title, builder: from the ``[system]`` table.
        chip: the compute chip's table; ``chip_name`` its catalog name.
        cpu: the CPU's table, or None; ``cpu_name`` its name.
        topology: the builder's ``[topology]`` table (names of links and switches, counts).
        links, transceivers, switches: the whole catalog in effect, by name.
        scale_out, power, racks, transport: optional tables ({} when absent).
        document: the merged TOML document after ``extends`` and overrides.
    """

    file: str
    name: str
    title: str
    builder: str
    chip_name: str
    chip: dict[str, Any]
    cpu_name: str | None
    cpu: dict[str, Any] | None
    topology: dict[str, Any]
    links: dict[str, dict[str, Any]]
    transceivers: dict[str, dict[str, Any]]
    switches: dict[str, dict[str, Any]]
    scale_out: dict[str, Any]
    power: dict[str, Any]
    racks: dict[str, Any]
    transport: dict[str, Any]
    document: dict[str, Any] = field(repr=False)
    origins: Mapping[str, str] = field(default_factory=dict, repr=False)

    def link(self, use: str) -> dict[str, Any]:
        """The link-type table used by topology entry ``use`` (``"rank_link"``, ``"uplink"``)."""
        return self.links[self.topology[use]["link"]]

    def error(self, message: str, *fields: str) -> SpecError:
        """A :class:`SpecError` about a problem between ``fields`` (dotted paths, the likeliest
        culprit first), reported against the one the user most likely set: see :func:`spec_error`."""
        return spec_error(self.origins, self.file, fields, message)


def specs_dir() -> Path:
    """Directory of the shipped spec files (inside the installed package)."""
    return Path(str(resources.files("podsim").joinpath("specs")))


def list_systems() -> list[str]:
    """Names of the shipped systems, sorted."""
    return sorted(p.stem for p in (specs_dir() / "systems").glob("*.toml"))


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        # utf-8-sig: an editor's byte-order mark is not TOML, but it is not the user's mistake either.
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ValueError(f"{label}: no such spec file (shipped systems: {list_systems()})") from None
    except OSError as err:
        raise SpecError(label, "(file)", f"cannot be read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise SpecError(label, "(file)", f"is not UTF-8 text (byte {err.start}: {err.reason})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(label, "(syntax)", str(err)) from None


def _catalog() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {c: {} for c in CATEGORIES}
    for fname in ("chips.toml", "links.toml", "switches.toml"):
        doc = _read_toml(specs_dir() / fname, fname)
        for cat, entries in doc.items():
            if cat not in merged:
                raise SpecError(fname, cat, f"unknown category; allowed: {list(CATEGORIES)}")
            merged[cat].update(entries)
    return merged


def _is_value_table(x: Any) -> bool:
    return isinstance(x, dict) and "value" in x


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Deep merge; a value table (one with ``value``) is replaced whole, never mixed with another,
    even by a table that sets only part of it (which then fails validation, naming what it lacks)."""
    out = dict(base)
    for key, val in top.items():
        below = out.get(key)
        if isinstance(val, dict) and isinstance(below, dict) and not _is_value_table(val) and not _is_value_table(below):
            out[key] = _merge(out[key], val)
        else:
            out[key] = val
    return out


def _is_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text


def _resolve_file(name_or_path: str | Path) -> tuple[Path, str]:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or _is_path(text):
        return Path(text), text
    return specs_dir() / "systems" / f"{text}.toml", text


def _paths(doc: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every table and value in ``doc``, not descending into value tables."""
    out = []
    for key, val in doc.items():
        where = f"{prefix}{key}"
        out.append(where)
        if isinstance(val, dict) and not _is_value_table(val):
            out += _paths(val, f"{where}.")
    return out


def _load_chain(
    name_or_path: str | Path, seen: tuple[tuple[Path, str], ...] = (), written: str = ""
) -> tuple[dict[str, Any], str, dict[str, str]]:
    """The merged document of a file and the files it ``extends``, its label, and which file
    each field of the merged document comes from (dotted path -> label).

    ``seen``: (resolved path, label) of the files that led here; ``written``: the ``extends``
    value as the last of them wrote it, for messages."""
    path, label = _resolve_file(name_or_path)
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop: RuntimeError before Python 3.13
        raise SpecError(seen[-1][1] if seen else label, "system.extends" if seen else "(file)",
                        f"{str(path)!r} cannot be resolved ({err})") from None
    if seen:
        # Problems finding the parent belong to the file whose extends names it.
        referrer = seen[-1][1]
        if len(seen) >= MAX_EXTENDS:
            raise SpecError(referrer, "system.extends", f"more than {MAX_EXTENDS} files extend one another")
        if any(real == p for p, _ in seen):
            raise SpecError(referrer, "system.extends", f"circular: {' -> '.join((*(lbl for _, lbl in seen), label))}")
        if not path.is_file():
            problem = "is a directory" if path.is_dir() else "names no spec file"
            where = f" (looked for {path})" if _is_path(written) else f"; shipped systems: {list_systems()}"
            raise SpecError(referrer, "system.extends", f"{written!r} {problem}{where}")
    doc = _read_toml(path, label)
    if "extends" in doc:  # above [system]: read as a top-level key, it would be reported as unknown last
        raise SpecError(label, "extends", "belongs in the [system] table: write it under [system], as extends = \"...\"")
    head = doc.get("system")
    if not isinstance(head, dict):
        raise SpecError(label, "system", "missing [system] table")
    parent = head.get("extends")
    if parent is None:
        return doc, label, dict.fromkeys(_paths(doc), label)
    if not isinstance(parent, str) or not parent:
        raise SpecError(label, "system.extends", f"expected a system name or path, got {parent!r}")
    target = parent
    if _is_path(parent) and not Path(parent).is_absolute():
        target = os.path.normpath(path.parent / parent)  # relative to the file that names it
    base, _, base_origins = _load_chain(target, (*seen, (real, label)), parent)
    merged = _merge(base, doc)
    merged["system"] = {k: v for k, v in merged["system"].items() if k != "extends"}
    own = set(_paths(doc))
    return merged, label, {p: label if p in own else base_origins[p] for p in _paths(merged)}


def _origin(origins: Mapping[str, str], field_path: str, default: str) -> str:
    """The file that set ``field_path`` or the nearest table holding it."""
    parts = field_path.split(".")
    for n in range(len(parts), 0, -1):
        owner = origins.get(".".join(parts[:n]))
        if owner is not None:
            return owner
    return default


def spec_error(origins: Mapping[str, str], label: str, fields: Sequence[str], message: str) -> SpecError:
    """A :class:`SpecError` about ``fields``, named against the one set by the overrides, else
    by the file loaded (``label``), else the first; with the file that set it, and the file
    loaded when that is another (a base it extends). The message should name every field."""
    owners = [_origin(origins, f, label) for f in fields]
    i = min(range(len(fields)), key=lambda k: (0 if owners[k] == "overrides" else 1 if owners[k] == label else 2, k))
    return SpecError(owners[i], fields[i], message if owners[i] == label else f"{message} (loading {label})")


def _check(raw: Any, schema: Mapping[str, Any], file: str, path: str, catalog: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a table against ``schema``; unknown keys, missing fields and bad values raise."""
    if not isinstance(raw, dict):
        raise SpecError(file, path, f"expected a table, got {raw!r}")
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise SpecError(file, f"{path}.{unknown[0]}" if path else unknown[0], f"unknown key; allowed: {sorted(schema)}")
    out: dict[str, Any] = {}
    for key, rule in schema.items():
        where = f"{path}.{key}" if path else key
        if key not in raw:
            if not rule.optional:
                raise SpecError(file, where, "missing")
            continue
        val = raw[key]
        if isinstance(rule, _Q):
            out[key] = parse_quantity(
                val, file, where, rule.dimension, integer=rule.integer, minimum=rule.minimum, bounds=rule.bounds,
                is_list=rule.is_list, engine=rule.engine,
            )
        elif isinstance(rule, _Str):
            if not isinstance(val, str) or not val:
                raise SpecError(file, where, f"expected a non-empty string, got {val!r}")
            if rule.choices is not None and val not in rule.choices:
                raise SpecError(file, where, f"expected one of {list(rule.choices)}, got {val!r}")
            if rule.ref is not None and val not in catalog[rule.ref]:
                raise SpecError(file, where, f"no {rule.ref} entry called {val!r}; known: {sorted(catalog[rule.ref])}")
            out[key] = val
        elif isinstance(rule, _Bool):
            if not isinstance(val, bool):
                raise SpecError(file, where, f"expected true or false, got {val!r}")
            out[key] = val
        else:
            out[key] = _check(val, rule.fields, file, where, catalog)
    return out


def ranks_per_chip(chip: Mapping[str, Any]) -> int:
    """Endpoints (ranks) one ``chip`` puts on the fabric: one per die with die endpoints, else one."""
    return int(chip["dies"].value) if chip["die_endpoints"] else 1


def rank_ports(chip: Mapping[str, Any]) -> int:
    """Fabric ports of one rank endpoint of ``chip``: its scale-up links, and with die endpoints
    a link to each sibling die."""
    return chip["scale_up_links"].value + (chip["dies"].value - 1 if chip["die_endpoints"] else 0)


def _check_chip(chip: dict[str, Any], where: str, error: _ErrorAt) -> None:
    """Cross-field rules of a chip table (``where``: its dotted path)."""
    needed = ("scale_up_bandwidth_uni",) if chip["kind"] == "cpu" else ("scale_up_links", "power", "compute", "hbm")
    for key in needed:
        if key not in chip:
            raise error(f"missing (required for kind {chip['kind']!r})", f"{where}.{key}", f"{where}.kind")
    if chip["die_endpoints"] and chip["dies"].value > 1 and "die_to_die_rate_uni" not in chip:
        raise error("missing (required when die_endpoints and dies > 1)", f"{where}.die_to_die_rate_uni",
                    f"{where}.dies", f"{where}.die_endpoints")
    if chip["die_endpoints"] and "scale_up_links" in chip:
        ports = rank_ports(chip)
        if ports > MAX_PORTS:
            raise error(f"a die needs scale_up_links + dies - 1 = {ports} ports, more than the engine's {MAX_PORTS}",
                        f"{where}.scale_up_links", f"{where}.dies")
    compute = chip.get("compute", {})
    if "int8_dense" in compute and "int8_per_bf16" in compute:
        raise error("give int8_dense or int8_per_bf16, not both", f"{where}.compute.int8_per_bf16", f"{where}.compute.int8_dense")
    hbm = chip.get("hbm")
    if hbm and "bandwidth_quoted_uni" in hbm:
        pins = hbm["stacks"].value * hbm["bus_bits_per_stack"].value
        computed = pins * hbm["gbps_per_pin"].value * 1e9 / 8  # B/s
        quoted = hbm["bandwidth_quoted_uni"].si
        if abs(computed - quoted) > HBM_QUOTE_TOLERANCE * quoted:
            raise error(
                f"stacks x bus bits x {hbm['gbps_per_pin'].value} Gb/s = {computed / 1e12:.3f} TB/s, "
                f"more than {HBM_QUOTE_TOLERANCE:.0%} from bandwidth_quoted_uni {quoted / 1e12:.3f} TB/s",
                f"{where}.hbm.gbps_per_pin", f"{where}.hbm.bandwidth_quoted_uni", f"{where}.hbm.stacks",
                f"{where}.hbm.bus_bits_per_stack",
            )


def _check_transport(transport: dict[str, Any], buffers: Mapping[str, int], error: _ErrorAt) -> None:
    """The ``[transport]`` sizes must fit together, and a packet must fit every receive buffer
    (endpoints', and ``buffers``: switch field path -> bytes), as :class:`podsim.Simulation` requires (each size's own
    range is in the schema), so a bad one is reported here rather than by a run."""
    mtu, header = int(transport["mtu"].si), int(transport["header"].si)  # both required
    if header >= mtu:
        raise error(f"transport.header ({header} B) must be smaller than transport.mtu ({mtu} B)",
                    "transport.header", "transport.mtu")
    for key in ("ack", "request"):
        if key not in transport and header == 0:
            raise error("missing (required when transport.header is 0: it defaults to the header size)",
                        f"transport.{key}", "transport.header")
        if key in transport and transport[key].si > mtu:
            raise error(f"transport.{key} ({int(transport[key].si)} B) must be at most transport.mtu ({mtu} B)",
                        f"transport.{key}", "transport.mtu")
    if mtu > DEFAULT_ENDPOINT_BUFFER:  # specs do not set endpoint buffers: the engine's default
        raise error(f"transport.mtu ({mtu} B) must fit in an endpoint's receive buffer ({DEFAULT_ENDPOINT_BUFFER} B, "
                    "podsim.Topology.add_endpoint's default)", "transport.mtu")
    for where, size in buffers.items():
        if size < mtu:
            raise error(f"transport.mtu ({mtu} B) must fit in {where} ({size} B): a full packet could never be sent",
                        "transport.mtu", where)


def _suggest(node: Any, part: str) -> str:
    """``; did you mean ...?`` with the fields of ``node`` closest to a misspelt ``part``, or
    the fields there are when none is close."""
    if not isinstance(node, dict):
        return " (the part before it is a value, not a table)"
    fields = [k for k in node if isinstance(k, str)]
    close = difflib.get_close_matches(part, fields, n=3)
    if close:
        return f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return f"; fields there: {', '.join(sorted(fields))}"


def _apply_overrides(doc: dict[str, Any], overrides: Mapping[str, Any], file: str) -> list[str]:
    """Set values in the merged document; a value equal to a listed alternative takes its source.
    Returns the dotted paths set (``chip.`` and ``cpu.`` resolved to their catalog entries)."""
    head = doc.get("system", {})
    done = []
    for key, new in overrides.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"overrides: keys must be dotted field paths, got {key!r}")
        parts = key.split(".")
        # "chip." and "cpu." address the system's own chip and CPU in the catalog.
        if parts[0] in ("chip", "cpu") and isinstance(head.get(parts[0]), str):
            parts = ["chips", head[parts[0]], *parts[1:]]
        node: Any = doc
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"overrides: {key!r}: {file} has no field {'.'.join(parts[: i + 1])!r}{_suggest(node, part)}")
            if i < len(parts) - 1:
                node = node[part]
        leaf = parts[-1]
        old = node[leaf]
        if _is_value_table(old):
            chosen = next((a for a in old.get("alternatives", []) if a.get("value") == new), None)
            provenance = chosen or {"source": "podsim.system(overrides=...)", "evidence": "user", "note": "set by the user"}
            node[leaf] = {**old, "value": new, **{k: provenance.get(k, "") for k in ("source", "evidence", "note")}}
        elif isinstance(old, str) and isinstance(new, str):
            node[leaf] = new
        else:
            raise ValueError(f"overrides: {key!r}: {file} field {'.'.join(parts)!r} is not a value or a name")
        done.append(".".join(parts))
    return done


def load_spec(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> SystemSpec:
    """Read, merge and validate a system spec.

    Args:
        name_or_path: a shipped system name (see :func:`list_systems`) or a path to a ``.toml`` file.
        overrides: ``{"dotted.field.path": value}`` applied after merging, before validation; e.g.
            ``{"chip.compute.bf16_dense": 752}`` (value in the field's unit, here TFLOPS) or
            ``{"switches.ub-l1.latency": 200}``. ``chip.``/``cpu.`` address the system's chip and CPU.

    Raises:
        SpecError: a ValueError naming the file, the field and the value.
    """
    # Every call reads the files afresh, so the document is private and overrides may edit it.
    doc, label, origins = _load_chain(name_or_path)
    # Errors about one field are reported against the file (or the overrides) that set it;
    # errors between fields, which may come from different files, against the file loaded.
    try:
        catalog = _catalog()
        for cat in CATEGORIES:
            own = doc.get(cat, {})
            if not isinstance(own, dict):
                raise SpecError(label, cat, f"expected a table of named components, got {own!r}")
            clash = sorted(set(own) & set(catalog[cat]))
            if clash:
                raise SpecError(label, f"{cat}.{clash[0]}", "already defined in the shipped catalog; choose another name")
            doc[cat] = {**catalog[cat], **own}
        if overrides:
            origins.update(dict.fromkeys(_apply_overrides(doc, overrides, label), "overrides"))
        parsed, head, topology, rest = _parse(doc, label)
    except SpecError as err:
        if _origin(origins, err.field, label) == err.file:
            raise
        raise spec_error(origins, label, [err.field], err.message) from None

    def error(message: str, *fields: str) -> SpecError:
        return spec_error(origins, label, fields, message)

    for name, chip in parsed["chips"].items():
        _check_chip(chip, f"chips.{name}", error)
    if "transport" in rest:
        _check_transport(rest["transport"], _receive_buffers(parsed["switches"], topology), error)
    chip = parsed["chips"][head["chip"]]
    if chip["kind"] == "cpu":
        raise error(f"{head['chip']!r} is a CPU; the compute chip must be an npu or gpu", "system.chip")
    cpu_name = head.get("cpu")
    cpu = parsed["chips"][cpu_name] if cpu_name else None
    if cpu is not None and cpu["kind"] != "cpu":
        raise error(f"{cpu_name!r} is of kind {cpu['kind']!r}, expected 'cpu'", "system.cpu")
    return SystemSpec(
        file=label,
        name=head["name"],
        title=head["title"],
        builder=head["builder"],
        chip_name=head["chip"],
        chip=chip,
        cpu_name=cpu_name,
        cpu=cpu,
        topology=topology,
        links=parsed["links"],
        transceivers=parsed["transceivers"],
        switches=parsed["switches"],
        scale_out=rest.get("scale_out", {}),
        power=rest.get("power", {}),
        racks=rest.get("racks", {}),
        transport=rest.get("transport", {}),
        document=doc,
        origins=origins,
    )


def _receive_buffers(switches: Mapping[str, dict[str, Any]], topology: Mapping[str, Any]) -> dict[str, int]:
    """The receive buffer per port of every switch the topology builds, by the field that sets it."""
    out = {}
    for key in ("switch", "l1_switch", "l2_switch"):
        if key in topology:
            name = topology[key]
            out[f"switches.{name}.buffer_per_port"] = int(switches[name]["buffer_per_port"].si)
    return out


def _parse(doc: dict[str, Any], label: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Check every table of the merged document against its schema: the components by
    category, the ``[system]`` head, the ``[topology]`` and the optional tables."""
    components = {cat: doc[cat] for cat in CATEGORIES}
    parsed = {
        cat: {name: _check(entry, _COMPONENT[cat], label, f"{cat}.{name}", components) for name, entry in components[cat].items()}
        for cat in CATEGORIES
    }
    head = _check(doc["system"], _SYSTEM_HEAD, label, "system", components)
    known = {"system", "topology", *CATEGORIES, *_SYSTEM_REST}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise SpecError(label, unknown[0], f"unknown key; allowed: {sorted(known)}")
    if "topology" not in doc:
        raise SpecError(label, "topology", "missing")
    topology = _check(doc["topology"], _TOPOLOGY[head["builder"]], label, "topology", components)
    rest = _check({k: doc[k] for k in _SYSTEM_REST if k in doc}, _SYSTEM_REST, label, "", components)
    return parsed, head, topology, rest


def quantities(spec: SystemSpec) -> dict[str, Quantity]:
    """Every sourced value the system uses, by dotted path (for provenance tables and audits)."""
    out: dict[str, Quantity] = {}

    def walk(prefix: str, table: Mapping[str, Any]) -> None:
        for key, val in table.items():
            if isinstance(val, Quantity):
                out[f"{prefix}{key}"] = val
            elif isinstance(val, dict):
                walk(f"{prefix}{key}.", val)

    walk("chip.", spec.chip)
    if spec.cpu is not None:
        walk("cpu.", spec.cpu)
    walk("topology.", spec.topology)
    for use in ("rank_link", "uplink"):
        if use in spec.topology:
            walk(f"links.{spec.topology[use]['link']}.", spec.link(use))
            if "transceiver" in spec.topology[use]:
                name = spec.topology[use]["transceiver"]
                walk(f"transceivers.{name}.", spec.transceivers[name])
    for key in ("switch", "l1_switch", "l2_switch"):
        if key in spec.topology:
            walk(f"switches.{spec.topology[key]}.", spec.switches[spec.topology[key]])
    walk("scale_out.", spec.scale_out)
    walk("power.", spec.power)
    walk("racks.", spec.racks)
    return out
