"""Spec files: every shipped value is sourced and well-formed; bad specs fail naming file, field, value."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

import podsim
from podsim.systems import SpecError, load_spec, quantities
from podsim.systems.quantity import DIMENSIONS, EVIDENCE, Quantity, parse_quantity
from podsim.systems.spec import HBM_TYPES, specs_dir

SRC = Path(__file__).resolve().parents[1] / "python" / "podsim"
SHIPPED = ["cloudmatrix384", "cloudmatrix384-sa", "gb200-nvl72", "gb300-nvl72", "hgx-h100", "hgx-h20"]


def test_list_systems() -> None:
    assert podsim.list_systems() == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_value_is_sourced(name: str) -> None:
    spec = load_spec(name)
    qs = quantities(spec)
    assert len(qs) > 15
    for path, q in qs.items():
        assert q.evidence in EVIDENCE and q.evidence != "user", path
        assert q.source, path
        if q.evidence in ("assumption", "D"):
            assert q.note, f"{path}: {q.evidence} needs a note"
        if q.unit in DIMENSIONS["bandwidth"] and not path.endswith("gbps_per_pin"):
            assert re.search(r"_(uni|bidi)(_|$)", path.rsplit(".", 1)[-1]), f"{path}: bandwidth name must say uni/bidi"


REFERENCE = SRC.parents[1] / "docs" / "reference"


def _sections(doc: str) -> set[str]:
    """Section numbers ("1", "1.6") of a reference document's headings."""
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", (REFERENCE / doc).read_text(), flags=re.M))


def _spec_sources() -> list[tuple[str, str]]:
    """(file, source) for every source string in the shipped spec files, alternatives included."""
    found: list[tuple[str, str]] = []

    def walk(node: object, file: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("source"), str):
                found.append((file, node["source"]))
            for child in node.values():
                walk(child, file)
        elif isinstance(node, list):
            for child in node:
                walk(child, file)

    for path in sorted((SRC / "specs").rglob("*.toml")):
        walk(tomllib.loads(path.read_text()), path.name)
    return found


