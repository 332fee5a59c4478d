#include "podsim/fabric/routing.h"

#include <stdexcept>
#include <string>
#include <unordered_map>

namespace podsim {

RoutingTable::RoutingTable(const Topology& topo, std::span<const std::uint8_t> down) : num_eps_(topo.num_endpoints()) {
  const auto usable = [&](ChannelId c) { return down.empty() || down[c] == 0; };
  const std::size_t n = topo.num_nodes();
  // A hop count and a candidate-set id per (node, endpoint): refuse a table this machine-sized
  // simulator cannot hold rather than fail (or be killed) part-way through filling it.
  if (n * num_eps_ > kMaxEntries)
    throw std::invalid_argument("topology: routing tables for " + std::to_string(n) + " nodes x " +
                                std::to_string(num_eps_) + " endpoints need " + std::to_string(n * num_eps_) +
                                " entries of " + std::to_string(kEntryBytes) + " bytes; at most " +
                                std::to_string(kMaxEntries) + " (2^31) are allowed");
  hops_.assign(n * num_eps_, kUnreachable);
  set_of_.assign(n * num_eps_, 0);
  // Candidate sets repeat a great deal (every remote destination of a leaf switch shares "all
  // uplinks"), so identical sets are stored once. Set 0 is the empty set.
  std::unordered_map<std::string, std::uint32_t> set_ids;
  set_begin_ = {0, 0};
  set_ids.emplace(std::string(), 0);

  std::vector<NodeId> queue;
  queue.reserve(n);
  std::vector<std::uint16_t> cand;
  for (std::uint32_t ep = 0; ep < num_eps_; ++ep) {
    const NodeId dst = topo.endpoints()[ep];
    auto dist = [&](NodeId v) -> std::uint16_t& { return hops_[static_cast<std::size_t>(v) * num_eps_ + ep]; };
    // Breadth-first search backwards from the destination, expanding through switches only.
    queue.clear();
    queue.push_back(dst);
    dist(dst) = 0;
    for (std::size_t head = 0; head < queue.size(); ++head) {
      const NodeId u = queue[head];
      if (dist(u) + 1 >= kUnreachable) throw std::invalid_argument("topology: paths longer than 65534 hops");
      for (const ChannelId c : topo.in_channels(u)) {
        const NodeId v = topo.channel(c).src;
        if (dist(v) != kUnreachable || !usable(c)) continue;
        dist(v) = static_cast<std::uint16_t>(dist(u) + 1);
        if (!topo.is_endpoint(v)) queue.push_back(v);
      }
    }
    for (NodeId v = 0; v < n; ++v) {
      const std::uint16_t d = dist(v);
      if (d == kUnreachable || d == 0) continue;
      cand.clear();
      const auto& outs = topo.out_channels(v);
      for (std::size_t k = 0; k < outs.size(); ++k) {
        const NodeId w = topo.channel(outs[k]).dst;
        if (usable(outs[k]) && dist(w) + 1 == d && (w == dst || !topo.is_endpoint(w))) cand.push_back(static_cast<std::uint16_t>(k));
      }
      std::string key(reinterpret_cast<const char*>(cand.data()), cand.size() * sizeof(std::uint16_t));
      auto [it, inserted] = set_ids.emplace(std::move(key), static_cast<std::uint32_t>(set_ids.size()));
      if (inserted) {
        pool_.insert(pool_.end(), cand.begin(), cand.end());
        set_begin_.push_back(static_cast<std::uint32_t>(pool_.size()));
      }
      set_of_[static_cast<std::size_t>(v) * num_eps_ + ep] = it->second;
    }
  }
}

}  // namespace podsim
