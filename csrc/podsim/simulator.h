// The packet-level fabric engine. One Simulator owns all state (no globals): many can run side
// by side, in threads or in a host simulator.
//
// Model, per packet and hop:
//  * A channel sends one packet at a time; serialization takes ceil(wire bytes / rate) and a
//    packet leaves only when the receiver's input buffer has room (credit-based, lossless).
//  * A switch holds an arrived packet in its input buffer, queued per output (virtual output
//    queues, so no head-of-line blocking between outputs); each output serves its inputs round
//    robin. The input buffer space returns to the upstream sender as a credit when the packet's
//    tail has left, after the reverse channel's latency. A sender sees exactly the credits that
//    have arrived by now; they are absorbed when it looks (to send, or to rate its load), and an
//    event wakes it only when it is waiting for credits.
//  * Store-and-forward: a packet is eligible at a switch when its tail has arrived plus the
//    pipeline latency. Cut-through: when its head has arrived plus the pipeline latency; its tail
//    can then not leave before the tail arrived plus the pipeline latency.
//  * Endpoints cut messages into packets (MTU including the header), spread them over their
//    ports by the routing policy, and reassemble them: a message is delivered with its last byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "podsim/config.h"
#include "podsim/fabric/connectivity.h"
#include "podsim/fabric/routing.h"
#include "podsim/fabric/topology.h"
#include "podsim/memory/hbm_config.h"
#include "podsim/memory/hbm_device.h"
#include "podsim/sim/event_queue.h"
#include "podsim/sim/huge_pages.h"
#include "podsim/sim/time.h"
#include "podsim/traffic/messages.h"

namespace podsim {

// Raised by the self-check mode on the first broken identity, naming the event, time and channel.
class InvariantViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Raised when the run cannot finish: packets are stuck in buffers with no event left to move them
// (a cyclic buffer dependency of the topology and routing).
class Deadlock : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One packet transmission over one channel.
struct TransmissionRecord {
  Time start_ps;
  Time end_ps;
  ChannelId channel;
  std::uint32_t msg;
  std::uint32_t wire_bytes;
  std::uint32_t payload_bytes;
};

struct Trace {
  std::vector<TransmissionRecord> records;
  std::uint64_t dropped = 0;  // transmissions not recorded because the limit was reached
};

// Raised when messages cannot finish because faults cut their endpoints off from each other and
// no repair is scheduled.
class CutOff : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class StopReason : std::uint8_t { kIdle = 0, kTime = 1, kEvents = 2, kCompletion = 3 };

// Transmissions are counted when they start: a packet cut off by its channel failing counts in
// full in the bytes and packets, and in busy_ps up to the failure only.
struct ChannelCounters {
  std::vector<std::uint64_t> wire_bytes;     // bytes serialized, headers and control packets included
  std::vector<std::uint64_t> payload_bytes;  // message data bytes serialized
  std::vector<std::uint64_t> packets;
  std::vector<Time> busy_ps;                 // time spent serializing
};

// Bytes and packets per endpoint, indexed by endpoint index (Topology::endpoint_index), not node
// id. "injected"/"delivered" count by the endpoint that created the packet; "received" by the
// endpoint that consumed it. Bytes are message payload; packets include acknowledgements and read
// requests.
struct Ledger {
  std::vector<std::uint64_t> hbm_read_bytes;   // read from the endpoint's own HBM (data it sent)
  std::vector<std::uint64_t> hbm_write_bytes;  // written into its own HBM (data it received)
  std::vector<std::uint64_t> injected_bytes;
  std::vector<std::uint64_t> delivered_bytes;
  std::vector<std::uint64_t> injected_packets;
  std::vector<std::uint64_t> delivered_packets;
  std::vector<std::uint64_t> received_bytes;
  // Faults, by the endpoint that created the packet. A lost packet is held at its source until it
  // is retransmitted, so it stays counted in flight: lost - retransmitted = waiting + stranded.
  std::vector<std::uint64_t> lost_packets;           // on a failed wire (retransmit mode) or unroutable
  std::vector<std::uint64_t> lost_bytes;
  std::vector<std::uint64_t> retransmitted_packets;  // sent again end to end by their source
  std::vector<std::uint64_t> retransmitted_bytes;
  std::vector<std::uint64_t> replayed_packets;       // sent again by link-level retry
  std::vector<std::uint64_t> replayed_bytes;
};

// Credit state of one channel. Identity: credits + on_wire + buffered + returning == buffer.
struct CreditState {
  std::uint64_t buffer;
  std::uint64_t credits;
  std::uint64_t on_wire;    // sent, not yet arrived at the receiver
  std::uint64_t buffered;   // in the receiver's input buffer
  std::uint64_t returning;  // freed at the receiver, credit still travelling back
};

class Simulator {
 public:
  // Every node keeps a virtual output queue and a round-robin slot per (input, output) pair:
  // kQueuePairBytes each, so a node of P ports costs about that x P^2 (16,384 ports: 3 GiB).
  // A topology with more pairs than kMaxQueuePairs (24 GiB) is refused before anything is built.
  static constexpr std::size_t kQueuePairBytes = 12;
  static constexpr std::size_t kMaxQueuePairs = std::size_t{1} << 31;

