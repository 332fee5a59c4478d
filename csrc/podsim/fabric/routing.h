// Minimal-path routing tables. For every (node, destination endpoint) the table holds the
// candidate output ports that lie on a shortest path; the run-time policy picks one of them
// per packet. Endpoints never forward: paths run through switches only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "podsim/fabric/topology.h"
#include "podsim/sim/huge_pages.h"

namespace podsim {

class RoutingTable {
 public:
  // `down` (optional, one flag per channel): channels out of service, which no path may use.
  explicit RoutingTable(const Topology& topo, std::span<const std::uint8_t> down = {});

  // Local output-port indices of `node` on a minimal path to endpoint index `dst_ep`
  // (empty when unreachable or when node is the destination).
  std::span<const std::uint16_t> candidates(NodeId node, std::uint32_t dst_ep) const {
    const std::uint32_t set = set_of_[static_cast<std::size_t>(node) * num_eps_ + dst_ep];
    return {pool_.data() + set_begin_[set], pool_.data() + set_begin_[set + 1]};
  }
  // The table entry candidates() reads first, for a caller that fetches it into the cache ahead.
  const void* entry(NodeId node, std::uint32_t dst_ep) const {
    return &set_of_[static_cast<std::size_t>(node) * num_eps_ + dst_ep];
  }
  // Number of channels on a minimal path from node to endpoint dst_ep; kUnreachable if none.
  std::uint16_t hops(NodeId node, std::uint32_t dst_ep) const {
    return hops_[static_cast<std::size_t>(node) * num_eps_ + dst_ep];
  }
  static constexpr std::uint16_t kUnreachable = 0xFFFF;
  // Largest table, in (node, endpoint) entries of kEntryBytes each: 2^31 entries, 12 GiB.
  static constexpr std::size_t kEntryBytes = sizeof(std::uint16_t) + sizeof(std::uint32_t);
  static constexpr std::size_t kMaxEntries = std::size_t{1} << 31;

 private:
  std::size_t num_eps_;
  HugeVector<std::uint16_t> hops_;       // [node * num_eps + ep]
  HugeVector<std::uint32_t> set_of_;     // [node * num_eps + ep] -> candidate-set id
  std::vector<std::uint32_t> set_begin_;  // candidate set s is pool_[set_begin_[s], set_begin_[s+1])
  std::vector<std::uint16_t> pool_;
};

}  // namespace podsim
