// Messages: the unit of work users give the engine. Stored as columns (struct of arrays) so that
// millions of messages cost no per-message allocation and can be exposed to numpy directly.
#pragma once

#include <cstdint>
#include <vector>

#include "podsim/fabric/topology.h"
#include "podsim/sim/time.h"

namespace podsim {

enum class MessageKind : std::uint8_t {
  kWrite = 0,  // data src -> dst, then an acknowledgement dst -> src
  kRead = 1,   // a request dst -> src, then data src -> dst
};

inline constexpr std::uint64_t kMaxMessageBytes = 1ULL << 48;

struct MessageColumns {
  std::vector<NodeId> src;            // where the data originates
  std::vector<NodeId> dst;            // where the data lands
  std::vector<std::uint64_t> size;    // payload bytes
  std::vector<MessageKind> kind;
  std::vector<Time> delay_ps;         // after the last dependency (or injection) before starting
  std::vector<std::uint64_t> tag;     // free for the user
  // Results, kNever until they happen.
  std::vector<Time> start_ps;         // dependencies met + delay: the message begins
  std::vector<Time> first_byte_ps;    // first data packet delivered at dst
  std::vector<Time> delivered_ps;     // last data byte delivered at dst (triggers dependants)
  std::vector<Time> end_ps;           // complete at the initiator (write: ack at src; read: = delivered)

  std::size_t size_() const { return src.size(); }
};

}  // namespace podsim