  Simulator(Topology topology, const SimConfig& config);
  // Movable, not copyable (it owns its HBM devices): a copy is refused where it is written,
  // not deep inside a member.
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;
  Simulator(Simulator&&) = default;
  Simulator& operator=(Simulator&&) = default;
  ~Simulator() = default;

  const Topology& topology() const { return topo_; }
  const RoutingTable& routing() const { return routes_; }
  const SimConfig& config() const { return cfg_; }

  // Adds one message; it starts `delay_ps` after its dependencies (earlier message ids) are
  // delivered, or after now() when it has none. Returns its id. Bad arguments (ids, size, kind,
  // a start past 2^62 ps, endpoints the fabric does not connect) throw std::invalid_argument and
  // add nothing. Endpoints that a fault cuts off until a scheduled repair are connected: the
  // message waits for the repair (without one, the run ends in CutOff).
  std::uint32_t add_message(NodeId src, NodeId dst, std::uint64_t size, MessageKind kind, Time delay_ps,
                            std::uint64_t tag, std::span<const std::uint32_t> deps = {});
  // Adds many messages at once; dependency pairs (before, after) are indices into this batch.
  // Rejects dependency cycles. Returns the id of the first message.
  std::uint32_t add_messages(std::span<const NodeId> src, std::span<const NodeId> dst,
                             std::span<const std::uint64_t> size, std::span<const MessageKind> kind,
                             std::span<const Time> delay_ps, std::span<const std::uint64_t> tag,
                             std::span<const std::uint32_t> dep_before, std::span<const std::uint32_t> dep_after);

  Time now() const { return now_; }
  Time next_event_time() const { return queue_.next_time(); }
  // Processes events up to and including time `until`, at most `max_events` of them; now() is
  // then the last event's time (advance_until also moves now() on to its time). Throws
  // TimeOverflow if an event would fall past kMaxTime; the simulation cannot go on after that,
  // nor after a callback threw (the exception passes through; later calls throw logic_error).
  // Not from inside a callback (logic_error): a callback's work is done when it returns.
  StopReason run(Time until, std::uint64_t max_events);
  // Processes every event at or before t (>= now(), else invalid_argument), then sets now() = t.
  // It never reports messages that cannot finish: call throw_if_stalled() when idle().
  void advance_until(Time t);
  // Runs until no event is left. Throws as throw_if_stalled() if messages remain unfinished then.
  void run_until_idle();
  // When no event is left but messages are unfinished: throws CutOff if faults left some without
  // a path and no repair is scheduled, else Deadlock. (Neither derives from the other: catch both,
  // or std::runtime_error.)
  void throw_if_stalled() const;
  // When set, run() returns kCompletion right after an event that completed a message, so that a
  // host can react (inject more) at the completion time.
  void set_stop_on_completion(bool on) { stop_on_completion_ = on; }
  // Couples an endpoint to its own HBM device: data it sends is read from that memory before the
  // packets leave, data it receives is written into it, and a message counts as delivered once
  // its last transaction has landed in the destination's memory. Call before adding messages.
  void attach_memory(NodeId endpoint, const memory::HbmConfig& config);
  const memory::HbmDevice* memory(NodeId endpoint) const;

