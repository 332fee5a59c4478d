"""Bad input raises ValueError/TypeError naming the field; never a crash or a hang."""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import podsim


def small() -> tuple[podsim.Topology, int, int]:
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    s = t.add_switch("s", latency_ps=1000, buffer_bytes=64 << 10)
    t.connect(a, s, rate_Bps=1e9, latency_ps=100)
    t.connect(s, b, rate_Bps=1e9, latency_ps=100)
    return t, a, b


@pytest.mark.parametrize("rate", [0, -1.0, math.nan, math.inf, 2e15, 0.5])
def test_bad_rates(rate: float) -> None:
    t, a, b = small()
    with pytest.raises(ValueError, match="rate_Bps"):
        t.connect(a, b, rate_Bps=rate, latency_ps=10)


@pytest.mark.parametrize("field", ["read_rate_Bps", "write_rate_Bps", "write_issue_rate_Bps"])
@pytest.mark.parametrize("rate", [1e-300, 1e-4, 0.5, 0.0, 2e15])
def test_endpoint_engine_rates_below_one_byte_per_second_are_refused(field: str, rate: float) -> None:
    """A rate under 1 B/s used to round to 0, which means unlimited: a slow engine became infinitely fast."""
    t = podsim.Topology()
    with pytest.raises(ValueError, match=rf"{field}: must be .*1e\+?15"):
        t.add_endpoint("a", **{field: rate})
    assert t.add_endpoint("b", **{field: 1.0}) >= 0


@pytest.mark.parametrize("field", ["latency_ps", "issue_latency_ps", "read_latency_ps", "write_latency_ps"])
def test_endpoint_latencies_name_the_real_limit(field: str) -> None:
    t = podsim.Topology()
    with pytest.raises(ValueError, match=rf"{field}: must be in \[0, {1 << 62}\]"):
        t.add_endpoint("a", **{field: (1 << 62) + 1})


@pytest.mark.parametrize(
    "case",
    ["slow link", "long latency", "chained delays"],
)
def test_simulated_time_never_wraps(case: str) -> None:
    """Runs that would pass 2^62 ps stop with OverflowError naming simulated time; they used to
    wrap 2^64 and report end times before delivery times, or a link faster than its rate."""
    p = podsim.fabrics.LinkParams(rate_Bps=1.0 if case == "slow link" else 1e9,
                                  latency_ps=(1 << 62) if case == "long latency" else 1000)
    t = podsim.fabrics.star(2, p)
    a, b = (int(e) for e in t.endpoints)
    if case == "chained delays":
        msgs = podsim.Messages(src=[a] * 6, dst=[b] * 6, size=1, delay_ps=1 << 62,
                               deps=[(i, i + 1) for i in range(5)])
    else:
        msgs = podsim.Messages(src=[a], dst=[b], size=25_000_000 if case == "slow link" else 1)
    sim = podsim.Simulation(t)
    with pytest.raises(OverflowError, match="simulated time: an event at .* ps is past the last simulated time"):
        sim.add(msgs)
        sim.run()
    with pytest.raises(RuntimeError, match="cannot continue after an earlier error"):
        sim.run()


def test_bad_rate_type() -> None:
    t, a, b = small()
    with pytest.raises(TypeError, match="rate_Bps"):
        t.connect(a, b, rate_Bps="fast", latency_ps=10)  # type: ignore[arg-type]


def test_zero_latency_link_rejected() -> None:
    t, a, b = small()
    with pytest.raises(ValueError, match="latency_ps"):
        t.connect(a, b, rate_Bps=1e9, latency_ps=0)


@pytest.mark.parametrize("node", [99, -1])
def test_unknown_node_ids(node: int) -> None:
    t, a, _ = small()
    with pytest.raises(ValueError, match="b: "):
        t.connect(a, node, rate_Bps=1e9, latency_ps=10)


def test_self_link_and_duplicate_names() -> None:
    t, a, _ = small()
    with pytest.raises(ValueError, match="itself"):
        t.connect(a, a, rate_Bps=1e9, latency_ps=10)
    with pytest.raises(ValueError, match="name"):
        t.add_endpoint("a")
    with pytest.raises(ValueError, match="name"):
        t.add_switch("", latency_ps=0, buffer_bytes=1)


def test_max_ports_enforced() -> None:
    t = podsim.Topology()
    s = t.add_switch("s", latency_ps=0, buffer_bytes=8192, max_ports=1)
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    t.connect(a, s, rate_Bps=1e9, latency_ps=1)
    with pytest.raises(ValueError, match="'s' already uses all of its 1 ports"):
        t.connect(b, s, rate_Bps=1e9, latency_ps=1)


