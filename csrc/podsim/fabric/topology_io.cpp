#include "podsim/fabric/topology_io.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "podsim/sim/text_records.h"

namespace podsim {

namespace {

constexpr const char* kMagic = "podsim-topology";

}  // namespace

using text::expect_no_more;
using text::is_comment_or_blank;
using text::read_field;
using text::rest_of_line;
using text::trimmed;

void save_topology(const Topology& topo, std::ostream& out) {
  out << kMagic << " 2\n";
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
  out << "end " << topo.num_nodes() << ' ' << topo.num_channels() / 2 << '\n';
}

Topology load_topology(std::istream& in) {
  std::string line;
  std::size_t lineno = 1;
  const std::string first = std::getline(in, line) ? trimmed(line) : std::string();
  const std::string magic(kMagic);
  if (first != magic + " 1" && first != magic + " 2")
    throw std::invalid_argument("topology file: line 1 must be '" + magic + " 2' (or '" + magic +
                                " 1', the format without an end record), got '" + first.substr(0, 60) +
                                (first.size() > 60 ? "...'" : "'"));
  // Version 2 ends with "end <nodes> <links>": a file cut short (a partial copy) would otherwise
  // load as a smaller fabric without complaint.
  const bool needs_end = first == magic + " 2";
  bool ended = false;
  Topology topo;
  while (std::getline(in, line)) {
    ++lineno;
    if (is_comment_or_blank(line)) continue;
    std::istringstream fields(trimmed(line));
    std::string kind;
    fields >> kind;
    const std::string where = "topology file: line " + std::to_string(lineno) + ": ";
    try {
      if (ended) throw std::invalid_argument("a '" + kind + "' record after the end record");
      if (kind == "end") {
        if (!needs_end) throw std::invalid_argument("an end record needs version 2 on line 1");
        constexpr const char* kRecord = "end nodes links";
        const auto nodes = read_field<std::uint64_t>(fields, "nodes", kRecord);
        const auto links = read_field<std::uint64_t>(fields, "links", kRecord);
        expect_no_more(fields, "links");
        if (nodes != topo.num_nodes() || links != topo.num_channels() / 2)
          throw std::invalid_argument("the file promises " + std::to_string(nodes) + " nodes and " +
                                      std::to_string(links) + " links, but holds " + std::to_string(topo.num_nodes()) +
                                      " and " + std::to_string(topo.num_channels() / 2) + " (an edited or damaged file)");
        ended = true;
      } else if (kind == "endpoint") {
        constexpr const char* kRecord =
            "endpoint buffer latency ports issue fetch commit max_reads max_writes read_rate write_rate "
            "write_issue_rate name";
        const auto buffer = read_field<std::uint64_t>(fields, "buffer", kRecord);
        const auto latency = read_field<Time>(fields, "latency", kRecord, kMaxTime);
        const auto ports = read_field<std::uint32_t>(fields, "ports", kRecord);
        EndpointParams ep;
        ep.issue_ps = read_field<Time>(fields, "issue", kRecord, kMaxTime);
        ep.read_fetch_ps = read_field<Time>(fields, "fetch", kRecord, kMaxTime);
        ep.write_commit_ps = read_field<Time>(fields, "commit", kRecord, kMaxTime);
        ep.max_reads = read_field<std::uint32_t>(fields, "max_reads", kRecord);
        ep.max_writes = read_field<std::uint32_t>(fields, "max_writes", kRecord);
        ep.read_rate = read_field<RateMilliBps>(fields, "read_rate", kRecord);
        ep.write_rate = read_field<RateMilliBps>(fields, "write_rate", kRecord);
        ep.write_issue_rate = read_field<RateMilliBps>(fields, "write_issue_rate", kRecord);
        topo.add_endpoint(rest_of_line(fields), buffer, latency, ports, ep);
      } else if (kind == "switch") {
        constexpr const char* kRecord = "switch buffer latency cut_through ports name";
        const auto buffer = read_field<std::uint64_t>(fields, "buffer", kRecord);
        const auto latency = read_field<Time>(fields, "latency", kRecord, kMaxTime);
        const auto cut = read_field<std::uint32_t>(fields, "cut_through", kRecord, 1);
        const auto ports = read_field<std::uint32_t>(fields, "ports", kRecord);
        topo.add_switch(rest_of_line(fields), latency, buffer, cut != 0, ports);
      } else if (kind == "link") {
        constexpr const char* kRecord = "link a b rate latency";
        const auto a = read_field<NodeId>(fields, "a", kRecord);
        const auto b = read_field<NodeId>(fields, "b", kRecord);
        const auto rate = read_field<RateMilliBps>(fields, "rate", kRecord);
        const auto latency = read_field<Time>(fields, "latency", kRecord, kMaxTime);
        expect_no_more(fields, "latency");
        topo.connect_exact(a, b, rate, latency);
      } else {
        throw std::invalid_argument("unknown record '" + kind + "'");
      }
    } catch (const std::invalid_argument& err) {
      throw std::invalid_argument(where + err.what());
    }
  }
  if (needs_end && !ended)
    throw std::invalid_argument("topology file: ends at line " + std::to_string(lineno) + " after " +
                                std::to_string(topo.num_nodes()) + " nodes and " +
                                std::to_string(topo.num_channels() / 2) +
                                " links with no end record: the file is cut short (a partial copy?)");
  return topo;
}

void save_topology(const Topology& topo, const std::string& path) {
  std::ofstream out = text::open_to_write(path);
  save_topology(topo, out);
}

Topology load_topology(const std::string& path) {
  std::ifstream in = text::open_to_read(path, "a topology file");
  return load_topology(in);
}

}  // namespace podsim