def test_every_source_can_be_looked_up() -> None:
    """A source is a key of the hardware reference's source index, or a section of the hardware or
    faults reference that exists (``hardware.md §1.6``; a bare ``§3.3`` in the HBM presets means
    the hardware reference), an assumption, or a derivation written out in place (``[D] here:``)."""
    hardware = (REFERENCE / "hardware.md").read_text()
    index = hardware[hardware.index("## 0. Source index") : hardware.index("\n## 1.")]
    keys = set(re.findall(r"^\| ([A-Za-z0-9][A-Za-z0-9-]*) \|", index, flags=re.M)) - {"Key"}
    sections = {"hardware.md": _sections("hardware.md"), "faults.md": _sections("faults.md")}
    assert {"CM-v2", "NV-GB300", "Ramulator2"} <= keys and {"1.6", "3.3"} <= sections["hardware.md"]
    sources = _spec_sources()
    assert len(sources) > 200
    for file, source in sources:
        cited = re.findall(r"(?:(hardware\.md|faults\.md) )?§(\d+(?:\.\d+)?)", source)
        for doc, number in cited:
            assert number in sections[doc or "hardware.md"], f"{file}: {source!r}: no section {number} in {doc or 'hardware.md'}"
        named = any(re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", source) for k in keys)
        assert named or cited or source == "assumption" or source.startswith("[D] here:"), f"{file}: {source!r}"


def test_specs_ship_inside_the_wheel() -> None:
    """Every spec file of the source tree is in the installed distribution's file list."""
    shipped = {str(f).replace("\\", "/") for f in importlib.metadata.files("podsim") or []}
    sources = sorted(p.relative_to(SRC.parent).as_posix() for p in (SRC / "specs").rglob("*.toml"))
    # Three component catalogs, the measurements used for calibration, one file per system and
    # one HBM timing preset per memory type.
    assert len(sources) == 4 + len(SHIPPED) + len(podsim.hbm.TYPES)
    for rel in sources:
        assert rel in shipped, f"{rel} missing from the installed wheel"
    assert (specs_dir() / "systems" / "cloudmatrix384.toml").is_file()


@pytest.mark.parametrize("name", SHIPPED)
def test_hbm_fields_for_the_memory_model(name: str) -> None:
    hbm = load_spec(name).chip["hbm"]
    assert hbm["type"] in HBM_TYPES
    assert hbm["gbps_per_pin"].unit == "Gb/s"
    # The vendor figure and the pin arithmetic agree to 0.1 %.
    pins = hbm["stacks"].value * hbm["bus_bits_per_stack"].value
    assert pins * hbm["gbps_per_pin"].value / 8e3 == pytest.approx(hbm["bandwidth_quoted_uni"].si / 1e12, rel=1e-3)


def test_910c_compute_alternatives_are_selectable() -> None:
    default = podsim.system("cloudmatrix384")
    assert default.spec.chip["compute"]["bf16_dense"].value == 780
    for tflops, source in ((752, "CN-notes"), (800, "CN-notes")):
        s = podsim.system("cloudmatrix384", overrides={"chip.compute.bf16_dense": tflops})
        q = s.spec.chip["compute"]["bf16_dense"]
        assert (q.value, q.source) == (tflops, source)
        assert s.peak().bf16_flops == pytest.approx(384 * tflops * 1e12)
    odd = podsim.system("cloudmatrix384", overrides={"chip.compute.bf16_dense": 700})
    assert odd.spec.chip["compute"]["bf16_dense"].evidence == "user"
    # INT8 follows the chosen BF16 rate (2x, CANN-ini).
    assert odd.peak().int8_ops == pytest.approx(2 * 384 * 700e12)


def test_assumptions_are_overridable_parameters() -> None:
    s = podsim.system("cloudmatrix384", overrides={"switches.ub-l1.latency": 200, "topology.cpu_link.links_per_l1": 2})
    nodes = s.topology.nodes()
    assert nodes.set_index("name").loc["node00/l1sw0", "latency_ps"] == 200_000
    assert s.inventory().links["cpu-l1"] == 48 * 4 * 7 * 2
    with pytest.raises(ValueError, match=r"overrides: 'switches.ub-l1.nope'.*no field.*; fields there: buffer_per_port, "):
        podsim.system("cloudmatrix384", overrides={"switches.ub-l1.nope": 1})
    with pytest.raises(ValueError, match=r"no field 'chips.ascend-910c.compute.bf16_dens'; did you mean 'bf16_dense'\?"):
        podsim.system("cloudmatrix384", overrides={"chip.compute.bf16_dens": 752})
    numpy_valued = podsim.system("cloudmatrix384", overrides={"switches.ub-l1.latency": np.int64(200)})
    assert numpy_valued.topology.nodes().set_index("name").loc["node00/l1sw0", "latency_ps"] == 200_000
    store_and_forward = podsim.system("cloudmatrix384", overrides={"switches.ub-l1.cut_through": np.bool_(False)})
    assert not store_and_forward.topology.nodes().set_index("name").loc["node00/l1sw0", "cut_through"]
    with pytest.raises(ValueError, match=r"no field 'switchs'; did you mean 'switches'\?"):
        podsim.system("cloudmatrix384", overrides={"switchs.ub-l1.latency": 200})
    # A figure beyond any hardware would make totals infinite, and compare call inf "better".
    with pytest.raises(ValueError, match=r"bf16_dense.value: must be at most 1e\+30 FLOP/s in base units, got 1e\+300 TFLOPS"):
        podsim.system("cloudmatrix384", overrides={"chip.compute.bf16_dense": 1e300})


# ---- bad specs (issue item 7): each names the file, the field and the value -------------------

BASE = (SRC / "specs" / "systems" / "cloudmatrix384.toml").read_text()


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _variant(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


BAD = {
    "unknown key in a table": (
        _variant("[topology]\n", "[topology]\nnodez = 3\n"), "topology.nodez", "unknown key"),
    "unknown key in a value": (
        _variant('nodes = { value = 48, unit = "count"', 'nodes = { valu = 48, value = 48, unit = "count"'),
        "topology.nodes", "valu"),
    "unknown top-level table": (BASE + "\n[cooling]\nliquid = true\n", "cooling", "unknown key"),
    "missing field": (
        re.sub(r"^l2_per_plane = .*\n", "", BASE, flags=re.M), "topology.l2_per_plane", "missing"),
    "missing source": (
        _variant('nodes = { value = 48, unit = "count", source = "CM-v2", ', 'nodes = { value = 48, unit = "count", '),
        "topology.nodes.source", "missing"),
    "negative count": (
        _variant('nodes = { value = 48,', 'nodes = { value = -48,'), "topology.nodes", "-48"),
    "zero count": (
        _variant('l2_per_plane = { value = 16,', 'l2_per_plane = { value = 0,'), "topology.l2_per_plane", "got 0"),
    "fractional count": (
        _variant('chips_per_node = { value = 8,', 'chips_per_node = { value = 8.5,'), "topology.chips_per_node", "8.5"),
    "wrong unit": (
        _variant('latency = { value = 100, unit = "ns"', 'latency = { value = 100, unit = "GB/s"'),
        "topology.uplink.latency.unit", "'GB/s'"),
    "unit of another dimension for a count": (
        _variant('nodes = { value = 48, unit = "count"', 'nodes = { value = 48, unit = "W"'),
        "topology.nodes.unit", "'W'"),
    "bad evidence tag": (
        _variant('evidence = "P", note = "12 compute racks', 'evidence = "rumour", note = "12 compute racks'),
        "topology.nodes.evidence", "'rumour'"),
    "assumption without a why": (
        re.sub(r'(links_per_l1 = \{ value = 1, unit = "count", source = "assumption", evidence = "assumption"), note = "[^"]*"',
               r"\1", BASE), "topology.cpu_link.links_per_l1.note", "needs a note"),
    "unknown link type": (
        _variant('link = "ub-224g"', 'link = "ub-9000g"'), "topology.rank_link.link", "'ub-9000g'"),
    "unknown builder": (
        _variant('builder = "two-tier-clos"', 'builder = "torus"'), "system.builder", "'torus'"),
    "switch wired to more ports than it has": (
        BASE.replace('l2_switch = "ub-l2"', 'l2_switch = "small-l2"') + """
[switches.small-l2]
title = "a 32-port chip"
ports = { value = 32, unit = "count", source = "test", evidence = "V" }
latency = { value = 150, unit = "ns", source = "test", evidence = "V" }
buffer_per_port = { value = 64, unit = "KiB", source = "test", evidence = "V" }
cut_through = { value = true, source = "test", evidence = "V" }
""", "switches.small-l2.ports", "needs 48 ports"),
    "links that do not spread over the L1 switches": (
        _variant('l1_per_node = { value = 7,', 'l1_per_node = { value = 4,'), "chips.ascend-910c.scale_up_links", "7 links"),
    "unreachable endpoint": (
        BASE.replace('chip = "ascend-910c"', 'chip = "island-910c"') + """
[chips.island-910c]
kind = "npu"
title = "910C whose dies only talk to each other"
dies = { value = 2, unit = "count", source = "test", evidence = "V" }
die_endpoints = true
scale_up_links = { value = 0, unit = "count", source = "test", evidence = "V" }
die_to_die_rate_uni = { value = 270, unit = "GB/s", source = "test", evidence = "V" }
power = { value = 350, unit = "W", source = "test", evidence = "V" }
[chips.island-910c.compute]
bf16_dense = { value = 780, unit = "TFLOPS", source = "test", evidence = "V" }
[chips.island-910c.hbm]
type = "HBM2E"
stacks = { value = 8, unit = "count", source = "test", evidence = "V" }
bus_bits_per_stack = { value = 1024, unit = "bit", source = "test", evidence = "V" }
gbps_per_pin = { value = 3.125, unit = "Gb/s", source = "test", evidence = "V" }
capacity_per_stack = { value = 16, unit = "GiB", source = "test", evidence = "V" }
""", "chips.island-910c.scale_up_links", "cannot reach"),
    "HBM pin rate contradicting the quoted bandwidth": (
        BASE.replace('chip = "ascend-910c"', 'chip = "fast-hbm"') + """
[chips.fast-hbm]
kind = "npu"
title = "wrong pin rate"
dies = { value = 1, unit = "count", source = "test", evidence = "V" }
die_endpoints = false
scale_up_links = { value = 14, unit = "count", source = "test", evidence = "V" }
power = { value = 350, unit = "W", source = "test", evidence = "V" }
[chips.fast-hbm.compute]
bf16_dense = { value = 780, unit = "TFLOPS", source = "test", evidence = "V" }
[chips.fast-hbm.hbm]
type = "HBM2E"
stacks = { value = 8, unit = "count", source = "test", evidence = "V" }
bus_bits_per_stack = { value = 1024, unit = "bit", source = "test", evidence = "V" }
gbps_per_pin = { value = 6.4, unit = "Gb/s", source = "test", evidence = "V" }
capacity_per_stack = { value = 16, unit = "GiB", source = "test", evidence = "V" }
bandwidth_quoted_uni = { value = 3.2, unit = "TB/s", source = "test", evidence = "V" }
""", "chips.fast-hbm.hbm.gbps_per_pin", "6.4 Gb/s"),
    "redefining a shipped component": (
        BASE + '\n[links.ub-224g]\ntitle = "x"\nrate_uni = { value = 1, unit = "GB/s", source = "t", evidence = "V" }\n',
        "links.ub-224g", "already defined"),
    "TOML syntax": (BASE + "\n[topology\n", "(syntax)", ""),
    # Values the engine would refuse at the first run are refused here, against their field.
    "MTU not above the header": (_variant('mtu = { value = 4128,', 'mtu = { value = 32,'), "transport.header",
                                 "transport.header (32 B) must be smaller than transport.mtu (32 B)"),
    "MTU beyond 2^30": (_variant('mtu = { value = 4128,', f'mtu = {{ value = {(1 << 30) + 1},'), "transport.mtu", "1073741825"),
    "ack larger than the MTU": (_variant('ack = { value = 32,', 'ack = { value = 5000,'), "transport.ack", "(5000 B) must be at most"),
    "zero header and no request size": (
        re.sub(r"^request = .*\n", "", _variant('header = { value = 32,', 'header = { value = 0,'), flags=re.M),
        "transport.request", "header is 0"),
    "transaction beyond 2^48": (_variant('txn = { value = 4096,', f'txn = {{ value = {(1 << 48) + 1},'), "transport.txn", "281474976710657"),
    "retransmission timeout not a whole ps": (
        _variant('retransmit_timeout = { value = 10, unit = "us"', 'retransmit_timeout = { value = 0.1, unit = "ps"'),
        "transport.retransmit_timeout.value", "whole number of picoseconds (the engine's time step), got 0.1 ps"),
    "latency beyond 2^62 ps": (
        _variant('latency = { value = 100, unit = "ns"', 'latency = { value = 5e6, unit = "s"'), "topology.uplink.latency.value", "got 5000000 s = 5000000000000000000 ps"),
    "link faster than 1e15 B/s": (
        BASE.replace('link = "ub-224g"', 'link = "fast"', 1)
        + '\n[links.fast]\ntitle = "x"\nrate_uni = { value = 2000, unit = "TB/s", source = "t", evidence = "V" }\n',
        "links.fast.rate_uni.value", "got 2000 TB/s"),
}

# HBM capacity in decimal GB would lose 7%: the DRAM makers' "GB" are GiB.
BAD["HBM capacity in decimal GB"] = (
    BAD["HBM pin rate contradicting the quoted bandwidth"][0].replace("value = 6.4,", "value = 3.125,").replace(
        'capacity_per_stack = { value = 16, unit = "GiB"', 'capacity_per_stack = { value = 16, unit = "GB"'),
    "chips.fast-hbm.hbm.capacity_per_stack.unit", "(DRAM makers' GB are GiB), got 'GB'")

NVL72 = (SRC / "specs" / "systems" / "gb300-nvl72.toml").read_text()


def test_single_tier_refuses_a_partial_switch_tray(tmp_path: Path) -> None:
    old = "switches_per_tray = { value = 2,"
    assert old in NVL72
    path = _write(tmp_path, NVL72.replace(old, "switches_per_tray = { value = 4,", 1))
    with pytest.raises(SpecError, match=rf"^{re.escape(path)}: topology\.switches_per_tray: topology\.switches = 18 switch chips .* whole trays of 4$"):
        podsim.system(path)
    # Set through the overrides, the field is reported against them.
    with pytest.raises(SpecError, match=r"^overrides: topology\.switches_per_tray: .* \(loading gb300-nvl72\)$"):
        podsim.system("gb300-nvl72", overrides={"topology.switches_per_tray": 4})


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spec_names_file_field_and_value(tmp_path: Path, case: str) -> None:
    text, field, value = BAD[case]
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        podsim.system(path)
    msg = str(err.value)
    assert isinstance(err.value, SpecError) or case == "unreachable endpoint"
    assert msg.startswith(path), msg
    assert field in msg, msg
    assert value in msg, msg


def test_extends_cycle_and_missing_file(tmp_path: Path) -> None:
    a = _write(tmp_path, '[system]\nname = "a"\ntitle = "a"\nextends = "b.toml"\n', "a.toml")
    _write(tmp_path, '[system]\nname = "b"\ntitle = "b"\nextends = "a.toml"\n', "b.toml")
    with pytest.raises(ValueError, match=r"system\.extends: circular"):
        podsim.system(a)
    with pytest.raises(ValueError, match="no such spec file"):
        podsim.system("cloudmatrix999")
    # A file reached through ".." is the same file.
    (tmp_path / "d").mkdir()
    loop = _write(tmp_path, '[system]\nname = "s"\nextends = "../d/self.toml"\n', "d/self.toml")
    with pytest.raises(SpecError, match=r"self\.toml: system\.extends: circular"):
        podsim.system(loop)
    # A missing parent is reported by the file that names it.
    orphan = _write(tmp_path, '[system]\nname = "o"\nextends = "nowhere.toml"\n', "orphan.toml")
    with pytest.raises(SpecError, match=rf"^{re.escape(orphan)}: system\.extends: 'nowhere\.toml' names no spec file \(looked for .*nowhere\.toml\)"):
        podsim.system(orphan)
    typo = _write(tmp_path, '[system]\nname = "t"\nextends = "gb300-nvl27"\n', "typo.toml")
    with pytest.raises(SpecError, match=r"typo\.toml: system\.extends: 'gb300-nvl27' names no spec file; shipped systems: .*gb300-nvl72"):
        podsim.system(typo)
    to_dir = _write(tmp_path, '[system]\nname = "t"\nextends = "d/"\n', "to_dir.toml")
    with pytest.raises(SpecError, match=r"to_dir\.toml: system\.extends: 'd/' is a directory"):
        podsim.system(to_dir)
    # The chain is shown as paths a reader can open, not as "d/../x.toml".
    _write(tmp_path, '[system]\nname = "x"\nextends = "d/y.toml"\n', "x.toml")
    y = _write(tmp_path, '[system]\nname = "y"\nextends = "../x.toml"\n', "d/y.toml")
    with pytest.raises(SpecError, match=r"circular: .*d/y\.toml -> \S*/x\.toml -> \S*/d/y\.toml$"):
        podsim.system(y)


def test_an_error_names_the_file_that_set_the_field(tmp_path: Path) -> None:
    base = _write(tmp_path, _variant('nodes = { value = 48,', 'nodes = { value = -48,'), "base.toml")
    child = _write(tmp_path, '[system]\nname = "c"\nextends = "base.toml"\n', "child.toml")
    with pytest.raises(SpecError, match=rf"^{re.escape(base)}: topology\.nodes\.value: must be > 0, got -48 \(loading {re.escape(child)}\)"):
        podsim.system(child)
    with pytest.raises(SpecError, match=r"^overrides: switches\.ub-l1\.latency\.value: must be >= 0, got -1 \(loading cloudmatrix384\)"):
        podsim.system("cloudmatrix384", overrides={"switches.ub-l1.latency": -1})
    with pytest.raises(SpecError, match=r"^overrides: transport\.mtu\.value: must be in \[2, 1073741824\] B \(a packet size the engine takes, at most 2\^30 B\), got 1 B"):
        podsim.system("cloudmatrix384", overrides={"transport.mtu": 1})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # round(0.5) is 0: a timeout of 0.5 ps would be 0 ps at the first run; it is not whole ps.
        ({"transport.retransmit_timeout": 0.5e-6}, r"^overrides: transport\.retransmit_timeout\.value: .*picoseconds.* got 5e-07 us = 0\.5 ps"),
        ({"transport.retransmit_timeout": 0.0}, r"^overrides: transport\.retransmit_timeout\.value: must be > 0, got 0\.0"),
        # 2^64 bytes is one more than the engine's largest buffer (float(2^64 - 1) would round up to it).
        ({"switches.ub-l1.buffer_per_port": 2**54}, r"buffer_per_port\.value: must be in \[1, 18446744073709551615\] B .*got 18014398509481984 KiB"),
        ({"chip.scale_up_links": 65535}, r"^overrides: chips\.ascend-910c\.scale_up_links: a die needs scale_up_links \+ dies - 1 = 65536 ports"),
        ({"topology.cpu_link.links_per_l1": 10000, "switches.ub-l1.ports": 65535},
         r"^overrides: topology\.cpu_link\.links_per_l1: a CPU needs topology\.l1_per_node x links_per_l1 = 70000 ports"),
        ({"cpu.scale_up_bandwidth_uni": 2e-9},
         r"^overrides: chips\.kunpeng\.scale_up_bandwidth_uni: .* = 7 CPU links is 0\.285714 B/s each, below the engine's 1 B/s \(loading cloudmatrix384\)$"),
        # A problem between fields names the one the overrides changed, with both values.
        ({"transport.mtu": 16}, r"^overrides: transport\.mtu: transport\.header \(32 B\) must be smaller than transport\.mtu \(16 B\) \(loading cloudmatrix384\)$"),
        # A packet must fit every receive buffer, or no run could start.
        ({"switches.ub-l1.buffer_per_port": 1},
         r"^overrides: switches\.ub-l1\.buffer_per_port: transport\.mtu \(4128 B\) must fit in switches\.ub-l1\.buffer_per_port \(1024 B\)"),
        ({"transport.mtu": 1 << 20}, r"^overrides: transport\.mtu: transport\.mtu \(1048576 B\) must fit in an endpoint's receive buffer \(262144 B"),
        ({"switches.ub-l1.ports": 100000}, r"^overrides: switches\.ub-l1\.ports\.value: must be in \[1, 65535\] \(the engine\'s most ports per node\), got 100000 \("),
        ({"topology.nodes": 10**400}, r"^overrides: topology\.nodes\.value: must be finite, got an integer of 401 digits"),
    ],
)
def test_derived_and_rounded_values_are_checked(overrides: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        podsim.system("cloudmatrix384", overrides=overrides)


def test_outstanding_transactions_are_bounded(tmp_path: Path) -> None:
    """A chip of the user's own, copied from the catalog's 910C with a 32-bit count exceeded."""
    catalog = (specs_dir() / "chips.toml").read_text()
    own = "".join(b for b in re.split(r"(?m)^(?=\[)", catalog) if b.startswith("[chips.ascend-910c")).replace("[chips.ascend-910c", "[chips.mine")
    own = own.replace("[chips.mine.endpoint]\n", '[chips.mine.endpoint]\nmax_outstanding_reads = { value = 4294967296, unit = "count", source = "x", evidence = "V" }\n')
    child = _write(tmp_path, f'[system]\nname = "c"\nextends = "cloudmatrix384"\nchip = "mine"\n\n{own}', "child.toml")
    with pytest.raises(SpecError, match=r"child\.toml: chips\.mine\.endpoint\.max_outstanding_reads\.value: must be in \[1, 4294967295\] \(the engine\'s 32-bit counter\), got 4294967296$"):
        podsim.system(child)


def test_values_are_converted_exactly() -> None:
    def q(value: object, unit: str, **kw: object) -> Quantity:
        return parse_quantity({"value": value, "unit": unit, "source": "x", "evidence": "V"}, "f", "p", "bytes", integer=True, **kw)

    assert q(2**64 - 1, "B").si == 2**64 - 1  # as a float it would be 2^64, beyond the engine's range
    assert q(0.03125, "KiB").si == 32  # whole in bytes, the unit the engine counts in
    assert q(1.07, "GB").si == 1_070_000_000  # the decimal written, not the binary float 1.07
    with pytest.raises(SpecError, match=r"^f: p\.value: must be a whole number of B, got 0\.1 KiB$"):
        q(0.1, "KiB")
    with pytest.raises(SpecError, match=r"p\.value: must be finite, got an integer of 401 digits"):
        q(10**400, "B")


def test_partial_value_tables_do_not_mix_with_the_base(tmp_path: Path) -> None:
    """A child setting only a value's unit must not turn the base's 5 ns into 5 us under the
    base's source."""
    child = _write(tmp_path, '[system]\nname = "c"\nextends = "hgx-h100"\n\n[topology.rank_link.latency]\nunit = "us"\n', "child.toml")
    with pytest.raises(SpecError, match=r"child\.toml: topology\.rank_link\.latency\.value: missing"):
        podsim.system(child)


def test_spec_files_that_cannot_be_followed(tmp_path: Path) -> None:
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    with pytest.raises(SpecError, match=r"loop\.toml: \(file\): .* cannot be resolved"):
        podsim.system(loop)
    child = _write(tmp_path, '[system]\nname = "c"\nextends = "loop.toml"\n', "child.toml")
    with pytest.raises(SpecError, match=r"child\.toml: system\.extends: .*loop\.toml' cannot be resolved"):
        podsim.system(child)
    # A chain deeper than the loader follows is refused by the file where it gives up.
    for i in range(70):
        _write(tmp_path, f'[system]\nname = "c{i}"\nextends = "c{i + 1}.toml"\n', f"c{i}.toml")
    with pytest.raises(SpecError, match=r"c63\.toml: system\.extends: more than 64 files extend one another"):
        podsim.system(tmp_path / "c0.toml")


def test_extends_outside_the_system_table(tmp_path: Path) -> None:
    top = _write(tmp_path, 'extends = "gb300-nvl72"\n\n[system]\nname = "mine"\n', "top.toml")
    with pytest.raises(SpecError, match=r"top\.toml: extends: belongs in the \[system\] table"):
        podsim.system(top)


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + b'[system]\nname = "bom"\nextends = "hgx-h100"\n')
    assert podsim.system(bom).name == "bom"