  // Fault model. At time `at` (>= now) channel `c` fails (up = false) or is repaired (up = true).
  // A failure drops the packets on its wire (LossRecovery decides their fate), reroutes the
  // packets queued for it, and recomputes the minimal paths over the channels still up; a
  // repair recomputes them again. A packet with no path left is lost and retransmitted by its
  // source; a source that cannot reach its destination holds the packet until a repair, and a run
  // that ends that way raises CutOff. Credit returns are link-layer control and are not lost.
  void schedule_fault(ChannelId c, Time at, bool up);
  bool channel_up(ChannelId c) const {
    topo_.check_channel(c, "channel");
    return !out_[c].down;
  }
  // Lost packets waiting for their retransmission timeout, and those whose source has no path.
  std::uint64_t packets_awaiting_retransmit() const { return retx_waiting_; }
  std::uint64_t packets_stranded() const { return stranded_.size(); }

  // Messages completed since the last call, in completion order.
  std::vector<std::uint32_t> take_completed();
  // Called for each completed message (id, end time), inside the event loop. It may inject
  // messages, schedule faults and replace itself; if it throws, see run().
  using CompletionCallback = std::function<void(std::uint32_t msg, Time end_ps)>;
  void set_completion_callback(CompletionCallback cb) {
    on_complete_ = std::move(cb);
    ++completion_callback_sets_;
  }

  // The embedding form of add_message: a message starting now (plus delay_ps). From inside the
  // event loop, `on_delivered(msg, t)` is called when its last byte has arrived at dst (what a
  // receiver waits for), and `on_complete(msg, t)` when it is complete at the initiator (a
  // write's acknowledgement back at src; for a read, at delivery). Either may be empty; the
  // callbacks may inject further messages.
  std::uint32_t inject(NodeId src, NodeId dst, std::uint64_t bytes, MessageKind kind, std::uint64_t tag,
                       CompletionCallback on_complete, Time delay_ps = 0, CompletionCallback on_delivered = {});
  // The same with C function pointers and a context pointer: a C-style callback, for a host whose
  // own code is C or another language (bridged by a small C++ shim; podsim has no C API).
  using CompletionFn = void (*)(void* ctx, std::uint32_t msg, Time t_ps);
  std::uint32_t inject(NodeId src, NodeId dst, std::uint64_t bytes, MessageKind kind, std::uint64_t tag,
                       CompletionFn on_complete, void* ctx, Time delay_ps = 0, CompletionFn on_delivered = nullptr);

  bool idle() const { return queue_.empty(); }
  std::uint64_t events() const { return events_; }
  std::uint64_t packet_hops() const { return packet_hops_; }
  std::uint64_t packets_in_flight() const { return live_packets_; }
  std::uint64_t messages_incomplete() const { return messages_incomplete_; }
  std::size_t peak_pending_events() const { return queue_.peak_size(); }
  // Most packets alive at once: the packet pool grows only when no freed slot is left.
  std::size_t peak_packets_in_flight() const { return pkts_.size(); }

  const MessageColumns& messages() const { return msgs_; }
  ChannelCounters channel_counters() const;
  // Per channel, time spent serializing up to now (a transmission under way counts its elapsed
  // part only; channel_counters().busy_ps charges each transmission in full when it starts).
  std::vector<Time> busy_ps_until_now() const;
  const Ledger& ledger() const { return ledger_; }
  std::vector<CreditState> credit_states() const;
  // Data-packet latency (creation at the source to delivery) histogram: bucket k counts packets
  // with latency in [2^k, 2^(k+1)) ps; bucket 0 also counts latency 0.
  const std::vector<std::uint64_t>& packet_latency_histogram() const { return latency_hist_; }
  const Trace& trace() const { return trace_; }

