#include "podsim/simulator.h"

#include <algorithm>
#include <bit>
#include <string>

#include "podsim/sim/rng.h"

namespace podsim {

namespace {

const char* event_name(EventType t) {
  switch (t) {
    case EventType::kArrive: return "arrive";
    case EventType::kKick: return "kick";
    case EventType::kCredit: return "credit";
    case EventType::kMessageStart: return "message-start";
    case EventType::kTargetReady: return "target-ready";
    case EventType::kCommitted: return "committed";
    case EventType::kMemory: return "memory";
    case EventType::kIssue: return "issue";
    case EventType::kFault: return "fault";
    case EventType::kRetransmit: return "retransmit";
    case EventType::kReplay: return "replay";
  }
  return "?";
}

// The topology, once its per-node queue state is known to fit (see kMaxQueuePairs); checked
// before the routing tables, the other large allocation, are built.
Topology with_queue_state_checked(Topology topo) {
  std::size_t pairs = 0;
  std::size_t largest = 0;
  NodeId at = 0;
  for (NodeId n = 0; n < topo.num_nodes(); ++n) {
    const std::size_t own = (topo.in_channels(n).size() + 1) * topo.out_channels(n).size();  // + injection
    pairs += own;
    if (own > largest) {
      largest = own;
      at = n;
    }
  }
  if (pairs > Simulator::kMaxQueuePairs)
    throw std::invalid_argument(
        "topology: every node keeps a queue per (input, output) pair, " + std::to_string(pairs) + " in all (node '" +
        topo.node(at).name + "': " + std::to_string(topo.in_channels(at).size() + 1) + " inputs x " +
        std::to_string(topo.out_channels(at).size()) + " outputs) of " + std::to_string(Simulator::kQueuePairBytes) +
        " bytes each; at most " + std::to_string(Simulator::kMaxQueuePairs) + " (2^31) are allowed");
  return topo;
}

}  // namespace

Simulator::Simulator(Topology topology, const SimConfig& config)
    : topo_(with_queue_state_checked(std::move(topology))), cfg_(config), routes_(topo_) {
  validate(cfg_);

  const std::size_t nc = topo_.num_channels();
  out_.resize(nc);
  pending_credits_.resize(nc);
  std::size_t rr_total = 0;
  std::size_t voq_total = 0;
  voq_base_.resize(topo_.num_nodes());
  port_base_.resize(topo_.num_nodes() + 1);
  ports_.resize(nc);
  port_channel_.resize(nc);
  std::uint32_t port_total = 0;
  for (NodeId n = 0; n < topo_.num_nodes(); ++n) {
    const std::size_t inputs = topo_.in_channels(n).size() + 1;  // + local injection
    voq_base_[n] = voq_total;
    voq_total += inputs * topo_.out_channels(n).size();
    port_base_[n] = port_total;
    for (const ChannelId c : topo_.out_channels(n)) {
      Output& out = out_[c];
      const Channel& ch = topo_.channel(c);
      const Node& next = topo_.node(ch.dst);
      out.rr_base = static_cast<std::uint32_t>(rr_total);
      out.rr_cap = static_cast<std::uint32_t>(inputs);
      rr_total += inputs;
      port_channel_[port_total] = c;
      out.port = port_total++;
      out.rate = ch.rate;
      out.flight_ps = ch.latency_ps + next.latency_ps;
      out.credit_delay_ps = topo_.channel(ch.reverse).latency_ps;
      out.src = ch.src;
      out.dst = ch.dst;
      out.src_port = ch.src_port;
      out.dst_port = ch.dst_port;
      out.cut_through = next.kind == NodeKind::kSwitch && next.cut_through;
      out.to_endpoint = next.kind == NodeKind::kEndpoint;
    }
  }
  port_base_[topo_.num_nodes()] = port_total;
  input_base_.resize(topo_.num_nodes());
  input_channel_.reserve(nc);
  for (NodeId n = 0; n < topo_.num_nodes(); ++n) {
    input_base_[n] = static_cast<std::uint32_t>(input_channel_.size());
    for (const ChannelId c : topo_.in_channels(n)) input_channel_.push_back(c);
  }
  rr_.assign(rr_total, 0);
  voqs_.assign(voq_total, Queue{});
  // Below about a core's private cache the queue state stays cached, and fetching ahead only
  // costs instructions (some 6% on FT2-256).
  prefetch_events_ = voq_total * sizeof(Queue) + rr_total * sizeof(std::uint32_t) +
                         nc * (sizeof(Output) + sizeof(Channel)) > (1U << 20);
  for (ChannelId c = 0; c < nc; ++c) {
    const Channel& ch = topo_.channel(c);
    const std::uint64_t buf = topo_.node(ch.dst).buffer_bytes;
    if (buf < cfg_.mtu_bytes)
      throw std::invalid_argument("buffer_bytes: node '" + topo_.node(ch.dst).name + "' has " + std::to_string(buf) +
                                  " bytes per input, less than one MTU (" + std::to_string(cfg_.mtu_bytes) +
                                  "); a full packet could never be sent to it");
    out_[c].credit = CreditState{buf, buf, 0, 0, 0};
  }
  const std::size_t ne = topo_.num_endpoints();
  eps_.resize(ne);
  for (std::uint32_t e = 0; e < ne; ++e) size_window(e);
  ledger_.hbm_read_bytes.assign(ne, 0);
  ledger_.hbm_write_bytes.assign(ne, 0);
  hbm_.resize(ne);
  hbm_wake_.assign(ne, kNever);
  hbm_next_addr_.assign(ne, 0);
  ledger_.injected_bytes.assign(ne, 0);
  ledger_.delivered_bytes.assign(ne, 0);
  ledger_.injected_packets.assign(ne, 0);
  ledger_.delivered_packets.assign(ne, 0);
  ledger_.received_bytes.assign(ne, 0);
  for (auto* v : {&ledger_.lost_packets, &ledger_.lost_bytes, &ledger_.retransmitted_packets,
                  &ledger_.retransmitted_bytes, &ledger_.replayed_packets, &ledger_.replayed_bytes})
    v->assign(ne, 0);
}

// ---------------------------------------------------------------------------------------------
// Messages and their dependencies

void Simulator::validate_message(NodeId src, NodeId dst, std::uint64_t size, MessageKind kind,
                                 std::size_t index) const {
  const std::string at = " (message " + std::to_string(index) + ")";
  topo_.check_node(src, ("src" + at).c_str());
  topo_.check_node(dst, ("dst" + at).c_str());
  if (!topo_.is_endpoint(src)) throw std::invalid_argument("src: node '" + topo_.node(src).name + "' is not an endpoint" + at);
  if (!topo_.is_endpoint(dst)) throw std::invalid_argument("dst: node '" + topo_.node(dst).name + "' is not an endpoint" + at);
  if (src == dst) throw std::invalid_argument("dst: equals src ('" + topo_.node(src).name + "')" + at);
  if (size == 0 || size > kMaxMessageBytes)
    throw std::invalid_argument("size: must be in [1, 2^48] bytes, got " + std::to_string(size) + at);
  if (kind != MessageKind::kWrite && kind != MessageKind::kRead)
    throw std::invalid_argument("kind: must be write (0) or read (1)" + at);
  if (cfg_.txn_bytes && (size - 1) / cfg_.txn_bytes >= kNone)
    throw std::invalid_argument("size: " + std::to_string(size) + " bytes is more than 2^32 transactions of txn_bytes = " +
                                std::to_string(cfg_.txn_bytes) + at);
  for (const NodeId n : {src, dst}) {
    const auto& dev = hbm_[topo_.endpoint_index(n)];
    const std::uint64_t txn = cfg_.txn_bytes ? std::min(cfg_.txn_bytes, size) : size;
    if (dev && txn > dev->config().capacity_bytes())
      throw std::invalid_argument("size: a transaction of " + std::to_string(txn) + " bytes exceeds the HBM of '" +
                                  topo_.node(n).name + "' (" + std::to_string(dev->config().capacity_bytes()) +
                                  " bytes); set txn_bytes" + at);
  }
  const bool routed = routes_.hops(src, topo_.endpoint_index(dst)) != RoutingTable::kUnreachable &&
                      routes_.hops(dst, topo_.endpoint_index(src)) != RoutingTable::kUnreachable;
  // With faults the routes are today's: a pair cut off until a repair may still be sent to.
  if (!routed && !(connectivity_ && connectivity_->connected(topo_, src, dst)))
    throw std::invalid_argument("dst: endpoint '" + topo_.node(dst).name + "' and '" + topo_.node(src).name +
                                "' are not connected both ways" + at);
}

void Simulator::check_start(NodeId src, NodeId dst, MessageKind kind, Time delay_ps, std::size_t index) const {
  const std::string at = " (message " + std::to_string(index) + ")";
  if (delay_ps > kMaxTime) throw std::invalid_argument("delay_ps: must be <= 2^62 ps, got " + std::to_string(delay_ps) + at);
  // The earliest it can start; dependencies may only delay it further (then a start past the end
  // of time is found when it is scheduled, and the run stops with TimeOverflow).
  const Time issue = topo_.node(kind == MessageKind::kWrite ? src : dst).ep.issue_ps;
  if (now_ + delay_ps + issue > kMaxTime)
    throw std::invalid_argument("delay_ps: the message would start at now + delay_ps + the initiator's issue latency = " +
                                std::to_string(now_) + " + " + std::to_string(delay_ps) + " + " + std::to_string(issue) +
                                " ps, past the end of simulated time (2^62 ps)" + at);
}

std::uint32_t Simulator::append_message(NodeId src, NodeId dst, std::uint64_t size, MessageKind kind, Time delay_ps,
                                        std::uint64_t tag) {
  if (msgs_.src.size() >= kNone - 1) throw std::invalid_argument("messages: too many (limit 2^32 - 2)");
  const auto m = static_cast<std::uint32_t>(msgs_.src.size());
  msgs_.src.push_back(src);
  msgs_.dst.push_back(dst);
  msgs_.size.push_back(size);
  msgs_.kind.push_back(kind);
  msgs_.delay_ps.push_back(delay_ps);
  msgs_.tag.push_back(tag);
  msgs_.start_ps.push_back(kNever);
  msgs_.first_byte_ps.push_back(kNever);
  msgs_.delivered_ps.push_back(kNever);
  msgs_.end_ps.push_back(kNever);
  deps_ready_ps_.push_back(now_);
  // Transactions of txn bytes (the last one shorter), each cut into packets of up to `payload`.
  const std::uint64_t payload = cfg_.mtu_bytes - cfg_.header_bytes;
  const std::uint64_t txn = cfg_.txn_bytes ? std::min<std::uint64_t>(cfg_.txn_bytes, size) : size;
  const std::uint64_t ntxn = (size + txn - 1) / txn;
  const std::uint64_t ppt = (txn + payload - 1) / payload;
  const std::uint64_t last = size - (ntxn - 1) * txn;
  const std::uint64_t npackets = (ntxn - 1) * ppt + (last + payload - 1) / payload;
  rx_left_.push_back(npackets | kRxFirst | (ntxn > 1 ? kRxMulti : 0));
  ms_.push_back(MessageState{size, npackets, txn, ppt,
                             static_cast<std::uint32_t>(ntxn), 0, 0, 0, 0, kNone, topo_.endpoint_index(dst), kNone,
                             kNone, kind});
  ++messages_incomplete_;
  return m;
}

void Simulator::add_dependency(std::uint32_t before, std::uint32_t after) {
  if (msgs_.delivered_ps[before] != kNever) {
    deps_ready_ps_[after] = std::max(deps_ready_ps_[after], msgs_.delivered_ps[before]);
    return;
  }
  ++ms_[after].pending_deps;
  edge_succ_.push_back(after);
  edge_next_.push_back(ms_[before].first_succ);
  ms_[before].first_succ = static_cast<std::uint32_t>(edge_succ_.size() - 1);
}

void Simulator::schedule_start_if_ready(std::uint32_t m) {
  if (ms_[m].pending_deps == 0) {
    // The event fires once the initiator has also done its issue work; start_ps excludes it.
    const NodeId initiator = ms_[m].kind == MessageKind::kWrite ? msgs_.src[m] : msgs_.dst[m];
    const Time t = std::max(deps_ready_ps_[m], now_) + msgs_.delay_ps[m] + topo_.node(initiator).ep.issue_ps;
    queue_.push(t, EventType::kMessageStart, m);
  }
}

void Simulator::throw_if_broken() const {
  const std::string& why = queue_.refused().empty() ? callback_threw_ : queue_.refused();
  if (!why.empty())
    throw std::logic_error("simulation: cannot continue after an earlier error (" + why + "); start a new one");
}

void Simulator::call_back(const CompletionCallback& cb, std::uint32_t m, const char* which) {
  try {
    cb(m, now_);
  } catch (...) {
    // The event that called it stops half way (the rest of its work is not done), so the state
    // is no longer consistent: refuse to go on rather than run into a false Deadlock later.
    callback_threw_ = std::string("the ") + which + " callback of message " + std::to_string(m) + " threw at t=" +
                      std::to_string(now_) + " ps";
    throw;
  }
}

std::uint32_t Simulator::add_message(NodeId src, NodeId dst, std::uint64_t size, MessageKind kind, Time delay_ps,
                                     std::uint64_t tag, std::span<const std::uint32_t> deps) {
  throw_if_broken();
  const std::size_t index = msgs_.src.size();
  validate_message(src, dst, size, kind, index);
  check_start(src, dst, kind, delay_ps, index);
  for (const std::uint32_t d : deps)
    if (d >= index)
      throw std::invalid_argument("deps: message " + std::to_string(d) + " does not exist yet (have " +
                                  std::to_string(index) + ")");
  const std::uint32_t m = append_message(src, dst, size, kind, delay_ps, tag);
  for (const std::uint32_t d : deps) add_dependency(d, m);
  schedule_start_if_ready(m);
  return m;
}

std::uint32_t Simulator::add_messages(std::span<const NodeId> src, std::span<const NodeId> dst,
                                      std::span<const std::uint64_t> size, std::span<const MessageKind> kind,
                                      std::span<const Time> delay_ps, std::span<const std::uint64_t> tag,
                                      std::span<const std::uint32_t> dep_before,
                                      std::span<const std::uint32_t> dep_after) {
  throw_if_broken();
  const std::size_t n = src.size();
  if (dst.size() != n || size.size() != n || kind.size() != n || delay_ps.size() != n || tag.size() != n)
    throw std::invalid_argument("messages: src, dst, size, kind, delay_ps and tag must have the same length");
  if (dep_before.size() != dep_after.size())
    throw std::invalid_argument("deps: 'before' and 'after' must have the same length");
  const std::size_t first = msgs_.src.size();
  if (first + n >= kNone - 1) throw std::invalid_argument("messages: too many (limit 2^32 - 2)");
  for (std::size_t i = 0; i < n; ++i) {
    validate_message(src[i], dst[i], size[i], kind[i], i);
    check_start(src[i], dst[i], kind[i], delay_ps[i], i);
  }
  // Kahn's algorithm over the batch: every message must be reachable from the roots.
  std::vector<std::uint32_t> indeg(n, 0);
  std::vector<std::uint32_t> offs(n + 1, 0);
  for (std::size_t k = 0; k < dep_before.size(); ++k) {
    const std::uint32_t b = dep_before[k];
    const std::uint32_t a = dep_after[k];
    if (b >= n || a >= n)
      throw std::invalid_argument("deps: pair " + std::to_string(k) + " (" + std::to_string(b) + ", " +
                                  std::to_string(a) + ") names a message outside 0.." + std::to_string(n - 1));
    if (a == b) throw std::invalid_argument("deps: message " + std::to_string(a) + " depends on itself");
    ++indeg[a];
    ++offs[b + 1];
  }
  for (std::size_t i = 0; i < n; ++i) offs[i + 1] += offs[i];
  std::vector<std::uint32_t> succ(dep_before.size());
  {
    std::vector<std::uint32_t> fill(offs.begin(), offs.end() - 1);
    for (std::size_t k = 0; k < dep_before.size(); ++k) succ[fill[dep_before[k]]++] = dep_after[k];
  }
  std::vector<std::uint32_t> order;
  order.reserve(n);
  std::vector<std::uint32_t> deg = indeg;
  for (std::uint32_t i = 0; i < n; ++i)
    if (deg[i] == 0) order.push_back(i);
  for (std::size_t h = 0; h < order.size(); ++h)
    for (std::uint32_t k = offs[order[h]]; k < offs[order[h] + 1]; ++k)
      if (--deg[succ[k]] == 0) order.push_back(succ[k]);
  if (order.size() != n) {
    std::size_t culprit = 0;
    while (deg[culprit] == 0) ++culprit;
    throw std::invalid_argument("deps: the dependencies form a cycle (message " + std::to_string(culprit) +
                                " is on or behind one)");
  }
  for (std::size_t i = 0; i < n; ++i) append_message(src[i], dst[i], size[i], kind[i], delay_ps[i], tag[i]);
  for (std::size_t k = 0; k < dep_before.size(); ++k)
    add_dependency(static_cast<std::uint32_t>(first + dep_before[k]), static_cast<std::uint32_t>(first + dep_after[k]));
  for (std::size_t i = 0; i < n; ++i) schedule_start_if_ready(static_cast<std::uint32_t>(first + i));
  return static_cast<std::uint32_t>(first);
}

// ---------------------------------------------------------------------------------------------
// Run loop

StopReason Simulator::run(Time until, std::uint64_t max_events) {
  throw_if_broken();
  if (running_)
    throw std::logic_error("run, advance_until, run_until_idle: called from inside a callback; a callback may inject "
                           "messages and schedule faults, and the run goes on when it returns");
  // Cleared however the loop is left, an exception from a callback included.
  struct Running {
    Simulator& sim;
    explicit Running(Simulator& s) : sim(s) { sim.running_ = true; }
    ~Running() {
      sim.running_ = false;
      sim.current_event_ = nullptr;
    }
  } running(*this);
  std::uint64_t done = 0;
  completion_pending_ = false;
  Event e;
  while (!queue_.empty()) {
    if (done >= max_events) return StopReason::kEvents;
    if (!queue_.pop_until(until, e)) return StopReason::kTime;
    now_ = e.time;
    ++events_;
    ++done;
    if (prefetch_events_) prefetch_ahead();
    if (cfg_.check) {
      current_event_ = &e;
      touched_.clear();
    }
    dispatch(e);
    if (cfg_.check) {
      for (const ChannelId c : touched_) check_channel(c, "after event");
      check_packet_ledger();
      current_event_ = nullptr;
    }
    if (completion_pending_ && stop_on_completion_) return StopReason::kCompletion;
  }
  return StopReason::kIdle;
}

void Simulator::advance_until(Time t) {
  if (t > kMaxTime) throw std::invalid_argument("t: must be <= 2^62 ps, got " + std::to_string(t));
  if (t < now_)
    throw std::invalid_argument("t: must be >= now() (" + std::to_string(now_) + " ps), got " + std::to_string(t));
  while (run(t, ~0ULL) == StopReason::kCompletion) {
  }
  if (t > now_) now_ = t;
}

void Simulator::run_until_idle() {
  while (run(kNever, ~0ULL) == StopReason::kCompletion) {
  }
  throw_if_stalled();
}

void Simulator::throw_if_stalled() const {
  if (queue_.empty() && messages_incomplete_ > 0 && !stranded_.empty()) {
    const Packet& pk = pkts_[stranded_.front()];
    std::uint64_t down = 0;
    for (const Output& o : out_) down += o.down;
    throw CutOff("simulation cannot finish at t=" + std::to_string(now_) + " ps: " +
                 std::to_string(messages_incomplete_) + " messages unfinished, " + std::to_string(stranded_.size()) +
                 " packets held at sources with no path left (e.g. '" +
                 topo_.node(topo_.endpoints()[pk.src_ep]).name + "' cannot reach '" +
                 topo_.node(topo_.endpoints()[pk.dst_ep]).name + "'; " + std::to_string(down) +
                 " channels down and no repair scheduled)");
  }
  if (queue_.empty() && messages_incomplete_ > 0)
    throw Deadlock("simulation stalled at t=" + std::to_string(now_) + " ps: " +
                   std::to_string(messages_incomplete_) + " messages unfinished and " +
                   std::to_string(live_packets_) +
                   " packets stuck with no event left to move them (a cyclic buffer dependency in this "
                   "topology and routing)");
}

std::vector<std::uint32_t> Simulator::take_completed() {
  std::vector<std::uint32_t> out;
  out.swap(completed_);
  return out;
}

// On a large fabric the state an event needs is rarely still in the cache, and handling an event
// is a chain of dependent misses: a packet, then its channel and route; a channel, then its
// round-robin ring and pending credits, the virtual output queue the ring names, the packet at
// its head and the channel it came in on (where its buffer space is released). The upcoming
// events of the sorted bucket are known, so each link of the chain is fetched kPrefetchLead
// events before the next one (stage s, kPrefetchLead * (kPrefetchStages - s) events ahead),
// reading the links fetched before it. The misses then overlap the handling of earlier events.
template <std::uint32_t Stage>
inline void Simulator::prefetch(std::uint64_t key) const {
  const std::uint32_t a = EventQueue::arg_of(key);
  switch (EventQueue::type_of(key)) {
    case EventType::kArrive: {
      const Packet& pk = pkts_[a];
      if constexpr (Stage == 0) {
        __builtin_prefetch(&pk);
        return;
      }
      const Output& in = out_[pk.in_channel];
      if constexpr (Stage == 1) {
        __builtin_prefetch(&in);  // the first two of its lines (see Output)
        __builtin_prefetch(&in.credit);
        return;
      }
      if (in.to_endpoint) {
        if constexpr (Stage == 2) {  // its message's count of packets still to receive
          __builtin_prefetch(&rx_left_[pk.msg]);
          __builtin_prefetch(&in.credit_delay_ps);  // delivered: its buffer space is released
          __builtin_prefetch(&ports_[in.port]);
        }
      } else if constexpr (Stage == 2) {
        __builtin_prefetch(routes_.entry(in.dst, pk.dst_ep));
      } else {
        // The queues of the candidate outputs are adjacent: the first and last cover them. Their
        // Ports are adjacent too, and adaptive routing reads each (16 candidates: five lines).
        // The packet joins one of the candidates' Output blocks, chosen only on arrival, so the
        // first line of each is fetched: on the 768-endpoint CloudMatrix-shaped all-to-all,
        // loading the chosen one was the largest stall left (about 15% faster with these).
        const auto cand = routes_.candidates(in.dst, pk.dst_ep);
        if (!cand.empty()) {
          __builtin_prefetch(&voq(in.dst, in.dst_port, cand.front()));
          __builtin_prefetch(&voq(in.dst, in.dst_port, cand.back()));
          const std::uint32_t base = port_base_[in.dst];
          // (Addresses as integers: a pointer may not step past its array's end.)
          const auto first = reinterpret_cast<std::uintptr_t>(&ports_[base + cand.front()]);
          const auto last = reinterpret_cast<std::uintptr_t>(&ports_[base + cand.back()]);
          for (std::uintptr_t line = first; line < last + 64; line += 64)
            __builtin_prefetch(reinterpret_cast<const void*>(line));
          for (const std::uint16_t o : cand) __builtin_prefetch(&out_[port_channel_[base + o]]);
        }
      }
      return;
    }
    case EventType::kKick:
    case EventType::kCredit: {
      const Output& out = out_[a];
      if constexpr (Stage == 0) {
        __builtin_prefetch(&out);  // its first three lines (see Output; stage 1 the fourth)
        __builtin_prefetch(&out.credit);
        __builtin_prefetch(&out.credit_delay_ps);
        return;
      }
      const std::uint32_t slot = out.rr_base + out.rr_head;
      // A channel out of an endpoint sends the endpoint's packets, and each makes it cut its next
      // one (refill) from the front of its round robin of messages, an entry written a whole
      // round ago: fetch that entry, then the message and job it names.
      const std::uint32_t ep = topo_.endpoint_index(out.src);
      if constexpr (Stage == 1) {
        __builtin_prefetch(&rr_[slot]);
        __builtin_prefetch(&ports_[out.port]);
        if (out.credit_spilled) __builtin_prefetch(&out.spill_next);
        if (out.credit_heaped) __builtin_prefetch(&pending_credits_[a]);
        if (ep != kNone) __builtin_prefetch(&eps_[ep].active);
        return;
      }
      if (ep != kNone && !eps_[ep].active.empty()) {
        const Active& next = eps_[ep].active.front();
        if constexpr (Stage == 2) {
          __builtin_prefetch(&next);
        } else {
          __builtin_prefetch(&jobs_[next.job]);  // all a packet's cutting reads (see refill)
        }
      }
      if constexpr (Stage == 2)
        if (out.credit_heaped && ports_[out.port].next_credit <= now_) __builtin_prefetch(pending_credits_[a].data());
      if (out.rr_count == 0) return;
      const std::uint32_t input = rr_[slot];
      const Queue& q = voq(out.src, input, out.src_port);
      const bool forwarded = input != out.rr_cap - 1;  // not injected here: released where it came in
      const Output* in = forwarded ? &out_[input_channel_[input_base_[out.src] + input]] : nullptr;
      if constexpr (Stage == 2) {
        __builtin_prefetch(&q);
        if (forwarded) {
          __builtin_prefetch(in);
          __builtin_prefetch(&in->credit);
          __builtin_prefetch(&in->credit_delay_ps);
        }
      } else {
        if (q.head != kNone) __builtin_prefetch(&pkts_[q.head]);
        if (forwarded) __builtin_prefetch(&ports_[in->port]);
      }
      return;
    }
    default: return;
  }
}

inline void Simulator::prefetch_ahead() const {
  // One bounds check for the common case (the bucket holds the furthest event fetched), and a
  // function per stage: the stage is known where it is called, not tested in the function.
  static_assert(kPrefetchStages == 4);
  const std::span<const std::uint64_t> next = queue_.upcoming();
  constexpr std::size_t kFurthest = kPrefetchLead * kPrefetchStages - 1;
  if (next.size() > kFurthest) [[likely]] {
    prefetch<0>(next[kFurthest]);
    prefetch<1>(next[kFurthest - kPrefetchLead]);
    prefetch<2>(next[kFurthest - 2 * kPrefetchLead]);
    prefetch<3>(next[kFurthest - 3 * kPrefetchLead]);
    return;
  }
  if (next.size() > kFurthest - kPrefetchLead) prefetch<1>(next[kFurthest - kPrefetchLead]);
  if (next.size() > kFurthest - 2 * kPrefetchLead) prefetch<2>(next[kFurthest - 2 * kPrefetchLead]);
  if (next.size() > kFurthest - 3 * kPrefetchLead) prefetch<3>(next[kFurthest - 3 * kPrefetchLead]);
}

void Simulator::dispatch(const Event& e) {
  switch (e.type()) {
    case EventType::kArrive: on_arrive(e.arg()); break;
    case EventType::kKick:
      out_[e.arg()].kick_pending = false;
      try_send(e.arg());
      break;
    case EventType::kCredit:
      if (out_[e.arg()].credit_wake == now_) out_[e.arg()].credit_wake = kNever;
      try_send(e.arg());
      break;
    case EventType::kMessageStart: on_message_start(e.arg()); break;
    case EventType::kTargetReady: on_target_ready(e.arg()); break;
    case EventType::kCommitted: on_committed(e.arg()); break;
    case EventType::kMemory: on_memory(e.arg()); break;
    case EventType::kIssue:
      eps_[e.arg()].issue_wake = false;
      refill(e.arg());
      break;
    case EventType::kFault: on_fault(e.arg()); break;
    case EventType::kRetransmit:
      --retx_waiting_;
      resend(e.arg());
      break;
    case EventType::kReplay: on_replay(e.arg()); break;
  }
}

// ---------------------------------------------------------------------------------------------
// Packets

std::uint32_t Simulator::new_packet() {
  ++live_packets_;
  if (!free_pkts_.empty()) {
    const std::uint32_t p = free_pkts_.back();
    free_pkts_.pop_back();
    return p;
  }
  if (pkts_.size() >= kNone) throw std::length_error("packets: more than 2^32 in flight");
  pkts_.emplace_back();
  return static_cast<std::uint32_t>(pkts_.size() - 1);
}

void Simulator::free_packet(std::uint32_t p) {
  --live_packets_;
  free_pkts_.push_back(p);
}

std::uint32_t Simulator::choose_port(NodeId n, const Packet& pk, std::span<const std::uint16_t> cand) {
  const std::size_t k = cand.size();
  if (k == 1) return cand[0];
  const std::uint64_t flow = hash_combine(hash_combine(cfg_.seed, pk.msg), n);
  switch (cfg_.routing) {
    case RoutingPolicy::kEcmp: return cand[flow % k];
    case RoutingPolicy::kSpray: return cand[(flow + pk.seq) % k];
    case RoutingPolicy::kAdaptive: break;
  }
  // Least occupied output: bytes queued for it here plus bytes it has sent that the next hop has
  // not yet freed. Scanning from a per-packet rotating start spreads ties.
  const ChannelId* outs = &port_channel_[port_base_[n]];
  const Port* ports = &ports_[port_base_[n]];
  const std::uint16_t* c = cand.data();
  const Time now = now_;  // a local: absorb_credits could write now_ as far as the compiler knows
  // The first least-loaded candidate from a per-packet rotating start on, wrapping, in one pass
  // of k steps (a loop of fixed length predicts; two scans split at the start did not). Each
  // candidate's arrived credits are absorbed just before its load is read: absorbing touches
  // only that candidate's own state, so this is the order-independent result of absorbing all
  // first. The candidate is picked without a branch (which is least loaded is data).
  const std::size_t start = (flow + pk.seq) % k;
  std::uint32_t best = c[start];
  std::uint64_t best_load = ~std::uint64_t{0};
  for (std::size_t i = start, left = k; left > 0; --left) {
    const std::uint32_t o = c[i];
    if (ports[o].next_credit <= now) absorb_credits(outs[o]);
    const std::uint64_t load = ports[o].load;
    best = load < best_load ? o : best;
    best_load = load < best_load ? load : best_load;
    i = i + 1 == k ? 0 : i + 1;
  }
  return best;
}

void Simulator::enqueue(NodeId n, std::uint32_t input, std::uint32_t p) {
  Packet& pk = pkts_[p];
  const auto cand = routes_.candidates(n, pk.dst_ep);
  if (cand.empty()) {
    if (faults_) return unroutable(n, input, p);
    violation("no route from '" + topo_.node(n).name + "' to endpoint " + std::to_string(pk.dst_ep));
  }
  const std::uint32_t o = choose_port(n, pk, cand);
  const std::uint32_t port = port_base_[n] + o;
  const ChannelId c = port_channel_[port];
  Queue& q = voq(n, input, o);
  pk.next = kNone;
  if (q.tail == kNone) {
    q.head = p;
    Output& out = out_[c];
    rr_[out.rr_base + ring_wrap(out.rr_head + out.rr_count, out.rr_cap)] = input;
    ++out.rr_count;
  } else {
    pkts_[q.tail].next = p;
  }
  q.tail = p;
  out_[c].queued_bytes += pk.wire;
  ports_[port].load += pk.wire;
  if (cfg_.check) touched_.push_back(c);
  try_send(c);
}

void Simulator::schedule_kick(ChannelId c, Time t) {
  Output& out = out_[c];
  if (out.kick_pending) return;
  out.kick_pending = true;
  queue_.push(t, EventType::kKick, c);
}

void Simulator::try_send(ChannelId c) {
  Output& out = out_[c];
  if (out.rr_count == 0 || out.down) return;
  if (out.busy_until > now_) {
    schedule_kick(c, out.busy_until);
    return;
  }
  const NodeId n = out.src;
  const std::uint32_t cap = out.rr_cap;
  const std::uint32_t input = rr_[out.rr_base + out.rr_head];
  Queue& q = voq(n, input, out.src_port);
  const std::uint32_t p = q.head;
  Packet& pk = pkts_[p];
  CreditState& cr = out.credit;
  absorb_credits(c);
  if (pk.wire > cr.credits) {
    // Wait for credits: wake at the earliest return already on its way (later releases at the
    // next hop schedule their own wake-up, see release_input).
    out.credit_blocked = true;
    const Time next = ports_[out.port].next_credit;  // absorb_credits left the earliest still on its way
    if (next != kNever) wake_for_credits(c, next);
    return;
  }
  out.credit_blocked = false;

  // Dequeue, and serve the inputs round robin.
  q.head = pk.next;
  if (q.head == kNone) q.tail = kNone;
  out.queued_bytes -= pk.wire;
  out.rr_head = ring_wrap(out.rr_head + 1, cap);
  --out.rr_count;
  if (q.head != kNone) {
    rr_[out.rr_base + ring_wrap(out.rr_head + out.rr_count, cap)] = input;
    ++out.rr_count;
  }

  // Serialize.
  cr.credits -= pk.wire;
  cr.on_wire += pk.wire;
  const Time end = std::max(now_ + serialization_ps(pk.wire, out.rate), pk.tail_ps);
  out.busy_until = end;
  out.wire_bytes += pk.wire;
  out.payload_bytes += pk.payload;
  ++out.packets;
  out.busy_ps += end - now_;
  ++packet_hops_;
  if (cfg_.check) touched_.push_back(c);
  if (cfg_.trace_limit) {
    if (trace_.records.size() < cfg_.trace_limit)
      trace_.records.push_back(TransmissionRecord{now_, end, c, pk.msg, pk.wire, pk.payload});
    else
      ++trace_.dropped;
  }

  // Free the packet's place at this node. A switch's injection input holds only packets replayed
  // by link-level retry, which occupy the retry buffer, not an input buffer.
  const bool injected = input == cap - 1;
  const std::uint32_t ep = injected ? topo_.endpoint_index(n) : kNone;
  if (!injected)
    release_input(pk.in_channel, pk.wire, end);
  else if (pk.kind == PacketKind::kData && ep != kNone)
    --eps_[ep].queued;

  // Head and tail times at the next node.
  Time arrive;
  if (out.cut_through) {
    arrive = now_ + out.flight_ps;
    pk.tail_ps = end + out.flight_ps;
  } else {
    arrive = end + out.flight_ps;
    pk.tail_ps = arrive;
  }
  pk.in_channel = c;
  pk.epoch = out.epoch;
  queue_.push(arrive, EventType::kArrive, p);
  if (out.rr_count > 0) schedule_kick(c, end);
  if (ep != kNone) refill(ep);
}

void Simulator::release_input(ChannelId c, std::uint32_t bytes, Time when) {
  Output& out = out_[c];
  CreditState& cr = out.credit;
  cr.buffered -= bytes;
  cr.returning += bytes;
  if (cfg_.check) touched_.push_back(c);
  // The credit travels back over the reverse direction of the same link.
  const Time arrives = when + out.credit_delay_ps;
  const int slot = out.credit_at[0] == kNever ? 0 : out.credit_at[1] == kNever ? 1 : -1;
  if (slot >= 0) {
    out.credit_at[slot] = arrives;
    out.credit_bytes[slot] = bytes;
  } else {
    spill_credit(c, arrives, bytes);
  }
  Time& next = ports_[out.port].next_credit;
  next = std::min(next, arrives);
  if (out.credit_blocked) wake_for_credits(c, arrives);
}

void Simulator::spill_credit(ChannelId c, Time arrives, std::uint32_t bytes) {
  Output& out = out_[c];
  out.credit_spilled = true;
  if (out.spill_count < Output::kSpillSlots) {
    out.spill_at[out.spill_count] = arrives;
    out.spill_bytes[out.spill_count++] = bytes;
    out.spill_next = std::min(out.spill_next, arrives);
    return;
  }
  auto& pending = pending_credits_[c];
  pending.push_back(PendingCredit{arrives, bytes});
  std::push_heap(pending.begin(), pending.end(), std::greater<>{});
  out.credit_heaped = true;
}

void Simulator::absorb_spilled(ChannelId c, std::uint64_t& arrived, Time& next) {
  Output& out = out_[c];
  if (out.spill_next <= now_) {
    // Keep the returns still on their way at the front, without branches: which are due is
    // data, and a mispredicted branch costs more than the copies.
    std::uint32_t kept = 0;
    Time kept_next = kNever;
    for (std::uint32_t i = 0; i < out.spill_count; ++i) {
      const Time at = out.spill_at[i];
      const std::uint32_t bytes = out.spill_bytes[i];
      const bool due = at <= now_;
      arrived += due ? bytes : 0;
      out.spill_at[kept] = at;
      out.spill_bytes[kept] = bytes;
      kept += due ? 0 : 1;
      kept_next = due ? kept_next : std::min(kept_next, at);
    }
    out.spill_count = kept;
    out.spill_next = kept_next;
  }
  next = std::min(next, out.spill_next);
  if (out.credit_heaped) {
    auto& pending = pending_credits_[c];
    while (!pending.empty() && pending.front().arrives <= now_) {
      arrived += pending.front().bytes;
      std::pop_heap(pending.begin(), pending.end(), std::greater<>{});
      pending.pop_back();
    }
    out.credit_heaped = !pending.empty();
    if (out.credit_heaped) next = std::min(next, pending.front().arrives);
  }
  out.credit_spilled = out.spill_count > 0 || out.credit_heaped;
}

void Simulator::absorb_credits(ChannelId c) {
  Output& out = out_[c];
  Port& port = ports_[out.port];
  if (port.next_credit > now_) return;
  std::uint64_t arrived = 0;
  Time next = kNever;
  for (int i = 0; i < 2; ++i) {
    if (out.credit_at[i] <= now_) {
      arrived += out.credit_bytes[i];
      out.credit_at[i] = kNever;
    } else {
      next = std::min(next, out.credit_at[i]);
    }
  }
  if (out.credit_spilled) absorb_spilled(c, arrived, next);
  out.credit.returning -= arrived;
  out.credit.credits += arrived;
  port.load -= arrived;
  port.next_credit = next;
  if (cfg_.check) touched_.push_back(c);
}

void Simulator::wake_for_credits(ChannelId c, Time t) {
  Output& out = out_[c];
  if (t >= out.credit_wake) return;  // an earlier wake-up is already scheduled
  out.credit_wake = t;
  queue_.push(t, EventType::kCredit, c);
}

std::vector<Time> Simulator::busy_ps_until_now() const {
  std::vector<Time> busy(out_.size());
  for (ChannelId c = 0; c < busy.size(); ++c) {
    busy[c] = out_[c].busy_ps;
    if (out_[c].busy_until > now_) busy[c] -= out_[c].busy_until - now_;  // the part still to come
  }
  return busy;
}

ChannelCounters Simulator::channel_counters() const {
  ChannelCounters cc;
  for (const Output& out : out_) {
    cc.wire_bytes.push_back(out.wire_bytes);
    cc.payload_bytes.push_back(out.payload_bytes);
    cc.packets.push_back(out.packets);
    cc.busy_ps.push_back(out.busy_ps);
  }
  return cc;
}

std::vector<CreditState> Simulator::credit_states() const {
  std::vector<CreditState> cs;
  cs.reserve(out_.size());
  for (const Output& out : out_) cs.push_back(out.credit);
  return cs;
}

void Simulator::settle_credits() {
  for (ChannelId c = 0; c < out_.size(); ++c) absorb_credits(c);
}

void Simulator::on_arrive(std::uint32_t p) {
  Packet& pk = pkts_[p];
  const ChannelId c = pk.in_channel;
  if (faults_ && pk.epoch != out_[c].epoch) return lost_on_wire(p);
  Output& in = out_[c];
  CreditState& cr = in.credit;
  cr.on_wire -= pk.wire;
  cr.buffered += pk.wire;
  if (cfg_.check) touched_.push_back(c);
  const NodeId n = in.dst;
  if (in.to_endpoint) {
    if (topo_.endpoint_index(n) != pk.dst_ep)
      violation("packet for endpoint " + std::to_string(pk.dst_ep) + " arrived at '" + topo_.node(n).name + "'");
    const RateMilliBps rate = topo_.node(n).ep.write_rate;
    if (rate != 0 && pk.kind == PacketKind::kData && msgs_.kind[pk.msg] == MessageKind::kWrite) {
      // The write engine commits packets one after another; the packet holds its buffer space
      // (and counts as delivered) until it is committed.
      Time& engine = eps_[pk.dst_ep].write_engine_free;
      engine = std::max(engine, now_) + serialization_ps(pk.payload, rate);
      if (engine > now_) {
        queue_.push(engine, EventType::kCommitted, p);
        return;
      }
    }
    release_input(c, pk.wire, now_);
    deliver(p, n);
  } else {
    enqueue(n, in.dst_port, p);
  }
}

void Simulator::on_committed(std::uint32_t p) {
  const ChannelId c = pkts_[p].in_channel;
  release_input(c, pkts_[p].wire, now_);
  deliver(p, out_[c].dst);
}

void Simulator::deliver(std::uint32_t p, NodeId at) {
  const Packet pk = pkts_[p];
  free_packet(p);
  ++ledger_.delivered_packets[pk.src_ep];
  const std::uint32_t m = pk.msg;
  switch (pk.kind) {
    case PacketKind::kData: {
      ledger_.delivered_bytes[pk.src_ep] += pk.payload;
      ledger_.received_bytes[topo_.endpoint_index(at)] += pk.payload;
      const Time lat = now_ - pk.created_ps;
      ++latency_hist_[lat == 0 ? 0 : static_cast<std::size_t>(std::bit_width(lat) - 1)];
      std::uint64_t& rx = rx_left_[m];
      if (rx & kRxFirst) msgs_.first_byte_ps[m] = now_;
      if ((rx & kRxCount) == 0)
        violation("message " + std::to_string(m) + " received more packets than it has (" +
                  std::to_string(ms_[m].npackets) + ")");
      rx = (rx & ~kRxFirst) - 1;
      // Is this packet's transaction now complete? Packets of a transaction may arrive out of
      // order (spraying), so count them.
      bool txn_complete = false;
      std::uint32_t k = 0;
      if (!(rx & kRxMulti)) {
        txn_complete = rx == 0;
      } else {
        k = static_cast<std::uint32_t>(pk.seq / ms_[m].ppt);
        const std::uint64_t key = (static_cast<std::uint64_t>(m) << 32) | k;
        const std::uint64_t got = ++txn_delivered_[key];
        txn_complete = got == txn_end_packet(m, k) - txn_first_packet(m, k);
        if (txn_complete) txn_delivered_.erase(key);
      }
      if (txn_complete) txn_arrived(m, k, at);
      return;
    }
    case PacketKind::kRequest: {
      // The read engine fetches transactions one after another at its rate; the data leaves
      // after the fetch latency, and not before the engine has produced it.
      const EndpointParams& par = topo_.node(at).ep;
      const auto k = static_cast<std::uint32_t>(pk.seq);
      Time ready = now_ + par.read_fetch_ps;
      if (par.read_rate != 0) {
        Time& engine = eps_[topo_.endpoint_index(at)].read_engine_free;
        const std::uint64_t bytes = txn_bytes_of(m, k);
        engine = std::max(engine, now_) + serialization_ps(bytes, par.read_rate);
        ready = std::max(ready, engine);
      }
      target_work(m, k, MessageKind::kRead, ready - now_);
      return;
    }
    case PacketKind::kAck: txn_done(m, topo_.endpoint_index(at)); return;
  }
}

void Simulator::txn_arrived(std::uint32_t m, std::uint32_t txn, NodeId at) {
  const std::uint32_t ep = topo_.endpoint_index(at);
  if (hbm_[ep])
    memory_access(ep, m, txn, true);
  else
    txn_landed(m, txn, at);
}

void Simulator::txn_landed(std::uint32_t m, std::uint32_t txn, NodeId at) {
  MessageState& st = ms_[m];  // not used after callbacks: they may add messages (reallocate)
  const MessageKind kind = st.kind;
  if (++st.landed_txn == st.ntxn) {
    msgs_.delivered_ps[m] = now_;
    for (std::uint32_t e = st.first_succ; e != kNone; e = edge_next_[e]) {
      const std::uint32_t s = edge_succ_[e];
      deps_ready_ps_[s] = std::max(deps_ready_ps_[s], now_);
      --ms_[s].pending_deps;
      schedule_start_if_ready(s);
    }
    if (!delivery_callbacks_.empty()) {
      const auto it = delivery_callbacks_.find(m);
      if (it != delivery_callbacks_.end()) {
        const CompletionCallback cb = std::move(it->second);
        delivery_callbacks_.erase(it);
        call_back(cb, m, "on_delivered");
      }
    }
  }
  if (kind == MessageKind::kWrite)
    target_work(m, txn, MessageKind::kWrite, topo_.node(at).ep.write_commit_ps);
  else
    txn_done(m, topo_.endpoint_index(at));
}

void Simulator::send_txn(std::uint32_t m, std::uint32_t txn) {
  const std::uint32_t ep = topo_.endpoint_index(msgs_.src[m]);
  if (hbm_[ep])
    memory_access(ep, m, txn, false);
  else
    start_job(m, txn);
}

void Simulator::start_job(std::uint32_t m, std::uint32_t txn) {
  MessageState& st = ms_[m];
  const std::uint32_t ep = topo_.endpoint_index(msgs_.src[m]);
  // A transaction that continues the last ready one extends its job: the packets go out in the
  // same order, and a message whose transactions all start at once (no outstanding-write limit)
  // holds one job, not one per transaction (150 M of them in a CloudMatrix 384 all-to-all).
  if (st.job_tail != kNone && jobs_[st.job_tail].end_seq == txn_first_packet(m, txn)) {
    jobs_[st.job_tail].end_seq = txn_end_packet(m, txn);
    refill(ep);
    return;
  }
  std::uint32_t j;
  if (!free_jobs_.empty()) {
    j = free_jobs_.back();
    free_jobs_.pop_back();
  } else {
    j = static_cast<std::uint32_t>(jobs_.size());
    jobs_.push_back({});
  }
  jobs_[j] = Job{txn_first_packet(m, txn), txn_end_packet(m, txn), txn_end_packet(m, txn) - 1, kNone, st.dst_ep};
  if (st.job_tail == kNone) {
    st.job_head = j;
    eps_[ep].active.push_back(Active{m, j});  // the message joins the round robin
  } else {
    jobs_[st.job_tail].next = j;
  }
  st.job_tail = j;
  refill(ep);
}

void Simulator::attach_memory(NodeId endpoint, const memory::HbmConfig& config) {
  topo_.check_node(endpoint, "endpoint");
  if (!topo_.is_endpoint(endpoint))
    throw std::invalid_argument("endpoint: node '" + topo_.node(endpoint).name + "' is not an endpoint");
  if (!msgs_.src.empty()) throw std::invalid_argument("attach_memory: must come before the first message");
  hbm_[topo_.endpoint_index(endpoint)] = std::make_unique<memory::HbmDevice>(config);
}

const memory::HbmDevice* Simulator::memory(NodeId endpoint) const {
  topo_.check_node(endpoint, "endpoint");
  const std::uint32_t ep = topo_.endpoint_index(endpoint);
  return ep == kNone ? nullptr : hbm_[ep].get();
}

void Simulator::memory_access(std::uint32_t ep, std::uint32_t m, std::uint32_t txn, bool is_write) {
  memory::HbmDevice& dev = *hbm_[ep];
  const std::uint64_t bytes = txn_bytes_of(m, txn);
  // Each endpoint streams through its memory: accesses follow one another, wrapping at the end.
  std::uint64_t addr = hbm_next_addr_[ep];
  if (addr + bytes > dev.config().capacity_bytes()) addr = 0;
  hbm_next_addr_[ep] = addr + bytes;
  std::uint32_t id;
  if (!free_mem_ops_.empty()) {
    id = free_mem_ops_.back();
    free_mem_ops_.pop_back();
    mem_ops_[id] = MemoryOp{m, txn, is_write};
  } else {
    id = static_cast<std::uint32_t>(mem_ops_.size());
    mem_ops_.push_back(MemoryOp{m, txn, is_write});
  }
  dev.submit(addr, bytes, is_write, id, now_);
  const Time wake = dev.next_event_time();
  if (wake < hbm_wake_[ep]) {
    hbm_wake_[ep] = wake;
    queue_.push(wake, EventType::kMemory, ep);
  }
}

void Simulator::on_memory(std::uint32_t ep) {
  if (hbm_wake_[ep] == now_) hbm_wake_[ep] = kNever;
  memory::HbmDevice& dev = *hbm_[ep];
  std::vector<memory::Completion> done;
  done.swap(mem_done_);  // reuse one buffer; handlers below never re-enter this function
  done.clear();
  dev.advance_until(now_, done);
  const NodeId n = topo_.endpoints()[ep];
  for (const memory::Completion& c : done) {
    const MemoryOp op = mem_ops_[c.id];
    free_mem_ops_.push_back(static_cast<std::uint32_t>(c.id));
    if (op.is_write) {
      ledger_.hbm_write_bytes[ep] += c.bytes;
      txn_landed(op.msg, op.txn, n);
    } else {
      ledger_.hbm_read_bytes[ep] += c.bytes;
      start_job(op.msg, op.txn);
    }
  }
  mem_done_.swap(done);
  const Time wake = dev.next_event_time();
  if (wake != kNever && wake < hbm_wake_[ep]) {
    hbm_wake_[ep] = wake;
    queue_.push(wake, EventType::kMemory, ep);
  }
}

void Simulator::target_work(std::uint32_t m, std::uint32_t txn, MessageKind kind, Time latency) {
  if (latency > 0) {
    std::uint32_t w;
    if (!free_work_.empty()) {
      w = free_work_.back();
      free_work_.pop_back();
      work_[w] = TargetWork{m, txn, kind};
    } else {
      w = static_cast<std::uint32_t>(work_.size());
      work_.push_back(TargetWork{m, txn, kind});
    }
    queue_.push(now_ + latency, EventType::kTargetReady, w);
    return;
  }
  if (kind == MessageKind::kWrite)
    send_control(PacketKind::kAck, m, txn, msgs_.dst[m], msgs_.src[m]);
  else
    send_txn(m, txn);
}

void Simulator::on_target_ready(std::uint32_t w) {
  const TargetWork work = work_[w];
  free_work_.push_back(w);
  target_work(work.msg, work.txn, work.kind, 0);
}

void Simulator::txn_done(std::uint32_t m, std::uint32_t initiator_ep) {
  EndpointState& st = eps_[initiator_ep];
  if (ms_[m].kind == MessageKind::kWrite)
    --st.writes_out;
  else
    --st.reads_out;
  if (++ms_[m].done_txn == ms_[m].ntxn) complete(m);
  issue(initiator_ep);
}

void Simulator::issue(std::uint32_t ep) {
  EndpointState& st = eps_[ep];
  const EndpointParams& par = topo_.node(topo_.endpoints()[ep]).ep;
  // Start transactions while the windows allow, round robin over the waiting messages.
  while (!st.pending_writes.empty() && (par.max_writes == 0 || st.writes_out < par.max_writes)) {
    const std::uint32_t m = st.pending_writes.front();
    st.pending_writes.pop_front();
    const std::uint32_t k = ms_[m].started_txn++;
    if (ms_[m].started_txn < ms_[m].ntxn) st.pending_writes.push_back(m);
    ++st.writes_out;
    send_txn(m, k);
  }
  while (!st.pending_reads.empty() && (par.max_reads == 0 || st.reads_out < par.max_reads)) {
    const std::uint32_t m = st.pending_reads.front();
    st.pending_reads.pop_front();
    const std::uint32_t k = ms_[m].started_txn++;
    if (ms_[m].started_txn < ms_[m].ntxn) st.pending_reads.push_back(m);
    ++st.reads_out;
    send_control(PacketKind::kRequest, m, k, msgs_.dst[m], msgs_.src[m]);
  }
}

void Simulator::complete(std::uint32_t m) {
  msgs_.end_ps[m] = now_;
  --messages_incomplete_;
  completed_.push_back(m);
  completion_pending_ = true;
  if (on_complete_) {
    // Moved out while it runs, so that it may replace itself (without a copy per message); put
    // back unless it did.
    const std::uint64_t sets = completion_callback_sets_;
    CompletionCallback cb = std::move(on_complete_);
    on_complete_ = nullptr;
    call_back(cb, m, "completion");
    if (completion_callback_sets_ == sets) on_complete_ = std::move(cb);
  }
  if (!message_callbacks_.empty()) {
    const auto it = message_callbacks_.find(m);
    if (it != message_callbacks_.end()) {
      const CompletionCallback cb = std::move(it->second);
      message_callbacks_.erase(it);
      call_back(cb, m, "on_complete");
    }
  }
}

std::uint32_t Simulator::inject(NodeId src, NodeId dst, std::uint64_t bytes, MessageKind kind, std::uint64_t tag,
                                CompletionCallback on_complete, Time delay_ps, CompletionCallback on_delivered) {
  const std::uint32_t m = add_message(src, dst, bytes, kind, delay_ps, tag);
  if (on_complete) message_callbacks_.emplace(m, std::move(on_complete));
  if (on_delivered) delivery_callbacks_.emplace(m, std::move(on_delivered));
  return m;
}

std::uint32_t Simulator::inject(NodeId src, NodeId dst, std::uint64_t bytes, MessageKind kind, std::uint64_t tag,
                                CompletionFn on_complete, void* ctx, Time delay_ps, CompletionFn on_delivered) {
  const auto wrap = [ctx](CompletionFn fn) {
    CompletionCallback cb;
    if (fn) cb = [fn, ctx](std::uint32_t msg, Time t) { fn(ctx, msg, t); };
    return cb;
  };
  return inject(src, dst, bytes, kind, tag, wrap(on_complete), delay_ps, wrap(on_delivered));
}

void Simulator::on_message_start(std::uint32_t m) {
  const bool write = ms_[m].kind == MessageKind::kWrite;
  const NodeId initiator = write ? msgs_.src[m] : msgs_.dst[m];
  msgs_.start_ps[m] = now_ - topo_.node(initiator).ep.issue_ps;
  const std::uint32_t ep = topo_.endpoint_index(initiator);
  (write ? eps_[ep].pending_writes : eps_[ep].pending_reads).push_back(m);
  issue(ep);
}

void Simulator::send_control(PacketKind kind, std::uint32_t m, std::uint32_t txn, NodeId from, NodeId to) {
  const std::uint32_t p = new_packet();
  const std::uint32_t ep = topo_.endpoint_index(from);
  Packet& pk = pkts_[p];
  pk = Packet{m, kind == PacketKind::kAck ? cfg_.ack_bytes : cfg_.request_bytes, 0, kNone,
              topo_.endpoint_index(to), ep, kNone, kind, 0, txn, now_, now_};
  ++ledger_.injected_packets[ep];
  // Acknowledgements and requests take the response path: they do not use up the window of data
  // packets the endpoint keeps queued (else a busy receiver's acks would stall its own sends).
  enqueue(from, injection_input(from), p);
}

std::uint32_t Simulator::payload_of(std::uint32_t m, std::uint64_t seq) const {
  const std::uint64_t payload_max = cfg_.mtu_bytes - cfg_.header_bytes;
  const MessageState& st = ms_[m];
  const std::uint64_t k = seq / st.ppt;
  const std::uint64_t offset = k * st.txn_size + (seq - k * st.ppt) * payload_max;
  const std::uint64_t txn_end = std::min(st.size, (k + 1) * st.txn_size);
  return static_cast<std::uint32_t>(std::min(payload_max, txn_end - offset));
}

void Simulator::size_window(std::uint32_t ep) {
  if (cfg_.endpoint_window_packets) {
    eps_[ep].window = cfg_.endpoint_window_packets;
    return;
  }
  std::uint32_t up = 0;
  for (const ChannelId c : topo_.out_channels(topo_.endpoints()[ep])) up += out_[c].down ? 0 : 1;
  eps_[ep].window = std::max<std::uint32_t>(2 * up, 1);
}

void Simulator::refill(std::uint32_t ep) {
  EndpointState& st = eps_[ep];
  if (st.refilling) return;
  st.refilling = true;
  const NodeId n = topo_.endpoints()[ep];
  const RateMilliBps issue_rate = topo_.node(n).ep.write_issue_rate;
  while (st.queued < st.window && !st.active.empty()) {
    const auto [m, j] = st.active.front();
    const bool paced = issue_rate != 0 && ms_[m].kind == MessageKind::kWrite;
    if (paced && st.issue_engine_free > now_) {
      // The write-issue engine is busy: wake when it is free (the jobs wait in order).
      if (!st.issue_wake) {
        st.issue_wake = true;
        queue_.push(st.issue_engine_free, EventType::kIssue, ep);
      }
      break;
    }
    st.active.pop_front();
    Job& job = jobs_[j];
    const std::uint64_t seq = job.next_seq++;
    const std::uint32_t dst_ep = job.dst_ep;
    // Only the last packet of a transaction can be short: the message's state is read for that
    // one, and when the job ends, not for every packet.
    std::uint32_t payload = cfg_.mtu_bytes - cfg_.header_bytes;
    if (seq == job.txn_last) {
      payload = payload_of(m, seq);
      job.txn_last = txn_end_packet(m, seq / ms_[m].ppt + 1) - 1;
    }
    if (job.next_seq == job.end_seq) {  // this transaction is cut: on to the message's next one
      MessageState& ms = ms_[m];
      free_jobs_.push_back(j);
      ms.job_head = job.next;
      if (ms.job_head == kNone) ms.job_tail = kNone;
      if (ms.job_head != kNone) st.active.push_back(Active{m, ms.job_head});
    } else {
      st.active.push_back(Active{m, j});  // the job goes on, still its message's job_head
    }
    if (paced) st.issue_engine_free = now_ + serialization_ps(payload, issue_rate);
    const std::uint32_t p = new_packet();
    pkts_[p] = Packet{m, payload + cfg_.header_bytes, payload, kNone, dst_ep,
                      ep, kNone, PacketKind::kData, 0, seq, now_, now_};
    ++ledger_.injected_packets[ep];
    ledger_.injected_bytes[ep] += payload;
    ++st.queued;
    enqueue(n, injection_input(n), p);
  }
  st.refilling = false;
}

// ---------------------------------------------------------------------------------------------
// Self-check

void Simulator::violation(const std::string& what) const {
  std::string where = "t=" + std::to_string(now_) + " ps";
  if (current_event_)
    where += ", event " + std::to_string(events_) + " (" + event_name(current_event_->type()) + " " +
             std::to_string(current_event_->arg()) + ")";
  throw InvariantViolation("invariant violated at " + where + ": " + what);
}

void Simulator::check_channel(ChannelId c, const char* during) const {
  const CreditState& cr = out_[c].credit;
  const std::uint64_t sum = cr.credits + cr.on_wire + cr.buffered + cr.returning;
  if (cr.credits > cr.buffer || sum != cr.buffer) {
    const Channel& ch = topo_.channel(c);
    violation(std::string(during) + ": channel " + std::to_string(c) + " ('" + topo_.node(ch.src).name + "' -> '" +
              topo_.node(ch.dst).name + "'): credits " + std::to_string(cr.credits) + " + on wire " +
              std::to_string(cr.on_wire) + " + buffered " + std::to_string(cr.buffered) + " + returning " +
              std::to_string(cr.returning) + " != buffer " + std::to_string(cr.buffer));
  }
  const Output& out = out_[c];
  if (ports_[out.port].load != out.queued_bytes + (cr.buffer - cr.credits))
    violation(std::string(during) + ": channel " + std::to_string(c) + ": routing load " +
              std::to_string(ports_[out.port].load) + " != queued " + std::to_string(out.queued_bytes) +
              " + (buffer " + std::to_string(cr.buffer) + " - credits " + std::to_string(cr.credits) + ")");
  // The returns on their way, wherever they are kept (inline, spill slots, heap), are exactly
  // the credits returning, and the times the engine tests instead of scanning them are right.
  std::uint64_t held = 0;
  Time earliest = kNever;
  for (int i = 0; i < 2; ++i)
    if (out.credit_at[i] != kNever) {
      held += out.credit_bytes[i];
      earliest = std::min(earliest, out.credit_at[i]);
    }
  Time spill_earliest = kNever;
  for (std::uint32_t i = 0; i < out.spill_count; ++i) {
    held += out.spill_bytes[i];
    spill_earliest = std::min(spill_earliest, out.spill_at[i]);
  }
  const auto& heap = pending_credits_[c];
  for (const PendingCredit& r : heap) held += r.bytes;
  earliest = std::min({earliest, spill_earliest, heap.empty() ? kNever : heap.front().arrives});
  const bool flags_ok = out.credit_heaped == !heap.empty() &&
                        out.credit_spilled == (out.spill_count > 0 || !heap.empty());
  if (held != cr.returning || earliest != ports_[out.port].next_credit || spill_earliest != out.spill_next ||
      out.spill_count > Output::kSpillSlots || !flags_ok)
    violation(std::string(during) + ": channel " + std::to_string(c) + ": credit returns on their way hold " +
              std::to_string(held) + " bytes (returning " + std::to_string(cr.returning) + "), earliest at " +
              std::to_string(earliest) + " ps (next_credit " + std::to_string(ports_[out.port].next_credit) +
              ", spill_next " + std::to_string(out.spill_next) + "), " + std::to_string(out.spill_count) +
              " spilled, " + std::to_string(heap.size()) + " in the heap");
}

void Simulator::check_packet_ledger() const {
  std::uint64_t injected = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;
  std::uint64_t resent = 0;
  for (std::size_t e = 0; e < ledger_.injected_packets.size(); ++e) {
    injected += ledger_.injected_packets[e];
    delivered += ledger_.delivered_packets[e];
    lost += ledger_.lost_packets[e];
    resent += ledger_.retransmitted_packets[e];
  }
  if (injected - delivered != live_packets_)
    violation("packets injected - delivered = " + std::to_string(injected - delivered) + " but " +
              std::to_string(live_packets_) + " packets exist");
  if (lost - resent != retx_waiting_ + stranded_.size())
    violation("packets lost - retransmitted = " + std::to_string(lost - resent) + " but " +
              std::to_string(retx_waiting_) + " await retransmission and " + std::to_string(stranded_.size()) +
              " are stranded");
}

void Simulator::check_invariants() {
  settle_credits();
  for (ChannelId c = 0; c < out_.size(); ++c) check_channel(c, "check");
  for (std::size_t e = 0; e < ledger_.injected_packets.size(); ++e)
    if (ledger_.delivered_bytes[e] > ledger_.injected_bytes[e] ||
        ledger_.delivered_packets[e] > ledger_.injected_packets[e])
      violation("endpoint " + std::to_string(e) + " delivered more than it injected");
  check_packet_ledger();
  if (queue_.empty() && live_packets_ == 0) {
    // Finished: nothing is on a wire or in a buffer (credit returns may still be on their way
    // back). An empty queue with packets alive is a deadlock, checked by throw_if_stalled.
    for (ChannelId c = 0; c < out_.size(); ++c)
      if (out_[c].credit.on_wire != 0 || out_[c].credit.buffered != 0)
        violation("idle, but channel " + std::to_string(c) + " still holds bytes");
  }
}

}  // namespace podsim
