// The fabric graph: endpoints and switches joined by unidirectional channels. A topology is
// pure description; the Simulator turns it into state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "podsim/sim/time.h"

namespace podsim {

using NodeId = std::uint32_t;
using ChannelId = std::uint32_t;
inline constexpr std::uint32_t kNone = 0xFFFFFFFFu;
// Most ports (outgoing channels) a node may have: routing keeps candidate ports as 16-bit indices.
inline constexpr std::uint32_t kMaxPorts = 0xFFFF;

enum class NodeKind : std::uint8_t { kEndpoint = 0, kSwitch = 1 };

// What an endpoint's own machinery adds to memory operations (all zero: an ideal endpoint).
// These are the calibration knobs for measured point-to-point latency and bandwidth.
struct EndpointParams {
  Time issue_ps = 0;               // initiator: from a message's start to its first transaction
  Time read_fetch_ps = 0;          // target: from a read request's arrival to its data leaving
  Time write_commit_ps = 0;        // target: from a write transaction's last byte to its ack leaving
  std::uint32_t max_reads = 0;     // read transactions this endpoint may have outstanding; 0 = no limit
  std::uint32_t max_writes = 0;    // write transactions this endpoint may have unacknowledged; 0 = no limit
  // Target engine throughput, milli-bytes/s (0 = unlimited). Incoming write data is committed at
  // write_rate, one packet after another, and its buffer space (credits) frees only as it is
  // committed, so a slow target throttles its writers; read data is fetched at read_rate.
  RateMilliBps read_rate = 0;
  RateMilliBps write_rate = 0;
  // Initiator engine throughput for the write data it sends, milli-bytes/s (0 = unlimited):
  // packets of its writes are created no faster than this.
  RateMilliBps write_issue_rate = 0;
};

struct Node {
  std::string name;
  NodeKind kind;
  Time latency_ps;            // pipeline (switch) or receive-processing (endpoint) latency
  std::uint64_t buffer_bytes; // receive buffer per input port: what credits count
  bool cut_through;           // switches only: forward once the head has arrived
  std::uint32_t max_ports;    // 0 = unlimited; connect() refuses to exceed it
  EndpointParams ep;          // endpoints only
};

struct Channel {
  NodeId src;
  NodeId dst;
  RateMilliBps rate;
  Time latency_ps;            // propagation, > 0 (credits and acks need lookahead)
  ChannelId reverse;          // the channel of the opposite direction of the same link
  std::uint32_t src_port;     // index of this channel among src's outputs
  std::uint32_t dst_port;     // index of this channel among dst's inputs
};

// Accessors taking ids do not check them (they sit on the engine's hot path); ids are validated
// where they enter: connect(), check_node(), check_channel(), and the Simulator's message
// validation.
class Topology {
 public:
  NodeId add_endpoint(const std::string& name, std::uint64_t buffer_bytes, Time latency_ps = 0,
                      std::uint32_t max_ports = 0, const EndpointParams& params = {});
  NodeId add_switch(const std::string& name, Time latency_ps, std::uint64_t buffer_bytes,
                    bool cut_through, std::uint32_t max_ports = 0);
  // Joins a and b by a link: two channels, a->b (the returned id) and b->a (the returned id + 1).
  ChannelId connect(NodeId a, NodeId b, double rate_Bps, Time latency_ps);
  // The same with the rate already in the engine's exact unit (milli-bytes per second).
  ChannelId connect_exact(NodeId a, NodeId b, RateMilliBps rate, Time latency_ps);

  std::size_t num_nodes() const { return nodes_.size(); }
  std::size_t num_channels() const { return channels_.size(); }
  std::size_t num_endpoints() const { return endpoints_.size(); }
  const Node& node(NodeId id) const { return nodes_[id]; }
  const Channel& channel(ChannelId id) const { return channels_[id]; }
  const std::vector<ChannelId>& out_channels(NodeId id) const { return out_[id]; }
  const std::vector<ChannelId>& in_channels(NodeId id) const { return in_[id]; }
  const std::vector<NodeId>& endpoints() const { return endpoints_; }
  // Index of an endpoint among endpoints (dense, 0..num_endpoints-1), or kNone for a switch.
  std::uint32_t endpoint_index(NodeId id) const { return endpoint_index_[id]; }
  bool is_endpoint(NodeId id) const { return nodes_[id].kind == NodeKind::kEndpoint; }

  // Throw std::invalid_argument naming `what` and the valid ids when the id does not exist.
  void check_node(NodeId id, const char* what) const;
  void check_channel(ChannelId id, const char* what) const;

 private:
  NodeId add_node(Node node);

  std::vector<Node> nodes_;
  std::vector<Channel> channels_;
  std::vector<std::vector<ChannelId>> out_;
  std::vector<std::vector<ChannelId>> in_;
  std::vector<NodeId> endpoints_;
  std::vector<std::uint32_t> endpoint_index_;
};

}  // namespace podsim