  // Verifies every ledger and credit identity now; throws InvariantViolation naming the first
  // broken one. Credits that have arrived by now are absorbed first.
  void check_invariants();
  // Absorbs every credit return that has arrived by now, so credit_states() is current.
  void settle_credits();

 private:
  enum class PacketKind : std::uint8_t { kData, kAck, kRequest };
  struct alignas(64) Packet {  // one cache line each: at 56 bytes most packets straddled two
    std::uint32_t msg;
    std::uint32_t wire;      // bytes on the wire
    std::uint32_t payload;   // message bytes carried
    std::uint32_t next;      // intrusive queue link
    std::uint32_t dst_ep;    // destination endpoint index
    std::uint32_t src_ep;    // endpoint that created it (ledger)
    ChannelId in_channel;    // channel it arrived on at the current node; kNone at its source
    PacketKind kind;
    std::uint32_t epoch;     // its channel's failure count when it was sent (lost if that changed)
    std::uint64_t seq;       // data: index within the message; ack/request: the transaction
    Time tail_ps;            // earliest time its tail may leave the current node
    Time created_ps;
  };
  static_assert(sizeof(Packet) == 64);
  struct Queue {
    std::uint32_t head = kNone;
    std::uint32_t tail = kNone;
  };
  static_assert(sizeof(Queue) + sizeof(std::uint32_t) == kQueuePairBytes);  // a queue and its ring slot
  struct PendingCredit {     // a credit return on its way back to a channel's sender
    Time arrives;
    std::uint32_t bytes;
    bool operator>(const PendingCredit& o) const { return arrives > o.arrives; }
  };
  // Per channel, at its sending node: everything a packet's hop reads and writes about the
  // channel (queue state, credits, counters, and copies of the channel's and receiving node's
  // constants) in one block of four adjacent cache lines. On a large fabric each separate array
  // of per-channel state (the topology's Channel and Node records included) costs its own cache
  // miss per event. The first line holds what queueing a packet reads (enqueue, then try_send
  // finding the channel busy, the common case at a loaded output); the second the credits and
  // what a transmission needs; the third the credit returns and counters; the fourth, read only
  // when a channel has more than two credit returns on their way, the further ones.
  struct alignas(64) Output {
    Time busy_until = 0;
    std::uint64_t queued_bytes = 0;  // waiting in the virtual output queues for this channel
    std::uint32_t rr_base = 0;       // round-robin ring of inputs with packets for this output
    std::uint32_t rr_head = 0;
    std::uint32_t rr_count = 0;
    std::uint32_t rr_cap = 0;        // the sending node's inputs + its injection input
    std::uint32_t port = 0;          // index of its Port (a node's ports are adjacent there)
    NodeId src = 0;
    NodeId dst = 0;
    std::uint32_t src_port = 0;
    std::uint32_t dst_port = 0;
    std::uint32_t epoch = 0;         // times it has failed (cannot wrap: see schedule_fault)
    bool credit_blocked = false;     // the head packet waits for credits
    bool kick_pending = false;
    bool down = false;               // failed (fault model)
    bool cut_through = false;        // the receiving node is a cut-through switch
    bool to_endpoint = false;        // the receiving node is an endpoint
    // Both flags could be derived (spill_count > 0 || heaped; the heap not empty), but from the
    // fourth line and a separate allocation: here a channel with at most two returns on their
    // way never reads either.
    bool credit_spilled = false;     // the spill slots or the heap hold returns (see spill_at)
    bool credit_heaped = false;      // pending_credits_ holds returns (the spill slots were full)
    CreditState credit{};
    Time credit_wake = kNever;       // time of the scheduled wake-up for credits, if any
    RateMilliBps rate = 0;           // constants, from the topology
    Time flight_ps = 0;              // propagation + the receiving node's latency
    Time credit_delay_ps = 0;        // latency of the reverse channel, which carries the credits
    std::uint64_t wire_bytes = 0;    // counters, see ChannelCounters
    std::uint64_t payload_bytes = 0;
    std::uint64_t packets = 0;
    Time busy_ps = 0;
    // Credit returns on their way back, in no order (inline, kNever is a free slot; spilled, the
    // first spill_count slots are taken). A return is pending from the moment the packet starts
    // leaving the next node until its tail has left plus the reverse latency. A switch input sends to several outputs at once, so returns pile up: in the
    // 256-endpoint CloudMatrix-shaped bench about a fifth of them find two already on their way.
    // The fourth line holds those beyond two, and the channel's heap in pending_credits_ (a
    // separate allocation, a cache miss of its own) those beyond six.
    Time credit_at[2] = {kNever, kNever};
    std::uint32_t credit_bytes[2] = {0, 0};
    static constexpr std::uint32_t kSpillSlots = 4;
    Time spill_next = kNever;               // the earliest of spill_at[0, spill_count)
    Time spill_at[kSpillSlots] = {};        // the first spill_count slots are taken
    std::uint32_t spill_bytes[kSpillSlots] = {};
    std::uint32_t spill_count = 0;
  };
  static_assert(sizeof(Output) == 256);
  static_assert(offsetof(Output, credit) == 64 && offsetof(Output, credit_delay_ps) == 128 &&
                offsetof(Output, spill_next) == 192);
  // Per channel too, but stored by sending node and port, so that a node's ports are adjacent:
  // adaptive routing compares the loads of a dozen or more candidate ports for every packet, and
  // reads them here in a few cache lines instead of one Output block each.
  struct Port {
    Time next_credit = kNever;  // earliest pending credit arrival at the sender
    std::uint64_t load = 0;     // queued bytes + (buffer - credits absorbed so far)
  };
  struct FaultChange {
    ChannelId channel;
    bool up;
  };
  struct Job {               // consecutive transactions' data still to be cut into packets at its sender
    std::uint64_t next_seq;  // next packet (index within the message)
    std::uint64_t end_seq;
    std::uint64_t txn_last;  // the last packet of the transaction next_seq is in: the others are full
    std::uint32_t next;      // the message's next ready job (kNone: last)
    std::uint32_t dst_ep;    // its message's destination endpoint index
    // With these, cutting a packet reads the job and not the message's state (a cache miss per
    // packet on a large fabric, where an endpoint serves hundreds of messages round robin).
  };
  struct Active {             // a message in an endpoint's round robin, with its current job
    std::uint32_t msg;
    std::uint32_t job;         // == the message's job_head (kept here so that the message's state
                               // and its job are fetched in parallel, not one after the other)
  };
  struct EndpointState {
    // Messages with ready transaction jobs, served packet by packet round robin; each message
    // keeps its ready jobs in order (a transaction at a time, however many are started at once).
    std::deque<Active> active;
    std::deque<std::uint32_t> pending_reads;   // messages it initiates with transactions not yet started
    std::deque<std::uint32_t> pending_writes;
    std::uint32_t reads_out = 0;       // outstanding read transactions it initiated
    std::uint32_t writes_out = 0;      // unacknowledged write transactions it initiated
    std::uint32_t queued = 0;          // data packets waiting at this endpoint's ports
    Time write_engine_free = 0;        // when its write engine can commit the next packet
    Time read_engine_free = 0;         // when its read engine can fetch the next transaction
    Time issue_engine_free = 0;        // when its write-issue engine can create the next packet
    bool issue_wake = false;           // a kIssue event is scheduled
    std::uint32_t window = 0;
    bool refilling = false;
  };
  struct MemoryOp {          // an HBM access a transaction waits for
    std::uint32_t msg;
    std::uint32_t txn;
    bool is_write;           // write: landing received data; read: fetching data to send
  };
  struct TargetWork {        // a read to fetch or a write to acknowledge, after the target's latency
    std::uint32_t msg;
    std::uint32_t txn;
    MessageKind kind;
  };