def test_figures_only_reported_are_not_held_to_the_engine_range() -> None:
    """A scale-out rate is only reported (peak figures), so the engine's 1e15 B/s does not apply."""
    s = podsim.system("cloudmatrix384", overrides={"scale_out.rate_uni_per_chip": 1e7})  # Gb/s
    assert s.spec.scale_out["rate_uni_per_chip"].si > 1e15


def test_times_the_engine_uses_are_whole_picoseconds_as_written() -> None:
    """A time is not rounded to the engine's 1 ps step: 0.3 ps became 0 ps without a word (the CLI
    refused such times already). Decimals that are whole ps are exact, whatever the float."""
    with pytest.raises(SpecError, match=r"^overrides: switches\.ub-l1\.latency\.value: must be a whole number of "
                       r"picoseconds \(the engine's time step\), got 0\.0003 ns = 0\.3 ps \(loading cloudmatrix384\)$"):
        podsim.system("cloudmatrix384", overrides={"switches.ub-l1.latency": 0.0003})
    s = podsim.system("cloudmatrix384", overrides={"transport.replay": 0.001, "switches.ub-l1.latency": 0.0})
    assert s.run_defaults()["replay_ps"] == 1
    # 4.35 ns is 4.3499999999999996e-09 s as a float: still exactly 4,350 ps.
    assert podsim.system("cloudmatrix384", overrides={"transport.replay": 4.35}).run_defaults()["replay_ps"] == 4350
    # A figure that is only reported keeps its fraction.
    s = podsim.system("cloudmatrix384", overrides={"transceivers.lpo-400g.fec_latency": 136.5004})
    assert s.spec.transceivers["lpo-400g"]["fec_latency"].value == 136.5004


