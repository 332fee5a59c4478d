#include "podsim/fabric/topology.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>

namespace podsim {

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Throws invalid_argument unless id < count: "<what>: <label><id> does not exist (valid: 0..N)".
void check_id(std::uint64_t id, std::size_t count, const char* what, const char* label, const char* plural) {
  if (id < count) return;
  throw std::invalid_argument(std::string(what) + ": " + label + std::to_string(id) + " does not exist (" +
                              (count == 0 ? std::string("the topology has no ") + plural
                                          : "valid: 0.." + std::to_string(count - 1)) +
                              ")");
}

}  // namespace

void Topology::check_node(NodeId id, const char* what) const { check_id(id, nodes_.size(), what, "node id ", "nodes"); }

void Topology::check_channel(ChannelId id, const char* what) const {
  check_id(id, channels_.size(), what, "", "channels");
}

NodeId Topology::add_node(Node node) {
  if (node.name.empty()) throw std::invalid_argument("name: must not be empty");
  // A topology file keeps a node per line, its name last: the name must survive that.
  const std::string_view blank = " \t\r\n\v\f";
  if (node.name.find_first_of("\r\n") != std::string::npos || blank.find(node.name.front()) != std::string_view::npos ||
      blank.find(node.name.back()) != std::string_view::npos)
    throw std::invalid_argument("name: must not start or end with whitespace or contain a line break, got '" +
                                node.name + "'");
  for (const Time t : {node.latency_ps, node.ep.issue_ps, node.ep.read_fetch_ps, node.ep.write_commit_ps})
    if (t > kMaxTime)
      throw std::invalid_argument("latency: node '" + node.name + "' has a latency above 2^62 ps (" + std::to_string(t) + ")");
  const auto id = static_cast<NodeId>(nodes_.size());
  if (id == kNone) throw std::invalid_argument("topology: too many nodes");
  nodes_.push_back(std::move(node));
  out_.emplace_back();
  in_.emplace_back();
  endpoint_index_.push_back(kNone);
  return id;
}

NodeId Topology::add_endpoint(const std::string& name, std::uint64_t buffer_bytes, Time latency_ps,
                              std::uint32_t max_ports, const EndpointParams& params) {
  if (buffer_bytes == 0)
    throw std::invalid_argument("buffer_bytes: must be > 0 for endpoint " + quoted(name));
  for (const RateMilliBps r : {params.read_rate, params.write_rate, params.write_issue_rate})
    if (r > kMaxRateMilliBps || (r != 0 && r < 1000))
      throw std::invalid_argument("read_rate/write_rate/write_issue_rate: must be 0 (unlimited) or in [1, 1e15] bytes/s "
                                  "for endpoint " + quoted(name));
  const NodeId id = add_node(Node{name, NodeKind::kEndpoint, latency_ps, buffer_bytes, false, max_ports, params});
  endpoint_index_[id] = static_cast<std::uint32_t>(endpoints_.size());
  endpoints_.push_back(id);
  return id;
}

NodeId Topology::add_switch(const std::string& name, Time latency_ps, std::uint64_t buffer_bytes,
                            bool cut_through, std::uint32_t max_ports) {
  if (buffer_bytes == 0)
    throw std::invalid_argument("buffer_bytes: must be > 0 for switch " + quoted(name));
  return add_node(Node{name, NodeKind::kSwitch, latency_ps, buffer_bytes, cut_through, max_ports, {}});
}

ChannelId Topology::connect(NodeId a, NodeId b, double rate_Bps, Time latency_ps) {
  if (!std::isfinite(rate_Bps) || rate_Bps < 1.0 || rate_Bps > 1e15)
    throw std::invalid_argument("rate_Bps: must be a finite number in [1, 1e15] bytes/s, got " +
                                std::to_string(rate_Bps));
  return connect_exact(a, b, rate_from_Bps(rate_Bps), latency_ps);
}

ChannelId Topology::connect_exact(NodeId a, NodeId b, RateMilliBps rate, Time latency_ps) {
  check_node(a, "connect a");
  check_node(b, "connect b");
  if (a == b) throw std::invalid_argument("connect: a node cannot be linked to itself (" + quoted(nodes_[a].name) + ")");
  if (rate < 1000 || rate > kMaxRateMilliBps)
    throw std::invalid_argument("rate_Bps: must be in [1, 1e15] bytes/s, got " + std::to_string(rate) + " milli-bytes/s");
  if (latency_ps > kMaxTime)
    throw std::invalid_argument("latency_ps: must be <= 2^62 ps, got " + std::to_string(latency_ps));
  if (latency_ps == 0)
    throw std::invalid_argument("latency_ps: must be > 0 (credits and acknowledgements travel on "
                                "channels with non-zero latency), link " + quoted(nodes_[a].name) +
                                " - " + quoted(nodes_[b].name));
  for (const NodeId n : {a, b}) {
    const Node& nd = nodes_[n];
    if (nd.max_ports != 0 && out_[n].size() >= nd.max_ports)
      throw std::invalid_argument("connect: " + quoted(nd.name) + " already uses all of its " +
                                  std::to_string(nd.max_ports) + " ports");
    if (out_[n].size() >= kMaxPorts)
      throw std::invalid_argument("connect: " + quoted(nd.name) + " already has " + std::to_string(kMaxPorts) +
                                  " ports, the most a node can have");
  }
  if (channels_.size() + 2 >= kNone) throw std::invalid_argument("topology: too many channels");
  const auto ab = static_cast<ChannelId>(channels_.size());
  const ChannelId ba = ab + 1;
  channels_.push_back(Channel{a, b, rate, latency_ps, ba, static_cast<std::uint32_t>(out_[a].size()),
                              static_cast<std::uint32_t>(in_[b].size())});
  out_[a].push_back(ab);
  in_[b].push_back(ab);
  channels_.push_back(Channel{b, a, rate, latency_ps, ab, static_cast<std::uint32_t>(out_[b].size()),
                              static_cast<std::uint32_t>(in_[a].size())});
  out_[b].push_back(ba);
  in_[a].push_back(ba);
  return ab;
}

}  // namespace podsim