  std::uint32_t append_message(NodeId src, NodeId dst, std::uint64_t size, MessageKind kind, Time delay_ps,
                               std::uint64_t tag);
  void validate_message(NodeId src, NodeId dst, std::uint64_t size, MessageKind kind, std::size_t index) const;
  void check_start(NodeId src, NodeId dst, MessageKind kind, Time delay_ps, std::size_t index) const;
  // Calls a completion or delivery callback; if it throws, the simulation refuses to go on.
  void call_back(const CompletionCallback& cb, std::uint32_t m, const char* which);
  void add_dependency(std::uint32_t before, std::uint32_t after);
  void schedule_start_if_ready(std::uint32_t m);

  void dispatch(const Event& e);
  static constexpr std::uint32_t kPrefetchStages = 4;
  // Events between stages: 3 rather than 2 was about 5% faster on the 768-endpoint all-to-all,
  // where an event of a cheap kind (a kick that finds its channel busy) leaves too little time.
  static constexpr std::uint32_t kPrefetchLead = 3;
  // Both are inlined into the run loop: a call that only prefetches has no effect the compiler
  // must keep, and GCC drops such calls to functions it can see.
  [[gnu::always_inline]] inline void prefetch_ahead() const;
  template <std::uint32_t Stage>
  [[gnu::always_inline]] inline void prefetch(std::uint64_t key) const;  // an EventQueue::upcoming key
  void on_arrive(std::uint32_t p);
  void on_message_start(std::uint32_t m);
  void on_target_ready(std::uint32_t w);
  void on_committed(std::uint32_t p);
  void txn_arrived(std::uint32_t m, std::uint32_t txn, NodeId at);
  void txn_landed(std::uint32_t m, std::uint32_t txn, NodeId at);
  void send_txn(std::uint32_t m, std::uint32_t txn);
  void start_job(std::uint32_t m, std::uint32_t txn);
  void memory_access(std::uint32_t ep, std::uint32_t m, std::uint32_t txn, bool is_write);
  void on_memory(std::uint32_t ep);
  std::uint64_t txn_bytes_of(std::uint32_t m, std::uint64_t k) const {
    return std::min(ms_[m].size, (k + 1) * ms_[m].txn_size) - k * ms_[m].txn_size;
  }
  void issue(std::uint32_t ep);
  void target_work(std::uint32_t m, std::uint32_t txn, MessageKind kind, Time latency);
  void txn_done(std::uint32_t m, std::uint32_t initiator_ep);
  std::uint64_t txn_first_packet(std::uint32_t m, std::uint64_t k) const { return k * ms_[m].ppt; }
  std::uint64_t txn_end_packet(std::uint32_t m, std::uint64_t k) const {
    return std::min(ms_[m].npackets, (k + 1) * ms_[m].ppt);
  }
  std::uint32_t payload_of(std::uint32_t m, std::uint64_t seq) const;
  void try_send(ChannelId c);
  void schedule_kick(ChannelId c, Time t);
  void release_input(ChannelId c, std::uint32_t bytes, Time when);
  void absorb_credits(ChannelId c);
  void spill_credit(ChannelId c, Time arrives, std::uint32_t bytes);
  // Adds the spilled returns that have arrived by now to `arrived`, and lowers `next` to the
  // earliest still on its way.
  void absorb_spilled(ChannelId c, std::uint64_t& arrived, Time& next);
  void wake_for_credits(ChannelId c, Time t);
  void deliver(std::uint32_t p, NodeId at);
  void complete(std::uint32_t m);
  void refill(std::uint32_t ep);
  // The endpoint's window: the configured one, or two packets per port that is up (so a fabric
  // with a channel failed at time 0 runs as the same fabric built without it).
  void size_window(std::uint32_t ep);
  void send_control(PacketKind kind, std::uint32_t m, std::uint32_t txn, NodeId from, NodeId to);
  void enqueue(NodeId n, std::uint32_t input, std::uint32_t p);
  std::uint32_t choose_port(NodeId n, const Packet& pk, std::span<const std::uint16_t> cand);
  std::uint32_t new_packet();
  void free_packet(std::uint32_t p);
  Queue& voq(NodeId n, std::uint32_t input, std::uint32_t output) {
    return voqs_[voq_base_[n] + static_cast<std::size_t>(input) * (port_base_[n + 1] - port_base_[n]) + output];
  }
  const Queue& voq(NodeId n, std::uint32_t input, std::uint32_t output) const {
    return const_cast<Simulator*>(this)->voq(n, input, output);
  }
  // A position in a round-robin ring of `cap` slots, given head + offset < 2 * cap (a division
  // per packet costs more than the rest of the ring's bookkeeping).
  static std::uint32_t ring_wrap(std::uint32_t i, std::uint32_t cap) { return i >= cap ? i - cap : i; }
  std::uint32_t injection_input(NodeId n) const { return static_cast<std::uint32_t>(topo_.in_channels(n).size()); }
  void on_fault(std::uint32_t f);
  void reroute_queued(ChannelId c);
  void lost_on_wire(std::uint32_t p);
  void unroutable(NodeId n, std::uint32_t input, std::uint32_t p);
  void lose(std::uint32_t p);
  void resend(std::uint32_t p);
  void on_replay(std::uint32_t p);
  void release_place(NodeId n, std::uint32_t input, const Packet& pk);
  void recompute_routes();
  void check_channel(ChannelId c, const char* during) const;
  // injected - delivered = packets alive; lost - retransmitted = waiting + stranded.
  void check_packet_ledger() const;
  [[noreturn]] void violation(const std::string& what) const;