def test_a_node_has_at_most_65535_ports() -> None:
    """Routing indexes ports in 16 bits: the 65,536th port is refused when it is made, not at the
    first simulation."""
    t = podsim.Topology()
    s = t.add_switch("s", latency_ps=0, buffer_bytes=8192, max_ports=100_000)  # a capacity, not a promise
    ends = [t.add_endpoint(f"h{i}") for i in range(3)]
    for _ in range(65535 // 2):
        t.connect(ends[0], s, rate_Bps=1e9, latency_ps=1)
        t.connect(ends[1], s, rate_Bps=1e9, latency_ps=1)
    t.connect(ends[2], s, rate_Bps=1e9, latency_ps=1)
    with pytest.raises(ValueError, match="'s' already has 65535 ports, the most a node can have"):
        t.connect(ends[2], s, rate_Bps=1e9, latency_ps=1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        # The ranges are what the engine can hold: the hub's queues (n + 1 inputs x n outputs)
        # and routing tables (nodes x endpoints) within 2^31.
        # The message says which limit the first size refused would break.
        (lambda p: podsim.fabrics.star(46340, p),
         r"n: must be in \[2, 46339\] \(n = 46340: its nodes need 2147534620 queues, one per \(input, output\) pair, "
         r"of 12 bytes; the engine allows at most 2147483648 \(2\^31\)\), got 46340$"),
        (lambda p: podsim.fabrics.ring(32769, p),
         r"n: must be in \[3, 32768\] \(n = 32769: 32769 endpoints and 65538 nodes need 2147614722 routing entries .*\), got 32769$"),
        (lambda p: podsim.fabrics.full_mesh(1291, p), r"n: must be in \[2, 1290\] \(n = 1291: its nodes need 2150018490 queues.*\), got 1291$"),
        (lambda p: podsim.fabrics.star(1, p), r"^n: must be in \[2, 46339\], got 1$"),  # the upper limit's reason is not why
        (lambda p: podsim.fabrics.folded_clos(65536, 1, 1, p),
         r"^groups: must be in \[1, 65535\] \(a spine has a port per group, and the engine allows at most 65535 ports per node\), got 65536$"),
        (lambda p: podsim.fabrics.folded_clos(1, 1, 1, p, planes=65536),
         r"^planes: must be in \[1, 65535\] \(an endpoint has a port per plane, and the engine allows at most 65535 ports per node\), got 65536$"),
        (lambda p: podsim.fabrics.folded_clos(2, 65000, 600, p), r"spines_per_plane: a leaf has hosts_per_group \+ spines_per_plane ports, at most 65535; got 65000 \+ 600"),
        (lambda p: podsim.fabrics.folded_clos(65535, 1000, 1, p),
         r"65535000 endpoints and 65600536 nodes need 4299131126760000 routing entries of 6 bytes; the engine allows at most 2147483648"),
        (lambda p: podsim.fabrics.folded_clos(2, 2, 65533, p, planes=1024),
         r"planes=1024\): its nodes need 8796365637632 queues, one per \(input, output\) pair, of 12 bytes; the engine allows at most 2147483648"),
        (lambda p: podsim.fabrics.star(4, None), "params: expected a podsim.fabrics.LinkParams, got NoneType"),
    ],
)
def test_fabric_builders_refuse_what_the_engine_cannot_run(build: Any, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_building(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the builder started building a fabric it should have refused")

    # Were a check missing, the builder must fail here, not spend minutes and all memory building.
    monkeypatch.setattr(podsim.Topology, "add_endpoint", no_building)
    p = podsim.fabrics.LinkParams(rate_Bps=1e9, latency_ps=1)
    with pytest.raises((ValueError, TypeError), match=message):
        build(p)


def test_the_largest_fabrics_are_still_built() -> None:
    """The builders' ranges are exact: the largest sizes they accept pass their own checks."""
    sizes = podsim.fabrics
    assert sizes._star_size(46339).problem() is None and sizes._star_size(46340).problem() is not None
    assert sizes._ring_size(32768).problem() is None and sizes._ring_size(32769).problem() is not None
    assert sizes._full_mesh_size(1290).problem() is None and sizes._full_mesh_size(1291).problem() is not None


@pytest.mark.parametrize(
    "field", ["rate_Bps", "latency_ps", "switch_latency_ps", "buffer_bytes", "endpoint_buffer_bytes", "cut_through"]
)
def test_link_params_errors_name_their_own_field(field: str) -> None:
    good: dict[str, Any] = {"rate_Bps": 1e9, "latency_ps": 1}
    with pytest.raises((ValueError, TypeError), match=rf"^LinkParams\.{field}: "):
        podsim.fabrics.LinkParams(**{**good, field: "yes" if field == "cut_through" else -1})


def test_routing_tables_beyond_the_limit_are_refused() -> None:
    """A fabric whose routing tables would not fit is refused before they are filled."""
    t = podsim.Topology()
    switches = [t.add_switch(f"s{i}", latency_ps=0, buffer_bytes=1 << 16) for i in range(23171)]
    for i, s in enumerate(switches):  # a line of switches, two endpoints on each
        for k in range(2):
            t.connect(t.add_endpoint(f"h{i}.{k}"), s, rate_Bps=1e9, latency_ps=1)
        if i:
            t.connect(switches[i - 1], s, rate_Bps=1e9, latency_ps=1)
    msg = podsim.Messages(src=[1], dst=[2], size=[64])
    with pytest.raises(ValueError, match=r"routing tables for 69513 nodes x 46342 endpoints need 3221371446 entries of 6 bytes; at most 2147483648 \(2\^31\)"):
        podsim.simulate(t, msg)


def test_queue_state_beyond_the_limit_is_refused() -> None:
    """Every node keeps a queue per (input, output) pair: a node of tens of thousands of ports is
    refused before anything is allocated, naming it."""
    t = podsim.Topology()
    hub = t.add_switch("hub", latency_ps=0, buffer_bytes=1 << 16, max_ports=65535)
    a, b = t.add_endpoint("a", max_ports=65535), t.add_endpoint("b", max_ports=65535)
    for _ in range(23200):
        t.connect(a, hub, rate_Bps=1e9, latency_ps=1)
        t.connect(b, hub, rate_Bps=1e9, latency_ps=1)
    with pytest.raises(ValueError, match=r"3229532800 in all \(node 'hub': 46401 inputs x 46400 outputs\) of 12 bytes each; at most 2147483648 \(2\^31\)"):
        podsim.Simulation(t)


@pytest.mark.parametrize("size", [0, -5, 2**48 + 1])
def test_message_size_range(size: int) -> None:
    with pytest.raises(ValueError, match="size"):
        podsim.Messages([0], [1], [size])


def test_message_arrays() -> None:
    with pytest.raises(ValueError, match="dst: expected 2 entries"):
        podsim.Messages([0, 1], [1], [10, 10])
    with pytest.raises(TypeError, match="src"):
        podsim.Messages(["a"], [1], [10])
    with pytest.raises(ValueError, match="size: entries must be whole numbers"):
        podsim.Messages([0], [1], [1.5])
    with pytest.raises(ValueError, match="dst == src"):
        podsim.Messages([0], [0], [10])
    with pytest.raises(ValueError, match="kind"):
        podsim.Messages([0], [1], [10], kind="send")
    with pytest.raises(ValueError, match="src: expected a 1-D"):
        podsim.Messages(np.zeros((2, 2)), [1, 1], [1, 1])


def test_dependency_errors() -> None:
    t, a, b = small()
    with pytest.raises(ValueError, match="cycle"):
        podsim.simulate(t, podsim.Messages([a, b, a], [b, a, b], 10, deps=[(0, 1), (1, 2), (2, 0)]))
    with pytest.raises(ValueError, match="deps"):
        podsim.Messages([a], [b], 10, deps=[(0, 1)])
    with pytest.raises(ValueError, match="depends on itself"):
        podsim.simulate(t, podsim.Messages([a], [b], 10, deps=[(0, 0)]))


def test_messages_must_name_connected_endpoints() -> None:
    t, a, b = small()
    c = t.add_endpoint("island")
    with pytest.raises(ValueError, match="not connected"):
        podsim.simulate(t, podsim.Messages([a], [c], 10))
    with pytest.raises(ValueError, match="not an endpoint"):
        podsim.simulate(t, podsim.Messages([a], [2], 10))
    with pytest.raises(ValueError, match="does not exist"):
        podsim.simulate(t, podsim.Messages([a], [77], 10))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mtu": 32, "header_bytes": 32}, "mtu"),
        ({"mtu": 100, "header_bytes": 200}, "mtu"),
        ({"routing": "random"}, "routing"),
        ({"seed": -1}, "seed"),
        ({"ack_bytes": 0}, "ack_bytes"),
        ({"mtu": 1 << 31}, "mtu"),
        ({"trace": 0}, "trace"),
    ],
)
def test_bad_run_parameters(kwargs: dict, field: str) -> None:
    t, a, b = small()
    with pytest.raises(ValueError, match=field):
        podsim.simulate(t, podsim.Messages([a], [b], 10), **kwargs)


