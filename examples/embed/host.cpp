// A minimal host simulator with its own event loop, using podsim as its network backend.
//
//   embed_host TOPOLOGY_FILE [RANKS] [BYTES] [HBM_FILE]
//
// It loads a fabric exported by `podsim export SYSTEM FILE`, runs a ring exchange among the first
// RANKS endpoints (each rank sends BYTES to the next; when a message completes, the receiver sends
// on to its own neighbour, for RANKS rounds), and prints each completion. The host keeps its own
// clock and asks podsim for the next event time, as ASTRA-sim-style system layers do. (On a system
// whose CPUs are on the fabric, CloudMatrix 384, the first endpoints are not all ranks: FILE.ranks,
// which `podsim export` writes too, lists the ranks' endpoint indices.) With HBM_FILE (FILE.hbm from
// `podsim export`), every rank is coupled to its own HBM: sends read their data from it, receives
// write into it. The run settings (packet and transaction sizes) come from FILE.run when `podsim
// export` wrote one, as podsim.simulate(system) uses them; else they are the engine's defaults,
// with 64 KiB transactions when coupled to HBM (as Python's memory=True).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <queue>
#include <string>
#include <vector>

#include "podsim/podsim.h"

namespace {

struct HostEvent {  // the host's own work items: here, "rank r may send round k"
  podsim::Time time;
  std::uint32_t rank;
  std::uint32_t round;
  bool operator>(const HostEvent& o) const { return time > o.time; }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: embed_host TOPOLOGY_FILE [RANKS] [BYTES] [HBM_FILE]\n";
    return 2;
  }
  try {
    podsim::Topology topo = podsim::load_topology(std::string(argv[1]));
    const std::uint32_t ranks = argc > 2 ? static_cast<std::uint32_t>(std::stoul(argv[2])) : 8;
    const std::uint64_t bytes = argc > 3 ? std::stoull(argv[3]) : (1U << 20);
    if (ranks < 2 || ranks > topo.num_endpoints()) {
      std::cerr << "RANKS must be in [2, " << topo.num_endpoints() << "]\n";
      return 2;
    }
    const std::vector<podsim::NodeId> eps(topo.endpoints().begin(), topo.endpoints().begin() + ranks);

    const bool memory = argc > 4;
    const std::string run_file = std::string(argv[1]) + ".run";
    podsim::SimConfig cfg;
    if (std::ifstream(run_file)) {
      cfg = podsim::load_sim_config(run_file, memory);  // with HBM, memory's transaction size
      std::cout << "run settings from " << run_file << ": " << cfg.mtu_bytes << "-byte packets, transactions of "
                << cfg.txn_bytes << " bytes (0: a message is one)\n";
    } else if (memory) {
      cfg.txn_bytes = 64 << 10;  // memory is accessed a transaction at a time
    }
    podsim::Simulator sim(std::move(topo), cfg);
    if (memory) {
      const podsim::memory::HbmConfig hbm = podsim::memory::load_hbm_config(std::string(argv[4]));
      for (const podsim::NodeId ep : eps) sim.attach_memory(ep, hbm);
    }

    std::priority_queue<HostEvent, std::vector<HostEvent>, std::greater<>> host;
    for (std::uint32_t r = 0; r < ranks; ++r) host.push({0, r, 0});
    std::uint64_t completed = 0;

    // The host's event loop: whichever of its own queue and podsim's comes first runs next.
    while (!host.empty() || !sim.idle()) {
      const podsim::Time next_host = host.empty() ? podsim::kNever : host.top().time;
      if (sim.next_event_time() < next_host) {
        sim.advance_until(sim.next_event_time());
        continue;
      }
      sim.advance_until(next_host);
      const HostEvent ev = host.top();
      host.pop();
      const std::uint32_t to = (ev.rank + 1) % ranks;
      sim.inject(eps[ev.rank], eps[to], bytes, podsim::MessageKind::kWrite, ev.round,
                 [&, ev, to](std::uint32_t msg, podsim::Time end_ps) {
                   ++completed;
                   std::cout << "round " << ev.round << " rank " << ev.rank << " -> " << to << " message " << msg
                             << " done at " << end_ps << " ps\n";
                   if (ev.round + 1 < ranks) host.push({end_ps, to, ev.round + 1});
                 });
    }
    std::cout << "completed " << completed << " messages by t=" << sim.now() << " ps in " << sim.events()
              << " engine events\n";
    return completed == static_cast<std::uint64_t>(ranks) * ranks ? 0 : 1;
  } catch (const std::exception& err) {
    std::cerr << "embed_host: " << err.what() << "\n";
    return 1;
  }
}
