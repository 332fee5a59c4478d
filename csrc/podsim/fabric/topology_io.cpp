#include "podsim/fabric/topology_io.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace podsim {

namespace {

constexpr const char* kMagic = "podsim-topology";

std::string rest_of_line(std::istringstream& fields) {
  std::string name;
  std::getline(fields >> std::ws, name);
  return name;
}

}  // namespace

void save_topology(const Topology& topo, std::ostream& out) {
  out << kMagic << " 1\n";
  for (NodeId n = 0; n < topo.num_nodes(); ++n) {
    const Node& nd = topo.node(n);
    if (nd.kind == NodeKind::kEndpoint)
      out << "endpoint " << nd.buffer_bytes << ' ' << nd.latency_ps << ' ' << nd.max_ports << ' ' << nd.ep.issue_ps
          << ' ' << nd.ep.read_fetch_ps << ' ' << nd.ep.write_commit_ps << ' ' << nd.ep.max_reads << ' '
          << nd.ep.max_writes << ' ' << nd.ep.read_rate << ' ' << nd.ep.write_rate << ' ' << nd.ep.write_issue_rate << ' '
          << nd.name << '\n';
    else
      out << "switch " << nd.buffer_bytes << ' ' << nd.latency_ps << ' ' << (nd.cut_through ? 1 : 0) << ' '
          << nd.max_ports << ' ' << nd.name << '\n';
  }
  // Links were created as channel pairs (a->b, b->a): write each pair once.
  for (ChannelId c = 0; c < topo.num_channels(); c += 2) {
    const Channel& ch = topo.channel(c);
    out << "link " << ch.src << ' ' << ch.dst << ' ' << ch.rate << ' ' << ch.latency_ps << '\n';
  }
}

Topology load_topology(std::istream& in) {
  std::string line;
  std::size_t lineno = 1;
  if (!std::getline(in, line) || line != std::string(kMagic) + " 1")
    throw std::invalid_argument("topology file: line 1 must be '" + std::string(kMagic) + " 1'");
  Topology topo;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    const std::string where = "topology file: line " + std::to_string(lineno) + ": ";
    try {
      if (kind == "endpoint") {
        std::uint64_t buffer = 0, latency = 0;
        std::uint32_t ports = 0;
        EndpointParams ep;
        if (!(fields >> buffer >> latency >> ports >> ep.issue_ps >> ep.read_fetch_ps >> ep.write_commit_ps >>
              ep.max_reads >> ep.max_writes >> ep.read_rate >> ep.write_rate >> ep.write_issue_rate))
          throw std::invalid_argument("expected buffer, latency, ports, issue, fetch, commit, max reads, max writes, read rate, write rate, write issue rate, name");
        topo.add_endpoint(rest_of_line(fields), buffer, latency, ports, ep);
      } else if (kind == "switch") {
        std::uint64_t buffer = 0, latency = 0;
        int cut = 0;
        std::uint32_t ports = 0;
        if (!(fields >> buffer >> latency >> cut >> ports)) throw std::invalid_argument("expected buffer, latency, cut_through, ports, name");
        topo.add_switch(rest_of_line(fields), latency, buffer, cut != 0, ports);
      } else if (kind == "link") {
        NodeId a = 0, b = 0;
        RateMilliBps rate = 0;
        Time latency = 0;
        if (!(fields >> a >> b >> rate >> latency)) throw std::invalid_argument("expected a, b, rate, latency");
        topo.connect_exact(a, b, rate, latency);
      } else {
        throw std::invalid_argument("unknown record '" + kind + "'");
      }
    } catch (const std::invalid_argument& err) {
      throw std::invalid_argument(where + err.what());
    }
  }
  return topo;
}

void save_topology(const Topology& topo, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::invalid_argument("path: cannot write '" + path + "'");
  save_topology(topo, out);
}

Topology load_topology(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("path: cannot read '" + path + "'");
  return load_topology(in);
}

}  // namespace podsim
