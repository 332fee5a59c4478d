// Which endpoints the fabric can ever connect, whatever is out of service: the switches' islands
// (switches joined by switch-to-switch links, up or down). Faults change the routes, not this:
// a message between endpoints that a fault cuts off for a while waits for the repair.
#pragma once

#include <cstdint>
#include <vector>

#include "podsim/fabric/topology.h"

namespace podsim {

class Connectivity {
 public:
  explicit Connectivity(const Topology& topo);

  // Whether endpoints a and b of `topo` (the topology this was built from) are linked directly
  // or attached to switches of one island (links carry both directions, so this holds both
  // ways; endpoints never relay).
  bool connected(const Topology& topo, NodeId a, NodeId b) const;

 private:
  std::vector<std::uint32_t> island_;  // per node: its switch island (a switch's own root); unused for endpoints
};

}  // namespace podsim