  Topology topo_;
  SimConfig cfg_;
  RoutingTable routes_;
  // What the intact fabric connects, once a fault is scheduled (routes_ then change).
  std::optional<Connectivity> connectivity_;
  EventQueue queue_;
  Time now_ = 0;

  HugeVector<Output> out_;
  HugeVector<Port> ports_;
  std::vector<std::uint32_t> port_base_;  // per node, index of its first Port; then the total
  // Per Port, its channel: the topology's per-node lists are a separate allocation each, one more
  // cache miss per hop on a large fabric.
  HugeVector<ChannelId> port_channel_;
  // Per node and input, the channel it receives on (the injection input excluded): a packet
  // queued at an output came in on it, and its buffer space is released there when the packet
  // leaves, so the kick prefetch can fetch that channel's state before the packet itself.
  std::vector<std::uint32_t> input_base_;
  HugeVector<ChannelId> input_channel_;
  std::vector<std::vector<PendingCredit>> pending_credits_;  // per channel, overflow of Output::spill_at: a min-heap by arrival
  HugeVector<std::uint32_t> rr_;        // ring storage for all outputs
  HugeVector<Queue> voqs_;
  std::vector<std::size_t> voq_base_;
  std::vector<EndpointState> eps_;
  bool prefetch_events_ = false;  // see prefetch()

