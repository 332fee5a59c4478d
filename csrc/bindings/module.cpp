// podsim._core: the thin pybind11 layer over the C++ core. Argument checking, documentation and
// typing for users live in the Python package; this layer converts and forwards.
#include <pybind11/pybind11.h>

#include "podsim/simulator.h"

namespace py = pybind11;

void register_topology(py::module_& m);
void register_simulator(py::module_& m);
void register_memory(py::module_& m);

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
  m.doc() = "podsim C++ engine (internal; use the podsim package)";
  // The engine's limits, so that the Python checks refuse exactly what it would.
  m.attr("MAX_TIME_PS") = podsim::kMaxTime;
  m.attr("MAX_RATE_BPS") = static_cast<double>(podsim::kMaxRateMilliBps / 1000);
  m.attr("MAX_PORTS") = podsim::kMaxPorts;
  m.attr("MAX_ROUTE_ENTRIES") = podsim::RoutingTable::kMaxEntries;
  m.attr("ROUTE_ENTRY_BYTES") = podsim::RoutingTable::kEntryBytes;
  m.attr("MAX_QUEUE_PAIRS") = podsim::Simulator::kMaxQueuePairs;
  m.attr("QUEUE_PAIR_BYTES") = podsim::Simulator::kQueuePairBytes;
  m.attr("MAX_PACKET_BYTES") = podsim::kMaxPacketBytes;
  m.attr("MAX_MESSAGE_BYTES") = podsim::kMaxMessageBytes;
  register_topology(m);
  register_memory(m);  // before the simulator, whose attach_memory takes an HbmConfig: signatures name it so
  register_simulator(m);
}
