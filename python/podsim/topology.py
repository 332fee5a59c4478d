"""Fabric graphs: endpoints and switches joined by links (two unidirectional channels each)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from podsim import _core
from podsim import _validate as v

#: Default receive buffer per input port of an endpoint, bytes.
DEFAULT_ENDPOINT_BUFFER = 256 << 10


@dataclass(frozen=True)
class ChannelTable:
    """The channels of a topology as columns; channel ``i`` of a link ``a - b`` runs ``src[i] -> dst[i]``.

    ``rate_Bps`` is per direction (uni), bytes per second. ``reverse[i]`` is the channel of the
    opposite direction of the same link, over which credits for channel ``i`` return.
    """

    src: np.ndarray
    dst: np.ndarray
    reverse: np.ndarray
    rate_Bps: np.ndarray
    latency_ps: np.ndarray

    def __len__(self) -> int:
        return len(self.src)

    def to_pandas(self) -> pd.DataFrame:
        """One row per channel."""
        return pd.DataFrame(self.__dict__)


class Topology:
    """A fabric: endpoints (NPU dies, GPUs, CPUs) and switches joined by links.

    Node ids are dense integers in order of creation; names are unique and readable
    (``node07/npu3/die1``). A link created by :meth:`connect` is two channels, one per direction,
    each with its own rate, serialization and credits.

    Example::

        t = Topology()
        a, b = t.add_endpoint("a"), t.add_endpoint("b")
        s = t.add_switch("s", latency_ps=150_000, buffer_bytes=64 << 10)
        t.connect(a, s, rate_Bps=28e9, latency_ps=10_000)
        t.connect(s, b, rate_Bps=28e9, latency_ps=10_000)
    """

    def __init__(self) -> None:
        self._core = _core.Topology()
        self._ids: dict[str, int] = {}

    def _add_name(self, name: str) -> str:
        name = v.name(name)
        if name in self._ids:
            raise ValueError(f"name: {name!r} is already used by node {self._ids[name]}")
        return name

    def add_endpoint(
        self,
        name: str,
        *,
        buffer_bytes: int = DEFAULT_ENDPOINT_BUFFER,
        latency_ps: int = 0,
        max_ports: int | None = None,
        issue_latency_ps: int = 0,
        read_latency_ps: int = 0,
        write_latency_ps: int = 0,
        max_outstanding_reads: int | None = None,
        max_outstanding_writes: int | None = None,
        read_rate_Bps: float | None = None,
        write_rate_Bps: float | None = None,
        write_issue_rate_Bps: float | None = None,
    ) -> int:
        """Add an endpoint; returns its node id.

        Latencies are ps in [0, 2^62]; rates are bytes/s in [1, 1e15].

        Args:
            name: unique, human-readable name.
            buffer_bytes: receive buffer per input port (what credits count), bytes, >= 1.
            latency_ps: receive processing: every packet arriving here counts as received this
                long after its tail, ps.
            max_ports: number of ports the device has; :meth:`connect` refuses more. None = no
                limit but the engine's: no node has more than 65535 ports.
            issue_latency_ps: as an initiator, time from a message's start to its first
                transaction (descriptor and doorbell work), ps.
            read_latency_ps: as a target, time from a read request's arrival to its data
                leaving (the memory fetch), ps.
            write_latency_ps: as a target, time from a write transaction's last byte to its
                acknowledgement leaving (the commit), ps.
            max_outstanding_reads: read transactions this endpoint may have in flight as an
                initiator; None = no limit. (Transactions are ``txn_bytes`` of a run.)
            max_outstanding_writes: unacknowledged write transactions it may have; None = no limit.
            read_rate_Bps: as a target, throughput of its read engine, bytes/s in [1, 1e15] (transactions are
                fetched one after another); None = unlimited.
            write_rate_Bps: as a target, throughput of its write engine, bytes/s in [1, 1e15]: incoming write
                data is committed packet by packet at this rate and frees its buffer space
                (credits) only when committed, so a slow target throttles its writers; None =
                unlimited.
            write_issue_rate_Bps: as an initiator, throughput of the engine that sends its write
                data, bytes/s in [1, 1e15]: packets of its writes are created no faster than this; None =
                unlimited.
        """
        name = self._add_name(name)
        nid = self._core.add_endpoint(
            name,
            v.integer(buffer_bytes, "buffer_bytes", 1),
            v.integer(latency_ps, "latency_ps", 0, v.MAX_TIME_PS),
            0 if max_ports is None else v.integer(max_ports, "max_ports", 1, v.U32_MAX),
            v.integer(issue_latency_ps, "issue_latency_ps", 0, v.MAX_TIME_PS),
            v.integer(read_latency_ps, "read_latency_ps", 0, v.MAX_TIME_PS),
            v.integer(write_latency_ps, "write_latency_ps", 0, v.MAX_TIME_PS),
            0 if max_outstanding_reads is None else v.integer(max_outstanding_reads, "max_outstanding_reads", 1, v.U32_MAX),
            0 if max_outstanding_writes is None else v.integer(max_outstanding_writes, "max_outstanding_writes", 1, v.U32_MAX),
            0.0 if read_rate_Bps is None else v.rate(read_rate_Bps, "read_rate_Bps"),
            0.0 if write_rate_Bps is None else v.rate(write_rate_Bps, "write_rate_Bps"),
            0.0 if write_issue_rate_Bps is None else v.rate(write_issue_rate_Bps, "write_issue_rate_Bps"),
        )
        self._ids[name] = nid
        return nid

    def add_switch(
        self,
        name: str,
        *,
        latency_ps: int,
        buffer_bytes: int,
        cut_through: bool = False,
        max_ports: int | None = None,
    ) -> int:
        """Add a switch; returns its node id.

        Args:
            name: unique, human-readable name.
            latency_ps: pipeline latency from eligibility at the input to the output, ps.
            buffer_bytes: buffer per input port, bytes (credits count it; must hold one MTU).
            cut_through: forward as soon as the head has arrived (else store-and-forward).
            max_ports: ports of the switch chip; :meth:`connect` refuses more. None = no limit but
                the engine's: no node has more than 65535 ports.
        """
        name = self._add_name(name)
        if not isinstance(cut_through, (bool, np.bool_)):
            raise TypeError(f"cut_through: expected a bool, got {type(cut_through).__name__}")
        nid = self._core.add_switch(
            name,
            v.integer(latency_ps, "latency_ps", 0, v.MAX_TIME_PS),
            v.integer(buffer_bytes, "buffer_bytes", 1),
            bool(cut_through),
            0 if max_ports is None else v.integer(max_ports, "max_ports", 1, v.U32_MAX),
        )
        self._ids[name] = nid
        return nid

    def connect(self, a: int, b: int, *, rate_Bps: float, latency_ps: int) -> int:
        """Join ``a`` and ``b`` by a link; returns the id of channel ``a -> b`` (``b -> a`` is that + 1).

        Args:
            rate_Bps: rate of each direction (uni), bytes/s, in [1, 1e15]. Held exactly to
                1e-3 B/s; serialization rounds up, so a channel never beats its rate.
            latency_ps: propagation latency of each direction, ps, in [1, 2^62] (credit returns and
                acknowledgements need a non-zero latency).
        """
        a = self._node(a, "a")
        b = self._node(b, "b")
        return self._core.connect(a, b, v.rate(rate_Bps, "rate_Bps"), v.integer(latency_ps, "latency_ps", 1, v.MAX_TIME_PS))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fabric to the plain-text file ``path``, which C++ hosts load with ``podsim::load_topology``
        (see ``csrc/podsim/fabric/topology_io.h``); rates are kept exactly."""
        self._core.save(os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Topology:
        """Read a fabric written by :meth:`save` (or by ``podsim export``)."""
        topo = cls.__new__(cls)
        topo._core = _core.Topology.load(os.fspath(path))
        topo._ids = {name: i for i, name in enumerate(topo._core.node_names)}
        if len(topo._ids) != topo.num_nodes:
            raise ValueError(f"path: {os.fspath(path)!r} has duplicate node names")
        return topo

    def _node(self, node: int, field: str) -> int:
        node = v.integer(node, field)
        if node >= self.num_nodes:
            raise ValueError(f"{field}: node id {node} does not exist (this topology has {self.num_nodes} nodes)")
        return node

    @property
    def num_nodes(self) -> int:
        """Number of nodes (endpoints and switches)."""
        return self._core.num_nodes

    @property
    def num_channels(self) -> int:
        """Number of unidirectional channels (two per link)."""
        return self._core.num_channels

    @property
    def num_endpoints(self) -> int:
        """Number of endpoints."""
        return self._core.num_endpoints

    @property
    def endpoints(self) -> np.ndarray:
        """Node ids of the endpoints, in order of creation (the endpoint index order)."""
        return self._core.endpoints

    @property
    def names(self) -> list[str]:
        """Node names, indexed by node id."""
        return self._core.node_names

    def id_of(self, name: str) -> int:
        """Node id of the node called ``name``."""
        try:
            return self._ids[name]
        except KeyError:
            raise ValueError(f"name: no node called {name!r}") from None

    def is_endpoint(self) -> np.ndarray:
        """Boolean array over node ids: True for endpoints."""
        return self._core.node_columns()["kind"] == 0

    def injection_rates_uni(self) -> np.ndarray:
        """Per node id, what it can inject into the fabric, bytes/s one direction (uni): the sum
        of its links into switches (CloudMatrix 384's die-to-die link to the sibling die is not
        one), or, for a node with no link into a switch (a direct-connect mesh), of all its links."""
        ch = self.channels()
        into_switches = np.bincount(ch.src, weights=np.where(self.is_endpoint()[ch.dst], 0.0, ch.rate_Bps), minlength=self.num_nodes)
        every_link = np.bincount(ch.src, weights=ch.rate_Bps, minlength=self.num_nodes)
        return np.where(into_switches > 0, into_switches, every_link)

    def channels(self) -> ChannelTable:
        """All channels as columns."""
        return ChannelTable(**self._core.channel_columns())

    def nodes(self) -> pd.DataFrame:
        """One row per node: name, kind, latency_ps, buffer_bytes, cut_through, max_ports and the
        endpoint parameters (issue_ps, read_fetch_ps, write_commit_ps, max_reads, max_writes,
        read_rate_Bps, write_rate_Bps, write_issue_rate_Bps)."""
        cols = self._core.node_columns()
        df = pd.DataFrame(cols)
        df["kind"] = np.where(cols["kind"] == 0, "endpoint", "switch")
        df["cut_through"] = df["cut_through"].astype(bool)
        df.insert(0, "name", self.names)
        return df

    def __repr__(self) -> str:
        return (
            f"Topology({self.num_endpoints} endpoints, {self.num_nodes - self.num_endpoints} switches, "
            f"{self.num_channels // 2} links)"
        )