  HugeVector<Packet> pkts_;
  std::vector<std::uint32_t> free_pkts_;
  std::uint64_t live_packets_ = 0;

  MessageColumns msgs_;
  // Per-message engine state that packet events touch, kept together: with hundreds of thousands
  // of messages, each message's fields in separate arrays cost a cache miss apiece.
  struct MessageState {
    std::uint64_t size;
    std::uint64_t npackets;
    std::uint64_t txn_size;        // bytes per transaction
    std::uint64_t ppt;             // packets per (full) transaction
    std::uint32_t ntxn;
    std::uint32_t started_txn;
    std::uint32_t done_txn;
    std::uint32_t landed_txn;      // transactions whose data is in the destination (memory)
    std::uint32_t pending_deps;
    std::uint32_t first_succ;      // dependency edges as linked lists
    std::uint32_t dst_ep;          // destination endpoint index
    std::uint32_t job_head;        // ready jobs at the sender (kNone: none)
    std::uint32_t job_tail;
    MessageKind kind;
  };
  HugeVector<MessageState> ms_;
  // Per message, the data packets its destination has still to receive (low bits) and two flags:
  // none received yet, and more than one transaction. Apart from its MessageState: an endpoint
  // receives the packets of hundreds of messages interleaved, so counting them there cost a cache
  // miss (often two: a state straddles lines) per data packet on a large fabric, and this array
  // is a tenth of its size.
  static constexpr std::uint64_t kRxFirst = std::uint64_t{1} << 63;
  static constexpr std::uint64_t kRxMulti = std::uint64_t{1} << 62;
  static constexpr std::uint64_t kRxCount = kRxMulti - 1;
  HugeVector<std::uint64_t> rx_left_;
  static_assert(sizeof(MessageState) + sizeof(std::uint64_t) == 80);  // the README's per-message bytes ("Limits and memory") count them
  std::vector<Time> deps_ready_ps_;      // latest delivery among a message's dependencies so far
  // Packets delivered so far of transactions in progress, for messages of several transactions,
  // keyed by (message << 32 | transaction).
  std::unordered_map<std::uint64_t, std::uint64_t> txn_delivered_;
  std::vector<TargetWork> work_;
  HugeVector<Job> jobs_;                 // pool of ready jobs, linked per message
  std::vector<std::uint32_t> free_jobs_;
  std::vector<std::unique_ptr<memory::HbmDevice>> hbm_;  // per endpoint index; null = not coupled
  std::vector<Time> hbm_wake_;                            // scheduled wake-up per endpoint
  std::vector<std::uint64_t> hbm_next_addr_;              // where the endpoint's next access goes
  std::vector<MemoryOp> mem_ops_;
  std::vector<std::uint32_t> free_mem_ops_;
  std::vector<memory::Completion> mem_done_;
  std::vector<std::uint32_t> free_work_;
  std::vector<std::uint32_t> edge_next_;
  std::vector<std::uint32_t> edge_succ_;
  std::uint64_t messages_incomplete_ = 0;

