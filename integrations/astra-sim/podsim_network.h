// podsim as ASTRA-sim's network backend: an AstraNetworkAPI per rank on top of one shared
// PodsimBackend, which owns the podsim::Simulator, the host's scheduled callbacks and the matching
// of receives to arriving messages. Only podsim's public embedding API (podsim/podsim.h) is used.
//
//   PodsimBackend net(podsim::load_topology("pod.topo"),                    // `podsim export SYSTEM pod.topo`
//                     podsim::load_sim_config("pod.topo.run", false), ranks); // its run settings
//   std::vector<std::unique_ptr<PodsimNetworkApi>> apis;          // one per rank, given to Sys
//   for (int r = 0; r < ranks; ++r) apis.push_back(std::make_unique<PodsimNetworkApi>(net, r));
//   ... create ASTRA-sim's Sys objects, fire their workloads ...
//   net.run();                                                     // ASTRA-sim's main loop
//
// Timing: a send's handler runs when the message is complete at the sender (podsim's write
// completion: the acknowledgement is back), a receive's handler when the last byte has arrived at
// the receiver, or when the receive is posted if the bytes were already there.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <queue>
#include <tuple>
#include <vector>

#include "astra_network_api.h"
#include "podsim/podsim.h"

namespace podsim_astra {

using Handler = void (*)(void*);

// Time conversions, in one place. podsim counts integer picoseconds; ASTRA-sim long double units.
//
// podsim time as whole nanoseconds, rounded up: ASTRA-sim truncates the value it reads to an
// integer tick, and rounding up means a handler never sees a time before the event that ran it.
long double ps_to_ns_ceil(podsim::Time ps);
// A duration in `unit` as picoseconds, rounded up so that a scheduled callback can never land
// before the requested delay. A value that is a whole number of ps up to floating-point error
// (e.g. 0.3 ns) maps to that number rather than one more. Throws std::invalid_argument for
// negative, non-finite or too large values.
podsim::Time to_ps_ceil(long double value, time_type_e unit);

// Counters that show which matching paths a run exercised.
struct MatchStats {
  std::uint64_t sends = 0;
  std::uint64_t recvs = 0;
  std::uint64_t recv_waited_for_data = 0;  // posted before its bytes arrived
  std::uint64_t data_waited_for_recv = 0;  // bytes arrived before the receive was posted
};

class PodsimBackend {
 public:
  // Ranks 0..ranks-1 are the first `ranks` endpoints of the topology, in order.
  PodsimBackend(podsim::Topology topology, const podsim::SimConfig& config, std::size_t ranks);
  // Rank r is endpoint node `rank_nodes[r]`.
  PodsimBackend(podsim::Topology topology, const podsim::SimConfig& config, std::vector<podsim::NodeId> rank_nodes);

  int ranks() const { return static_cast<int>(rank_nodes_.size()); }
  podsim::NodeId node_of(int rank) const;
  podsim::Time now_ps() const { return sim_.now(); }

  // Runs `fn(arg)` `delta_ps` after now, after every network event of that time and after host
  // callbacks scheduled earlier for the same time.
  void schedule(podsim::Time delta_ps, Handler fn, void* arg);
  // Starts a message of `bytes` from rank `src` to rank `dst` now; returns its podsim message id.
  std::uint32_t send(int src, int dst, int tag, std::uint64_t bytes, Handler on_sent, void* arg);
  // Waits for `bytes` from `src` to `dst` with `tag`. Bytes of one (src, dst, tag) are consumed in
  // arrival order by receives in posting order, so one receive may cover several sends and the
  // other way round (as ASTRA-sim's backends count bytes).
  void recv(int src, int dst, int tag, std::uint64_t bytes, Handler on_received, void* arg);

  // Processes the next thing due: one network event or one host callback. False when none is left.
  bool step();
  // Steps until nothing is left. Throws podsim::Deadlock if messages can then not finish.
  void run();

  void notify_finished() { ++finished_ranks_; }
  int finished_ranks() const { return finished_ranks_; }
  // Receives still waiting for bytes; non-zero after run() means the system layer's sends and
  // receives did not pair up.
  std::uint64_t pending_receives() const;
  // Arrived bytes that no receive has claimed yet.
  std::uint64_t unclaimed_bytes() const;
  const MatchStats& stats() const { return stats_; }
  // Sum of the rates of the endpoint's outgoing channels, bytes/s.
  double injection_rate_Bps(int rank) const;

  podsim::Simulator& simulator() { return sim_; }
  const podsim::Simulator& simulator() const { return sim_; }

 private:
  using Key = std::tuple<int, int, int>;  // (src rank, dst rank, tag)
  struct PendingRecv {
    std::uint64_t bytes;
    Handler fn;
    void* arg;
  };
  struct Mailbox {
    std::uint64_t unclaimed = 0;     // arrived, not yet claimed by a receive
    std::deque<PendingRecv> waiting;  // posted receives, in order
  };
  struct HostEvent {
    podsim::Time time;
    std::uint64_t seq;  // ties at one time run in scheduling order: runs are deterministic
    Handler fn;
    void* arg;
    bool operator>(const HostEvent& o) const { return std::tie(time, seq) > std::tie(o.time, o.seq); }
  };

  void check_rank(int rank, const char* what) const;
  // Called by podsim (on_delivered) when a send's last byte reaches its receiver.
  void arrived(const Key& key, std::uint64_t bytes);

  std::vector<podsim::NodeId> rank_nodes_;
  podsim::Simulator sim_;
  std::priority_queue<HostEvent, std::vector<HostEvent>, std::greater<>> host_;
  std::uint64_t host_seq_ = 0;
  std::map<Key, Mailbox> mailboxes_;
  MatchStats stats_;
  int finished_ranks_ = 0;
};

// The AstraNetworkAPI of one rank.
class PodsimNetworkApi final : public AstraNetworkAPI {
 public:
  // `dimension_GBps` is what get_BW_at_dimension reports per dimension of ASTRA-sim's logical
  // topology; empty means one dimension at this rank's injection rate.
  PodsimNetworkApi(PodsimBackend& backend, int rank, std::vector<double> dimension_GBps = {});

  int sim_comm_size(sim_comm comm, int* size) override;
  timespec_t sim_get_time() override;
  void sim_schedule(timespec_t delta, void (*fun_ptr)(void* fun_arg), void* fun_arg) override;
  int sim_send(void* buffer, std::uint64_t count, int type, int dst, int tag, sim_request* request,
               void (*msg_handler)(void* fun_arg), void* fun_arg) override;
  int sim_recv(void* buffer, std::uint64_t count, int type, int src, int tag, sim_request* request,
               void (*msg_handler)(void* fun_arg), void* fun_arg) override;
  double get_BW_at_dimension(int dim) override;
  void sim_notify_finished() override;

 private:
  PodsimBackend& backend_;
  std::vector<double> dimension_GBps_;
};

}  // namespace podsim_astra
