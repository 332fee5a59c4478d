// The embedding API of podsim: include this one header and link podsim::core.
//
//   podsim::Topology topo = podsim::load_topology("cloudmatrix384.topo");  // from `podsim export`
//   podsim::Simulator sim(std::move(topo), podsim::SimConfig{});
//   sim.inject(src, dst, bytes, podsim::MessageKind::kWrite, tag,
//              [](std::uint32_t /*msg*/, podsim::Time /*end_ps*/) { /* completion */ });
//   while (!sim.idle()) sim.advance_until(sim.next_event_time());    // a host's own event loop
//   sim.throw_if_stalled();                                         // messages that cannot finish
//
// A Simulator owns all its state (there are no globals): several can run side by side. Time is
// integer picoseconds. See simulator.h for the model and topology.h for building fabrics.
#pragma once

// The installed core is built without libstdc++'s debug mode, whose containers have another
// layout: a host built with it links cleanly and then corrupts memory. Refuse it here instead.
#if defined(_GLIBCXX_DEBUG)
#error "podsim: the core library is built without _GLIBCXX_DEBUG; build this host without it (see the README, Embedding)"
#endif

#include "podsim/config.h"
#include "podsim/config_io.h"
#include "podsim/fabric/topology.h"
#include "podsim/fabric/topology_io.h"
#include "podsim/memory/hbm_config_io.h"
#include "podsim/sim/time.h"
#include "podsim/simulator.h"