  Ledger ledger_;
  std::vector<std::uint64_t> latency_hist_ = std::vector<std::uint64_t>(64, 0);
  Trace trace_;
  std::uint64_t events_ = 0;
  std::uint64_t packet_hops_ = 0;

  // Changes scheduled for the same time form one batch and one event: the routes are recomputed
  // once per batch (a switch chip takes down dozens of channels at once).
  std::vector<std::vector<FaultChange>> fault_batches_;
  std::unordered_map<Time, std::uint32_t> pending_batch_;  // time -> batch not yet applied
  std::uint32_t fault_changes_ = 0;      // scheduled so far (at most 2^32 - 1, see schedule_fault)
  bool faults_ = false;                  // any fault scheduled: arrivals check their wire
  std::uint64_t retx_waiting_ = 0;
  std::vector<std::uint32_t> stranded_;  // lost packets whose source cannot reach their destination

  std::vector<std::uint32_t> completed_;
  bool stop_on_completion_ = false;
  // Refuses to go on once an event fell past kMaxTime mid-event (see EventQueue::refused).
  void throw_if_broken() const;
  bool completion_pending_ = false;
  CompletionCallback on_complete_;
  std::unordered_map<std::uint32_t, CompletionCallback> message_callbacks_;    // only injected ones
  std::unordered_map<std::uint32_t, CompletionCallback> delivery_callbacks_;
  // Channels touched by the current event, verified after it in check mode.
  std::vector<ChannelId> touched_;
  const Event* current_event_ = nullptr;
  bool running_ = false;        // inside run(): a callback may not run the simulation itself
  std::uint64_t completion_callback_sets_ = 0;  // tells complete() whether a callback replaced itself
  std::string callback_threw_;  // why the simulation cannot go on, after a callback threw
};

}  // namespace podsim
