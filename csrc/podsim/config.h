// Run parameters of a simulation that are not part of the topology.
#pragma once

#include <cstdint>

namespace podsim {

enum class RoutingPolicy : std::uint8_t {
  kEcmp = 0,      // one path per message: a hash of (message, node, seed) picks the port
  kSpray = 1,     // a message's packets round robin over the candidate ports, from its ECMP port
  kAdaptive = 2,  // least occupied candidate output (queued + unacknowledged bytes)
};

// What becomes of packets that were on a wire when it failed.
enum class LossRecovery : std::uint8_t {
  kRetransmit = 0,  // lost; their source sends them again after retransmit_timeout_ps
  kReplay = 1,      // the sending node's link-level retry buffer sends them again, over another port
};

// Largest MTU (and so header, ack and request size) a simulation accepts, bytes.
inline constexpr std::uint32_t kMaxPacketBytes = std::uint32_t{1} << 30;

struct SimConfig {
  std::uint32_t mtu_bytes = 4096;     // largest packet on the wire, header included
  std::uint32_t header_bytes = 32;    // per-packet header on the wire
  std::uint32_t ack_bytes = 32;       // wire size of a write acknowledgement
  std::uint32_t request_bytes = 32;   // wire size of a read request
  // Bytes per memory transaction: a write transaction is acknowledged, a read transaction is one
  // request answered by its data; endpoints bound how many they keep outstanding. 0 = each
  // message is a single transaction.
  std::uint64_t txn_bytes = 0;
  RoutingPolicy routing = RoutingPolicy::kAdaptive;
  std::uint64_t seed = 1;
  // Packets an endpoint keeps queued at its ports ahead of transmission; 0 = 2 per port that is
  // up (resized when a fault takes one of its ports down or a repair brings it back).
  // Small values defer the port choice, which is what makes adaptive routing adaptive.
  std::uint32_t endpoint_window_packets = 0;
  bool check = false;                 // verify ledger and credit identities after every event
  // Record each packet transmission (channel, start, end, bytes) up to this many records;
  // 0 = no trace. Transmissions past the limit are counted, never silently lost.
  std::uint64_t trace_limit = 0;
  // Faults (see Simulator::schedule_fault). Packets that cannot be routed any more are always
  // dropped and retransmitted end to end; `recovery` decides for packets on a failing wire.
  LossRecovery recovery = LossRecovery::kRetransmit;
  std::uint64_t retransmit_timeout_ps = 10'000'000;  // from the loss to the source's resend
  // Link-level retry: a packet lost on a failed wire is sent again by the sending node when the
  // missing acknowledgement is noticed (its arrival time at the far end plus the reverse
  // latency, about one round trip after it left), plus this much.
  std::uint64_t replay_ps = 0;
};

// Throws std::invalid_argument naming the first setting out of its range, as the Simulator does
// when it is built (and load_sim_config when it reads a run file).
void validate(const SimConfig& config);

}  // namespace podsim