def test_buffer_smaller_than_mtu_rejected() -> None:
    t = podsim.Topology()
    a, b = t.add_endpoint("a", buffer_bytes=1000), t.add_endpoint("b", buffer_bytes=1000)
    t.connect(a, b, rate_Bps=1e9, latency_ps=10)
    with pytest.raises(ValueError, match="buffer_bytes.*less than one MTU"):
        podsim.simulate(t, podsim.Messages([a], [b], 10), mtu=4096)


def test_simulate_needs_a_topology() -> None:
    with pytest.raises(TypeError, match="topology"):
        podsim.simulate("cloudmatrix", podsim.Messages([0], [1], 1))  # type: ignore[arg-type]


def test_wrong_types_name_the_argument() -> None:
    """Lists where a name is expected, numbers where a list or a function is: the error names
    the argument instead of Python's "unhashable type" or "not iterable"."""
    t, a, b = small()
    msgs = podsim.Messages([a], [b], [100])
    with pytest.raises(ValueError, match=r"routing: must be one of \['adaptive', 'ecmp', 'spray'\], got \['ecmp'\]"):
        podsim.simulate(t, msgs, routing=["ecmp"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="progress: expected a function"):
        podsim.simulate(t, msgs, progress=5)  # type: ignore[arg-type]
    sim = podsim.Simulation(t)
    with pytest.raises(ValueError, match="kind: must be one of"):
        sim.inject(a, b, 100, kind=["write"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="deps: expected a sequence"):
        sim.inject(a, b, 100, deps=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="changes: expected a list"):
        sim.schedule(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dtype: must be one of"):
        podsim.workloads.token_bytes(dtype=["int8"])  # type: ignore[arg-type]


def test_flags_and_channel_ids_are_checked() -> None:
    t, a, b = small()
    msgs = podsim.Messages([a], [b], [100])
    with pytest.raises(TypeError, match="check: expected True or False, got str 'no'"):
        podsim.simulate(t, msgs, check="no")  # type: ignore[arg-type]
    assert podsim.simulate(t, msgs, check=np.True_).complete
    dev = podsim.hbm.Device(podsim.hbm.preset("HBM3"), refresh=np.False_)
    assert dev.refresh is False
    with pytest.raises(ValueError, match=rf"channel: must be in \[0, {t.num_channels - 1}\]"):
        podsim.faults.channels_of(t, t.num_channels)


@pytest.mark.parametrize("name", [" lead", "trail ", "two\nlines", "cr\r"])
def test_node_names_must_survive_a_topology_file(name: str, tmp_path: Path) -> None:
    """A saved topology keeps one node per line with its name last: leading or trailing blanks
    were lost and a line break made the file unreadable."""
    t = podsim.Topology()
    with pytest.raises(ValueError, match="name: must not start or end with whitespace or contain a line break"):
        t.add_endpoint(name)
    t.add_endpoint("inner space")  # kept whole: the name is the rest of the line
    t.save(tmp_path / "t.topo")
    assert podsim.Topology.load(tmp_path / "t.topo").names == ["inner space"]


_GOOD_ENDPOINT = "endpoint 65536 0 7 0 0 0 0 0 0 0 0 a"


@pytest.mark.parametrize(
    "record, message",
    [
        # Stream extraction took "-1" as the type's largest value and loaded it without complaint.
        ("endpoint -1 0 7 0 0 0 0 0 0 0 0 a", "buffer: expected a non-negative integer, got '-1'"),
        ("endpoint 65536 0 -1 0 0 0 0 0 0 0 0 a", "ports: expected a non-negative integer, got '-1'"),
        ("endpoint 65536 0 7 0 0 0 -1 0 0 0 0 a", "max_reads: expected a non-negative integer, got '-1'"),
        ("endpoint 65536 0 7 0 0 0 0 0 0 0 1.5 a", "write_issue_rate: expected a non-negative integer, got '1.5'"),
        ("endpoint 65536 0 4294967296 0 0 0 0 0 0 0 0 a", "ports: must be at most 4294967295, got 4294967296"),
        ("endpoint 65536 0 7", "issue: missing"),
        ("switch 65536 -150000 0 0 s", "latency: expected a non-negative integer, got '-150000'"),
        ("switch 65536 0 2 0 s", "cut_through: must be 0 or 1, got 2"),
        ("link 0 -1 28000000000000 10000", "b: expected a non-negative integer, got '-1'"),
        ("link 0 0 28000000000000 -10", "latency: expected a non-negative integer, got '-10'"),
        ("link 0 0 28000000000000 10 12", "unexpected text after latency: '12'"),
        # Times are bounded by the engine's last time, 2^62 ps, not by their 64-bit type.
        ("link 0 0 28000000000000 18446744073709551615", "latency: must be at most 4611686018427387904, got 184467"),
        ("switch 65536 4611686018427387905 0 0 s", "latency: must be at most 4611686018427387904, got 4611686018427387905"),
    ],
)
def test_topology_file_fields_are_checked(record: str, message: str, tmp_path: Path) -> None:
    """Each field of a topology file is a non-negative integer within its type, and an error names
    the line, the field and the text found."""
    path = tmp_path / "t.topo"
    path.write_text(f"podsim-topology 1\n{_GOOD_ENDPOINT}\n{record}\n")
    with pytest.raises(ValueError, match=re.escape(f"topology file: line 3: {message}")):
        podsim.Topology.load(path)


def test_topology_file_may_hold_comments_blank_lines_and_windows_line_endings(tmp_path: Path) -> None:
    """A hand-edited topology file loads with comment lines, blank lines and "\r\n" endings, and
    gives the same fabric; a comment after a record is refused with the reason."""
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b #1")
    s = t.add_switch("s", latency_ps=150_000, buffer_bytes=64 << 10)
    t.connect(a, s, rate_Bps=28e9, latency_ps=10_000)
    t.connect(s, b, rate_Bps=28e9, latency_ps=10_000)
    plain = tmp_path / "plain.topo"
    t.save(plain)
    lines = plain.read_text().splitlines()
    edited = tmp_path / "edited.topo"
    edited.write_bytes(
        "\r\n".join([lines[0], "# two endpoints and a switch", "", *lines[1:3], "   # indented comment", "\t",
                      *lines[3:]]).encode()
        + b"\r\n"
    )
    loaded = podsim.Topology.load(edited)
    assert loaded.names == ["a", "b #1", "s"]
    plain_again = tmp_path / "again.topo"
    loaded.save(plain_again)
    assert plain_again.read_text() == plain.read_text()
    trailing = tmp_path / "trailing.topo"
    trailing.write_text("\n".join([*lines[:-2], lines[-2] + " # the second link", lines[-1]]) + "\n")
    with pytest.raises(ValueError, match=r"line 6: unexpected text after latency: '# the second link' \(a comment must"):
        podsim.Topology.load(trailing)


def test_a_topology_file_cut_short_is_refused(tmp_path: Path) -> None:
    """A saved file ends with the counts of what it holds: a partial copy once loaded as a
    smaller fabric without complaint."""
    full = tmp_path / "full.topo"
    podsim.system("hgx-h100").topology.save(full)
    lines = full.read_text().splitlines()
    assert lines[0] == "podsim-topology 2" and lines[-1].startswith("end ")
    cut = tmp_path / "cut.topo"
    cut.write_text("\n".join(lines[:-5]) + "\n")
    with pytest.raises(ValueError, match=r"no end record: the file is cut short"):
        podsim.Topology.load(cut)
    nodes, links = map(int, lines[-1].split()[1:])
    fewer = tmp_path / "fewer.topo"
    fewer.write_text("\n".join([*lines[:-2], lines[-1]]) + "\n")  # a link line deleted
    with pytest.raises(ValueError, match=rf"the file promises {nodes} nodes and {links} links, but holds {nodes} and {links - 1}"):
        podsim.Topology.load(fewer)
    trailing = tmp_path / "trailing.topo"
    trailing.write_text("\n".join([*lines[:-1], lines[-1] + " # done"]) + "\n")
    with pytest.raises(ValueError, match=r"unexpected text after links: '# done' \(a comment must be on a line of its own\)"):
        podsim.Topology.load(trailing)
    foreign = tmp_path / "foreign.topo"
    foreign.write_text("graph G {\n")
    with pytest.raises(ValueError, match=r"line 1 must be 'podsim-topology 2' .*, got 'graph G \{'"):
        podsim.Topology.load(foreign)
    after = tmp_path / "after.topo"
    after.write_text("\n".join([*lines, lines[-2]]) + "\n")
    with pytest.raises(ValueError, match=r"a 'link' record after the end record"):
        podsim.Topology.load(after)
    # Version 1, the format without an end record, is still read (hand-written files).
    legacy = tmp_path / "legacy.topo"
    legacy.write_text("\n".join(["podsim-topology 1", *lines[1:-1]]) + "\n")
    assert podsim.Topology.load(legacy).num_channels == podsim.Topology.load(full).num_channels == 2 * links


def test_errors_name_the_value_the_user_gave() -> None:
    """Integers beyond 64 bits, a missing kind, a zero header left as the control packets' size
    and a channel id past the end each raise an error that names the field and the value."""
    with pytest.raises(ValueError, match=r"size: entries must be in \[1, 281474976710656\], got 18446744073709551616"):
        podsim.Messages([0], [1], [2**64])
    # -1 and 2**64 - 1 fit no 64-bit integer type together: NumPy makes them objects.
    with pytest.raises(ValueError, match=r"tag: entries must be in \[0, 18446744073709551615\], got -1"):
        podsim.Messages([0, 0], [1, 1], [5, 5], tag=[-1, 2**64 - 1])
    with pytest.raises(TypeError, match="kind: expected one of"):
        podsim.Messages([0], [1], [5], kind=None)  # type: ignore[arg-type]
    t = podsim.Topology()
    a, b = t.add_endpoint("a"), t.add_endpoint("b")
    t.connect(a, b, rate_Bps=1e9, latency_ps=10)
    msgs = podsim.Messages([a], [b], [100])
    with pytest.raises(ValueError, match=re.escape("ack_bytes (default: header_bytes): must be in [1, 4096], got 0")):
        podsim.simulate(t, msgs, header_bytes=0)
    assert podsim.simulate(t, msgs, header_bytes=0, ack_bytes=8, request_bytes=8).complete
    with pytest.raises(ValueError, match=re.escape("channel: must be in [0, 1], got 99")):
        podsim.Simulation(t).channel_up(99)


def test_a_messages_column_is_not_replaced_after_it_was_checked() -> None:
    """A column set after the batch was built skipped every check (an int64 array reached the
    bindings, which refused it with a message about their signature)."""
    m = podsim.Messages([0, 1], [1, 0], [1, 2])
    for column in ("src", "dst", "size", "kind", "deps", "delay_ps", "tag"):
        with pytest.raises(AttributeError, match=f"Messages.{column}: read-only"):
            setattr(m, column, np.zeros(2, dtype=np.int64))
    assert m.src.tolist() == [0, 1] and m.deps.shape == (0, 2)


def test_a_messages_column_is_not_written_in_place_and_the_callers_arrays_are_not_frozen() -> None:
    src = np.array([0, 1], dtype=np.uint32)
    m = podsim.Messages(src, [1, 0], [1, 2])
    for column in ("src", "dst", "size", "kind", "deps", "delay_ps", "tag"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(m, column)[...] = 0
    src[0] = 5  # the caller's array is copied, not frozen, and the batch does not see the change
    assert m.src.tolist() == [0, 1]


def test_an_unpickled_messages_batch_is_checked_and_frozen_like_a_new_one() -> None:
    m = podsim.Messages([0, 1], [1, 0], [5, 6], kind=["read", "write"], deps=[(0, 1)], delay_ps=[3, 4], tag=[9, 8])
    back = pickle.loads(pickle.dumps(m))
    for column in ("src", "dst", "size", "kind", "deps", "delay_ps", "tag"):
        assert np.array_equal(getattr(back, column), getattr(m, column))
        assert not getattr(back, column).flags.writeable
    # The state of a batch pickled when the columns were plain attributes, and a tampered one.
    old = object.__new__(podsim.Messages)
    old.__setstate__({"src": [0], "dst": [1], "size": [3], "kind": [1], "deps": None, "delay_ps": [0], "tag": [0]})
    assert old.kind.tolist() == [1] and len(old) == 1
    with pytest.raises(ValueError, match="size: entries must be in"):
        object.__new__(podsim.Messages).__setstate__(
            {"_src": [0], "_dst": [1], "_size": [0], "_kind": [0], "_deps": None, "_delay_ps": [0], "_tag": [0]}
        )
