// The fault model of the engine: channels that fail and are repaired at scheduled times, the
// packets that were on a failing wire, rerouting, and end-to-end retransmission.
//
// Bookkeeping: a lost packet is not freed. Its source holds it until it is sent again, so the
// identity injected - delivered = packets alive holds throughout, and the fault counters obey
// lost - retransmitted = awaiting retransmission + stranded. A message's packets are delivered
// exactly once: a packet is only ever resent after it was lost, never while a copy is alive.
#include <algorithm>
#include <string>

#include "podsim/simulator.h"

namespace podsim {

void Simulator::schedule_fault(ChannelId c, Time at, bool up) {
  topo_.check_channel(c, "channel");
  if (at < now_ || at > kMaxTime)
    throw std::invalid_argument("at_ps: must be in [now = " + std::to_string(now_) + ", 2^62] ps, got " +
                                std::to_string(at));
  if (!connectivity_) connectivity_.emplace(topo_);  // before the first fault changes the routes
  faults_ = true;
  const auto [it, fresh] = pending_batch_.try_emplace(at, static_cast<std::uint32_t>(fault_batches_.size()));
  if (fresh) {
    if (fault_batches_.size() >= kNone) throw std::invalid_argument("faults: too many distinct times (limit 2^32 - 1)");
    fault_batches_.emplace_back();
    queue_.push(at, EventType::kFault, it->second);
  }
  // A channel's failure count (Output::epoch, 32 bits) grows by at most one per change: bounding
  // the changes keeps it from wrapping around and passing a lost packet as current.
  if (fault_changes_ == kNone) throw std::invalid_argument("faults: too many changes (limit 2^32 - 1)");
  ++fault_changes_;
  fault_batches_[it->second].push_back(FaultChange{c, up});
}

void Simulator::recompute_routes() {
  std::vector<std::uint8_t> down(out_.size());
  for (ChannelId c = 0; c < out_.size(); ++c) down[c] = out_[c].down ? 1 : 0;
  routes_ = RoutingTable(topo_, down);
}

void Simulator::on_fault(std::uint32_t batch) {
  pending_batch_.erase(now_);
  const std::vector<FaultChange> changes = std::move(fault_batches_[batch]);
  std::vector<ChannelId> failed;
  bool repaired = false;
  for (const FaultChange& change : changes) {
    Output& out = out_[change.channel];
    if (out.down != change.up) continue;  // already in that state (a repeated failure or repair)
    out.down = !change.up;
    if (out.down) {
      ++out.epoch;  // what is on the wire now is lost (see on_arrive)
      // A transmission under way is cut off here: its channel was busy until now, not until its
      // tail would have left (the busy time was charged in full when it started).
      if (out.busy_until > now_) {
        out.busy_ps -= out.busy_until - now_;
        out.busy_until = now_;
      }
      failed.push_back(change.channel);
    } else {
      repaired = true;
    }
  }
  if (failed.empty() && !repaired) return;
  recompute_routes();
  for (const ChannelId c : failed) reroute_queued(c);
  // Endpoints whose ports changed queue two packets per port that is up again; one that gained a
  // port fills it now, not at its next packet's departure.
  std::vector<std::uint32_t> resized;
  for (const FaultChange& change : changes) {
    const std::uint32_t ep = topo_.endpoint_index(topo_.channel(change.channel).src);
    if (ep != kNone && std::find(resized.begin(), resized.end(), ep) == resized.end()) resized.push_back(ep);
  }
  for (const std::uint32_t ep : resized) size_window(ep);
  if (!repaired) return;
  // A repair may reconnect sources that held packets with no path.
  std::vector<std::uint32_t> held;
  held.swap(stranded_);
  for (const std::uint32_t p : held) resend(p);
  for (const std::uint32_t ep : resized) refill(ep);
}

void Simulator::reroute_queued(ChannelId c) {
  const Channel& ch = topo_.channel(c);
  const NodeId n = ch.src;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> moved;  // (input, packet), in queue order
  for (std::uint32_t in = 0; in <= injection_input(n); ++in) {
    Queue& q = voq(n, in, ch.src_port);
    for (std::uint32_t p = q.head; p != kNone; p = pkts_[p].next) moved.emplace_back(in, p);
    q = Queue{};
  }
  Output& out = out_[c];
  out.rr_head = 0;
  out.rr_count = 0;
  ports_[out.port].load -= out.queued_bytes;
  out.queued_bytes = 0;
  out.credit_blocked = false;
  for (const auto& [in, p] : moved) enqueue(n, in, p);
}

void Simulator::release_place(NodeId n, std::uint32_t input, const Packet& pk) {
  if (input != injection_input(n)) {
    release_input(pk.in_channel, pk.wire, now_);
    return;
  }
  const std::uint32_t ep = topo_.endpoint_index(n);
  if (ep != kNone && pk.kind == PacketKind::kData) {
    --eps_[ep].queued;
    refill(ep);
  }
}

void Simulator::unroutable(NodeId n, std::uint32_t input, std::uint32_t p) {
  release_place(n, input, pkts_[p]);
  lose(p);
}

void Simulator::lose(std::uint32_t p) {
  const Packet& pk = pkts_[p];
  ++ledger_.lost_packets[pk.src_ep];
  ledger_.lost_bytes[pk.src_ep] += pk.payload;
  ++retx_waiting_;
  queue_.push(now_ + cfg_.retransmit_timeout_ps, EventType::kRetransmit, p);
}

void Simulator::resend(std::uint32_t p) {
  Packet& pk = pkts_[p];
  const NodeId src = topo_.endpoints()[pk.src_ep];
  if (routes_.hops(src, pk.dst_ep) == RoutingTable::kUnreachable) {
    stranded_.push_back(p);
    return;
  }
  ++ledger_.retransmitted_packets[pk.src_ep];
  ledger_.retransmitted_bytes[pk.src_ep] += pk.payload;
  pk.in_channel = kNone;
  pk.tail_ps = now_;
  if (pk.kind == PacketKind::kData) ++eps_[pk.src_ep].queued;  // it waits at the ports like a new one
  enqueue(src, injection_input(src), p);
}

void Simulator::lost_on_wire(std::uint32_t p) {
  const Packet& pk = pkts_[p];
  const ChannelId c = pk.in_channel;
  CreditState& cr = out_[c].credit;
  // The bytes never reach the receiver's buffer: the link layer gets their credits back.
  cr.on_wire -= pk.wire;
  cr.credits += pk.wire;
  ports_[out_[c].port].load -= pk.wire;
  if (cfg_.check) touched_.push_back(c);
  // Repaired since (or failed and repaired in one batch), the channel may have packets queued
  // that wait for exactly these credits: they come back now, as a credit return would.
  if (out_[c].credit_blocked && !out_[c].down) wake_for_credits(c, now_);
  if (cfg_.recovery == LossRecovery::kReplay) {
    const Time noticed = now_ + topo_.channel(topo_.channel(c).reverse).latency_ps;
    queue_.push(noticed + cfg_.replay_ps, EventType::kReplay, p);
    return;
  }
  lose(p);
}

void Simulator::on_replay(std::uint32_t p) {
  Packet& pk = pkts_[p];
  const NodeId n = topo_.channel(pk.in_channel).src;
  // With no path left from here the replay fails: the packet is lost (and resent end to end),
  // and counted as lost only.
  if (routes_.hops(n, pk.dst_ep) == RoutingTable::kUnreachable) return lose(p);
  ++ledger_.replayed_packets[pk.src_ep];
  ledger_.replayed_bytes[pk.src_ep] += pk.payload;
  // The retry buffer feeds the node's injection input: it holds no input-buffer space here.
  pk.tail_ps = now_;
  const std::uint32_t ep = topo_.endpoint_index(n);
  if (ep != kNone && pk.kind == PacketKind::kData) ++eps_[ep].queued;
  enqueue(n, injection_input(n), p);
}

}  // namespace podsim
