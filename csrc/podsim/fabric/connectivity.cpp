#include "podsim/fabric/connectivity.h"

#include <numeric>

namespace podsim {

Connectivity::Connectivity(const Topology& topo) : island_(topo.num_nodes()) {
  std::iota(island_.begin(), island_.end(), 0U);
  const auto root = [&](std::uint32_t x) {
    while (island_[x] != x) x = island_[x] = island_[island_[x]];  // path halving
    return x;
  };
  for (ChannelId c = 0; c < topo.num_channels(); ++c) {
    const Channel& ch = topo.channel(c);
    if (!topo.is_endpoint(ch.src) && !topo.is_endpoint(ch.dst)) island_[root(ch.src)] = root(ch.dst);
  }
  for (std::uint32_t x = 0; x < island_.size(); ++x) island_[x] = root(x);
}

bool Connectivity::connected(const Topology& topo, NodeId a, NodeId b) const {
  for (const ChannelId ca : topo.out_channels(a)) {
    const NodeId s = topo.channel(ca).dst;
    if (s == b) return true;
    if (topo.is_endpoint(s)) continue;
    for (const ChannelId cb : topo.out_channels(b)) {
      const NodeId t = topo.channel(cb).dst;
      if (!topo.is_endpoint(t) && island_[t] == island_[s]) return true;
    }
  }
  return false;
}

}  // namespace podsim
