#include "podsim_network.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>

namespace podsim_astra {

long double ps_to_ns_ceil(podsim::Time ps) {
  return static_cast<long double>(ps / 1000 + (ps % 1000 != 0 ? 1 : 0));
}

podsim::Time to_ps_ceil(long double value, time_type_e unit) {
  long double ps_per_unit = 0;
  switch (unit) {
    case SE: ps_per_unit = 1e12L; break;
    case MS: ps_per_unit = 1e9L; break;
    case US: ps_per_unit = 1e6L; break;
    case NS: ps_per_unit = 1e3L; break;
    case FS: ps_per_unit = 1e-3L; break;
    default: throw std::invalid_argument("time_res: unknown unit " + std::to_string(static_cast<int>(unit)));
  }
  if (!std::isfinite(value) || value < 0)
    throw std::invalid_argument("time: must be finite and >= 0, got " + std::to_string(static_cast<double>(value)));
  const long double ps = value * ps_per_unit;
  if (ps >= 18446744073709551615.0L)
    throw std::invalid_argument("time: " + std::to_string(static_cast<double>(value)) + " is beyond podsim's clock");
  // Callers mostly hold times as double: tolerate a few of double's rounding steps before deciding
  // that a value lies above a whole picosecond.
  const long double nearest = std::round(ps);
  if (std::fabs(ps - nearest) <= 4 * DBL_EPSILON * ps) return static_cast<podsim::Time>(nearest);
  return static_cast<podsim::Time>(std::ceil(ps));
}

// ---------------------------------------------------------------------------------------------

PodsimBackend::PodsimBackend(podsim::Topology topology, const podsim::SimConfig& config, std::size_t ranks)
    : sim_(std::move(topology), config) {
  const auto& eps = sim_.topology().endpoints();
  if (ranks == 0 || ranks > eps.size())
    throw std::invalid_argument("ranks: must be in [1, " + std::to_string(eps.size()) + "], got " +
                                std::to_string(ranks));
  rank_nodes_.assign(eps.begin(), eps.begin() + static_cast<std::ptrdiff_t>(ranks));
}

PodsimBackend::PodsimBackend(podsim::Topology topology, const podsim::SimConfig& config,
                             std::vector<podsim::NodeId> rank_nodes)
    : rank_nodes_(std::move(rank_nodes)), sim_(std::move(topology), config) {
  if (rank_nodes_.empty()) throw std::invalid_argument("rank_nodes: must not be empty");
  std::unordered_set<podsim::NodeId> seen;
  for (const podsim::NodeId n : rank_nodes_) {
    sim_.topology().check_node(n, "rank_nodes");
    if (!sim_.topology().is_endpoint(n))
      throw std::invalid_argument("rank_nodes: node '" + sim_.topology().node(n).name + "' is not an endpoint");
    if (!seen.insert(n).second)
      throw std::invalid_argument("rank_nodes: node '" + sim_.topology().node(n).name + "' given twice");
  }
}

void PodsimBackend::check_rank(int rank, const char* what) const {
  if (rank < 0 || rank >= ranks())
    throw std::out_of_range(std::string(what) + ": rank " + std::to_string(rank) + " is not in [0, " +
                            std::to_string(ranks()) + ")");
}

podsim::NodeId PodsimBackend::node_of(int rank) const {
  check_rank(rank, "rank");
  return rank_nodes_[static_cast<std::size_t>(rank)];
}

double PodsimBackend::injection_rate_Bps(int rank) const {
  const podsim::Topology& topo = sim_.topology();
  double rate = 0;
  for (const podsim::ChannelId c : topo.out_channels(node_of(rank))) rate += static_cast<double>(topo.channel(c).rate) / 1000.0;
  return rate;
}

void PodsimBackend::schedule(podsim::Time delta_ps, Handler fn, void* arg) {
  if (fn == nullptr) throw std::invalid_argument("schedule: the callback is null");
  if (delta_ps > podsim::kNever - 1 - sim_.now()) throw std::invalid_argument("schedule: delta beyond podsim's clock");
  host_.push(HostEvent{sim_.now() + delta_ps, host_seq_++, fn, arg});
}

std::uint32_t PodsimBackend::send(int src, int dst, int tag, std::uint64_t bytes, Handler on_sent, void* arg) {
  check_rank(src, "src");
  check_rank(dst, "dst");
  // The tag goes into podsim's free tag column (sign-extended), so results can be grouped by it.
  const auto podsim_tag = static_cast<std::uint64_t>(static_cast<std::int64_t>(tag));
  const Key key{src, dst, tag};
  const std::uint32_t m = sim_.inject(
      node_of(src), node_of(dst), bytes, podsim::MessageKind::kWrite, podsim_tag,
      [on_sent, arg](std::uint32_t, podsim::Time) {
        if (on_sent != nullptr) on_sent(arg);
      },
      0, [this, key, bytes](std::uint32_t, podsim::Time) { arrived(key, bytes); });
  ++stats_.sends;
  return m;
}

void PodsimBackend::recv(int src, int dst, int tag, std::uint64_t bytes, Handler on_received, void* arg) {
  check_rank(src, "src");
  check_rank(dst, "dst");
  if (bytes == 0) throw std::invalid_argument("recv: count must be > 0");
  if (on_received == nullptr) throw std::invalid_argument("recv: the handler is null");
  ++stats_.recvs;
  Mailbox& box = mailboxes_[Key{src, dst, tag}];
  if (box.waiting.empty() && box.unclaimed >= bytes) {
    box.unclaimed -= bytes;
    ++stats_.data_waited_for_recv;
    // Through the host queue, not a direct call: ASTRA-sim does not expect its handler to run
    // inside its own sim_recv call.
    schedule(0, on_received, arg);
    return;
  }
  box.waiting.push_back(PendingRecv{bytes, on_received, arg});
}

void PodsimBackend::arrived(const Key& key, std::uint64_t bytes) {
  Mailbox& box = mailboxes_[key];  // std::map: the reference survives handlers posting receives
  box.unclaimed += bytes;
  while (!box.waiting.empty() && box.unclaimed >= box.waiting.front().bytes) {
    const PendingRecv r = box.waiting.front();
    box.waiting.pop_front();
    box.unclaimed -= r.bytes;
    ++stats_.recv_waited_for_data;
    r.fn(r.arg);
  }
}

bool PodsimBackend::step() {
  const podsim::Time t_net = sim_.next_event_time();
  const podsim::Time t_host = host_.empty() ? podsim::kNever : host_.top().time;
  if (t_net == podsim::kNever && t_host == podsim::kNever) return false;
  if (t_net <= t_host) {
    // One event at a time: a receive handler (called by podsim at the very time the last byte
    // arrives) may schedule host work that must run before the next network event.
    sim_.run(t_net, 1);
    return true;
  }
  sim_.advance_until(t_host);  // no network event is due before t_host: this only moves the clock
  const HostEvent ev = host_.top();
  host_.pop();
  ev.fn(ev.arg);
  return true;
}

void PodsimBackend::run() {
  while (step()) {
  }
  sim_.throw_if_stalled();
}

std::uint64_t PodsimBackend::pending_receives() const {
  std::uint64_t n = 0;
  for (const auto& [key, box] : mailboxes_) n += box.waiting.size();
  return n;
}

std::uint64_t PodsimBackend::unclaimed_bytes() const {
  std::uint64_t n = 0;
  for (const auto& [key, box] : mailboxes_) n += box.unclaimed;
  return n;
}

// ---------------------------------------------------------------------------------------------

PodsimNetworkApi::PodsimNetworkApi(PodsimBackend& backend, int r, std::vector<double> dimension_GBps)
    : AstraNetworkAPI(r), backend_(backend), dimension_GBps_(std::move(dimension_GBps)) {
  const double injection_GBps = backend_.injection_rate_Bps(r) / 1e9;  // also rejects a bad rank
  if (dimension_GBps_.empty()) dimension_GBps_.push_back(injection_GBps);
}

int PodsimNetworkApi::sim_comm_size(sim_comm /*comm*/, int* size) {
  *size = backend_.ranks();
  return 0;
}

timespec_t PodsimNetworkApi::sim_get_time() { return timespec_t{NS, ps_to_ns_ceil(backend_.now_ps())}; }

void PodsimNetworkApi::sim_schedule(timespec_t delta, void (*fun_ptr)(void*), void* fun_arg) {
  backend_.schedule(to_ps_ceil(delta.time_val, delta.time_res), fun_ptr, fun_arg);
}

int PodsimNetworkApi::sim_send(void* /*buffer*/, std::uint64_t count, int /*type*/, int dst, int tag,
                               sim_request* /*request*/, void (*msg_handler)(void*), void* fun_arg) {
  backend_.send(rank, dst, tag, count, msg_handler, fun_arg);
  return 0;
}

int PodsimNetworkApi::sim_recv(void* /*buffer*/, std::uint64_t count, int /*type*/, int src, int tag,
                               sim_request* /*request*/, void (*msg_handler)(void*), void* fun_arg) {
  backend_.recv(src, rank, tag, count, msg_handler, fun_arg);
  return 0;
}

double PodsimNetworkApi::get_BW_at_dimension(int dim) {
  if (dim < 0 || static_cast<std::size_t>(dim) >= dimension_GBps_.size())
    throw std::out_of_range("get_BW_at_dimension: dimension " + std::to_string(dim) + " is not in [0, " +
                            std::to_string(dimension_GBps_.size()) + ")");
  return dimension_GBps_[static_cast<std::size_t>(dim)];
}

void PodsimNetworkApi::sim_notify_finished() { backend_.notify_finished(); }

}  // namespace podsim_astra
