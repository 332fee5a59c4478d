// A plain-text topology format, so a fabric built in Python (for instance a shipped system built
// from its spec) can be loaded by a C++ host without Python or a TOML parser.
//
//   podsim-topology 2
//   endpoint <buffer_bytes> <latency_ps> <max_ports> <issue_ps> <read_fetch_ps> <write_commit_ps>
//            <max_reads> <max_writes> <read_rate_milli_Bps> <write_rate_milli_Bps>
//            <write_issue_rate_milli_Bps> <name...>
//   switch <buffer_bytes> <latency_ps> <cut_through 0|1> <max_ports> <name...>
//   link <a> <b> <rate_milli_Bps> <latency_ps>
//   end <nodes> <links>
//
// Node ids are the order of the node lines; the name is the rest of its line. Rates are written
// in the engine's exact integer milli-bytes per second, so a round trip is lossless. A hand-edited
// file may hold blank lines and comment lines (first non-blank character '#'), and may end its
// lines with "\r\n"; a comment cannot follow a record on its line (a name may contain '#').
// The end record (version 2) must be last and give the counts, so a file cut short is refused;
// version 1 is the same format without it (still read, for hand-written files).
#pragma once

#include <iosfwd>
#include <string>

#include "podsim/fabric/topology.h"

namespace podsim {

void save_topology(const Topology& topo, std::ostream& out);
Topology load_topology(std::istream& in);
void save_topology(const Topology& topo, const std::string& path);
Topology load_topology(const std::string& path);

}  // namespace podsim