def test_unreadable_spec_files(tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text('[system]\nname = "x"\n', encoding="utf-16")
    with pytest.raises(SpecError, match=r"utf16\.toml: \(file\): is not UTF-8 text"):
        podsim.system(utf16)
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(SpecError, match=r"dir\.toml: \(file\): cannot be read"):
        podsim.system(tmp_path / "dir.toml")
    with pytest.raises(TypeError, match="name_or_path"):
        podsim.system(384)  # type: ignore[arg-type]


def test_no_headline_aggregate_is_a_literal() -> None:
    """Aggregates must be computed: none of the headline figures appears as a number in the code
    or as a spec value (tests may hold them; python/ and csrc/ may not)."""
    headline = re.compile(r"(?<![\w.,])(269|268\.8|301\.1|301\.06|1,?229|1,?228\.8|129\.6|576|6,?912|5,?376|336)(?![\w.,])")
    root = SRC.parents[1]
    for path in [*root.joinpath("python").rglob("*.py"), *root.joinpath("csrc").rglob("*.[ch]*")]:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            assert not headline.search(line), f"{path}:{i}: {line.strip()}"
    for path in root.joinpath("python").rglob("*.toml"):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            m = re.search(r"value = ([\d.]+)", line)
            assert not (m and headline.fullmatch(m.group(1))), f"{path}:{i}: {line.strip()}"


#: Source keys of the hardware reference's index (hardware.md §0); other sources must point into it
#: or into the faults reference by section ("hardware.md §2.3 (...)", "faults.md §1.2") or be "assumption".
REFERENCE_KEYS = {"CM-v2", "CM-v3", "SA-CM384", "TH-2025", "WP-SuperPod", "CN-notes", "CANN-ini", "NV-GB200",
                  "NV-GB300", "NV-H200", "NV-BU", "NV-GB200-blog", "Ramulator2", "DRAMsim3", "JEDEC-HBM3",
                  "Samsung-HBM2E"}


@pytest.mark.parametrize("name", SHIPPED)
def test_source_keys_point_into_the_reference(name: str) -> None:
    for path, q in quantities(load_spec(name)).items():
        ok = q.source in REFERENCE_KEYS or q.source.startswith(("hardware.md §", "faults.md §")) or q.source == "assumption"
        assert ok, f"{path}: source {q.source!r}"
        assert (q.source == "assumption") == (q.evidence == "assumption"), path


def test_sa_variant_differs_only_in_the_ub_link() -> None:
    """The whole gap between 301 and 269 TB/s is the link type: every other value is identical."""
    paper, sa = quantities(load_spec("cloudmatrix384")), quantities(load_spec("cloudmatrix384-sa"))
    only_paper = {k for k in paper if k not in sa or paper[k] != sa[k]}
    only_sa = {k for k in sa if k not in paper or paper[k] != sa[k]}
    assert only_paper == {"links.ub-224g.rate_uni"}
    assert only_sa == {"links.ub-sa-200g.rate_uni"}
    assert load_spec("cloudmatrix384-sa").topology["rank_link"]["link"] == "ub-sa-200g"


@pytest.mark.parametrize("name", podsim.list_systems())
def test_size_checked_before_building_is_the_size_built(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The builders check the engine's limits on counts worked out before building: they must
    be the counts of the fabric then built (endpoints, nodes, queue pairs)."""
    from podsim.systems import clos, single_tier

    seen = []
    for module in (clos, single_tier):
        real = module.require_size
        monkeypatch.setattr(module, "require_size", lambda spec, size, *f, real=real: (seen.append(size), real(spec, size, *f)))
    t = podsim.system(name).topology
    ch = t.channels()
    ins, outs = np.bincount(ch.dst, minlength=t.num_nodes), np.bincount(ch.src, minlength=t.num_nodes)
    assert [(s.endpoints, s.nodes, s.queue_pairs) for s in seen] == [(t.num_endpoints, t.num_nodes, int(((ins + 1) * outs).sum()))]


def test_a_system_too_large_for_the_engine_is_refused_before_it_is_built() -> None:
    with pytest.raises(SpecError, match=r"^overrides: topology\.chips: the fabric is too large for the engine \(topology\.chips, topology\.switches\): "
                                        r"60000 endpoints and 60018 nodes need 3601080000 routing entries"):
        podsim.system("gb300-nvl72", overrides={"topology.chips": 60_000, "switches.nvswitch-gen4.ports": 65535})
