"""Results of a run: numpy columns for messages, channels and the conservation ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Marks a time that has not happened (message not started, not delivered...), in ps columns.
NOT_YET = np.iinfo(np.uint64).max


@dataclass(frozen=True)
class MessageStats:
    """Per message, in id order. Times are ps; :data:`NOT_YET` where the event has not happened.

    ``start_ps``: dependencies met plus delay; ``first_byte_ps``/``delivered_ps``: first/last data
    byte at dst; ``end_ps``: complete at the initiator (a write's acknowledgement back at src, a
    read's last byte at dst).
    """

    src: np.ndarray
    dst: np.ndarray
    size: np.ndarray
    kind: np.ndarray
    tag: np.ndarray
    delay_ps: np.ndarray
    start_ps: np.ndarray
    first_byte_ps: np.ndarray
    delivered_ps: np.ndarray
    end_ps: np.ndarray

    def __len__(self) -> int:
        return len(self.src)

    @property
    def complete(self) -> np.ndarray:
        """Boolean per message: True once it has ended."""
        return self.end_ps != NOT_YET

    @property
    def latency_ps(self) -> np.ndarray:
        """``end_ps - start_ps`` per message (int64 ps): to completion at the initiator (a
        write's acknowledgement back), what a measured write latency times; -1 for messages not
        complete. :attr:`delivered_latency_ps` stops at the last byte delivered."""
        out = self.end_ps.astype(np.int64) - self.start_ps.astype(np.int64)
        out[~self.complete] = -1
        return out

    @property
    def delivered_latency_ps(self) -> np.ndarray:
        """``delivered_ps - start_ps`` per message (int64 ps): to the last byte delivered at the
        destination (``podsim run``'s "message latency"); -1 for messages not delivered."""
        delivered = self.delivered_ps != NOT_YET
        out = self.delivered_ps.astype(np.int64) - self.start_ps.astype(np.int64)
        out[~delivered] = -1
        return out

    def to_pandas(self) -> pd.DataFrame:
        """One row per message; times not yet reached are <NA>."""
        df = pd.DataFrame({k: getattr(self, k) for k in self.__dataclass_fields__})
        df["kind"] = np.where(self.kind == 0, "write", "read")
        for col in ("start_ps", "first_byte_ps", "delivered_ps", "end_ps"):
            s = df[col].astype("UInt64")
            df[col] = s.mask(s == NOT_YET)
        df["latency_ps"] = pd.array(self.latency_ps, dtype="Int64")
        df.loc[~self.complete, "latency_ps"] = pd.NA
        df["delivered_latency_ps"] = pd.array(self.delivered_latency_ps, dtype="Int64")
        df.loc[self.delivered_ps == NOT_YET, "delivered_latency_ps"] = pd.NA
        return df


def traffic_end_ps(end_ps: np.ndarray, complete: bool, now_ps: int) -> int:
    """When a run's traffic ended: its last message end if every message completed, else
    ``now_ps``. A fault or repair scheduled after the last message keeps the engine going to its
    time with nothing left to move; plots, traces and channel utilisation end here instead."""
    if complete and len(end_ps):
        return int(end_ps.max())
    return now_ps


@dataclass(frozen=True)
class ChannelStats:
    """Per unidirectional channel, in channel id order.

    ``wire_bytes`` counts everything serialized (headers, acks, requests); ``payload_bytes`` only
    message data. ``busy_ps`` is the time spent serializing. ``rate_Bps`` is per direction (uni).
    A transmission counts when it starts: one cut off by its channel failing counts in full in the
    bytes and packets, and in ``busy_ps`` up to the failure only. ``duration_ps`` is the run's, to the end of its traffic (see :func:`traffic_end_ps`);
    ``start_ps`` when its first message started (a delayed start is no idle time of the fabric's).
    """

    src: np.ndarray
    dst: np.ndarray
    rate_Bps: np.ndarray
    latency_ps: np.ndarray
    wire_bytes: np.ndarray
    payload_bytes: np.ndarray
    packets: np.ndarray
    busy_ps: np.ndarray
    duration_ps: int
    start_ps: int = 0

    def __len__(self) -> int:
        return len(self.src)

    @property
    def utilization(self) -> np.ndarray:
        """Fraction of the traffic's time, from the first message start (``start_ps``) to the
        end of the traffic (``duration_ps``, :func:`traffic_end_ps`), each channel spent
        serializing, in [0, 1]."""
        window = self.duration_ps - self.start_ps
        if window <= 0:
            return np.zeros(len(self), dtype=float)
        return self.busy_ps / float(window)

    @property
    def bytes(self) -> np.ndarray:
        """Alias of ``wire_bytes``: all bytes the channel carried."""
        return self.wire_bytes

    def to_pandas(self) -> pd.DataFrame:
        """One row per channel, with utilization."""
        cols = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("duration_ps", "start_ps")}
        df = pd.DataFrame(cols)
        df["utilization"] = self.utilization
        return df


@dataclass(frozen=True)
class Ledger:
    """Conservation ledger per endpoint (index order of ``Topology.endpoints``).

    ``injected``/``delivered`` count by the endpoint that created a packet; ``received_bytes``
    by the endpoint that consumed it. Bytes are message payload; packets include
    acknowledgements and read requests. ``engine_packets_in_flight`` is the engine's own count of
    live packets, kept apart from the per-endpoint counters so the two can be compared.
    ``hbm_read_bytes``/``hbm_write_bytes``: bytes the endpoint read from / wrote into its own HBM
    (zero for endpoints without coupled memory).

    Faults (zero without them), by the endpoint that created the packet: ``lost_*`` on a failed
    wire or left with no path, ``retransmitted_*`` sent again end to end by the source,
    ``replayed_*`` sent again by link-level retry. A lost packet is held at its source until it is
    retransmitted, so it stays in flight: lost - retransmitted =
    ``engine_packets_awaiting_retransmit``.
    """

    endpoint: np.ndarray
    injected_bytes: np.ndarray
    delivered_bytes: np.ndarray
    injected_packets: np.ndarray
    delivered_packets: np.ndarray
    received_bytes: np.ndarray
    hbm_read_bytes: np.ndarray
    hbm_write_bytes: np.ndarray
    lost_packets: np.ndarray
    lost_bytes: np.ndarray
    retransmitted_packets: np.ndarray
    retransmitted_bytes: np.ndarray
    replayed_packets: np.ndarray
    replayed_bytes: np.ndarray
    engine_packets_in_flight: int
    engine_packets_awaiting_retransmit: int

    @property
    def in_flight_bytes(self) -> np.ndarray:
        """Payload bytes injected but not yet delivered, per endpoint."""
        return self.injected_bytes - self.delivered_bytes

    @property
    def in_flight_packets(self) -> np.ndarray:
        """Packets injected but not yet delivered, per endpoint."""
        return self.injected_packets - self.delivered_packets

    @property
    def balanced(self) -> bool:
        """True when injected = delivered + in flight holds per endpoint and globally, the global
        in-flight count equals the engine's count of live packets, and lost - retransmitted equals
        the engine's count of packets waiting to be sent again."""
        return bool(
            np.all(self.delivered_bytes <= self.injected_bytes)
            and np.all(self.delivered_packets <= self.injected_packets)
            and int(self.in_flight_packets.sum()) == self.engine_packets_in_flight
            and int(self.delivered_bytes.sum()) == int(self.received_bytes.sum())
            and np.all(self.retransmitted_packets <= self.lost_packets)
            and int((self.lost_packets - self.retransmitted_packets).sum()) == self.engine_packets_awaiting_retransmit
        )

    def to_pandas(self) -> pd.DataFrame:
        """One row per endpoint."""
        return pd.DataFrame(
            {
                "endpoint": self.endpoint,
                "injected_bytes": self.injected_bytes,
                "delivered_bytes": self.delivered_bytes,
                "in_flight_bytes": self.in_flight_bytes,
                "injected_packets": self.injected_packets,
                "delivered_packets": self.delivered_packets,
                "in_flight_packets": self.in_flight_packets,
                "received_bytes": self.received_bytes,
                "hbm_read_bytes": self.hbm_read_bytes,
                "hbm_write_bytes": self.hbm_write_bytes,
                "lost_packets": self.lost_packets,
                "lost_bytes": self.lost_bytes,
                "retransmitted_packets": self.retransmitted_packets,
                "retransmitted_bytes": self.retransmitted_bytes,
                "replayed_packets": self.replayed_packets,
                "replayed_bytes": self.replayed_bytes,
            }
        )


@dataclass(frozen=True)
class TransmissionTrace:
    """Every packet transmission recorded by a run with ``trace=`` set, in order of start.

    One row per packet per hop: ``channel`` carried ``wire_bytes`` (``payload_bytes`` of them
    message data, of message ``msg``) from ``start_ps`` to ``end_ps``. ``dropped`` counts
    transmissions past the record limit: when it is non-zero the trace is incomplete.
    """

    start_ps: np.ndarray
    end_ps: np.ndarray
    channel: np.ndarray
    msg: np.ndarray
    wire_bytes: np.ndarray
    payload_bytes: np.ndarray
    dropped: int

    def __len__(self) -> int:
        return len(self.start_ps)

    def to_pandas(self) -> pd.DataFrame:
        """One row per transmission."""
        return pd.DataFrame({k: getattr(self, k) for k in self.__dataclass_fields__ if k != "dropped"})


@dataclass(frozen=True)
class Result:
    """What a run produced. All times are integer picoseconds; rates bytes/s.

    Attributes:
        messages: per-message times (:class:`MessageStats`).
        channels: per-channel counters (:class:`ChannelStats`).
        ledger: per-endpoint conservation ledger (:class:`Ledger`).
        events: events the engine processed.
        packet_hops: packet transmissions over channels (one per packet per hop).
        now_ps: simulated time when the run stopped.
        wall_s: wall-clock seconds the run took.
        peak_packets_in_flight: most packets alive at once (data, acknowledgements, requests);
            with the channels, what the engine's memory grows with.
        peak_pending_events: most events scheduled at once.
        packet_latency_histogram: data-packet latency counts, bucket k = [2^k, 2^(k+1)) ps.
        complete: True when every message ended.
        trace: the packet transmissions, when the run recorded them (else None).
    """

    messages: MessageStats
    channels: ChannelStats
    ledger: Ledger
    events: int
    packet_hops: int
    now_ps: int
    wall_s: float
    peak_packets_in_flight: int
    peak_pending_events: int
    packet_latency_histogram: np.ndarray = field(repr=False)
    complete: bool
    trace: TransmissionTrace | None = None

    @property
    def traffic_end_ps(self) -> int:
        """When the traffic ended (see :func:`traffic_end_ps`)."""
        return traffic_end_ps(self.messages.end_ps, self.complete, self.now_ps)

    @property
    def makespan_ps(self) -> int:
        """From the first message start to the last message end, ps (0 if nothing completed)."""
        done = self.messages.complete
        if not done.any():
            return 0
        return int(self.messages.end_ps[done].max()) - int(self.messages.start_ps.min())

    def delivery_window_ps(self) -> int:
        """From the first message start to the last delivery, ps: the window of
        :meth:`achieved_bandwidth`. For a run that stopped early (paused, interrupted), to the
        time it stopped, since the bytes delivered then include parts of messages still in
        flight. 0 if nothing started. (:attr:`makespan_ps` runs on to the last completion at the
        initiator, a write's acknowledgement back.)"""
        started = self.messages.start_ps != NOT_YET
        if not started.any():
            return 0
        if self.complete:
            delivered = self.messages.delivered_ps
            end = int(delivered[delivered != NOT_YET].max())
        else:
            end = self.now_ps
        return max(end - int(self.messages.start_ps[started].min()), 0)

    def achieved_bandwidth(self) -> float:
        """Payload bytes delivered per second of simulated time, all endpoints together (uni),
        over :meth:`delivery_window_ps`."""
        window = self.delivery_window_ps()
        if window <= 0:
            return 0.0
        return float(self.ledger.delivered_bytes.sum()) / (window * 1e-12)

    @property
    def events_per_second(self) -> float:
        """Engine events per wall-clock second."""
        return self.events / self.wall_s if self.wall_s > 0 else float("nan")
