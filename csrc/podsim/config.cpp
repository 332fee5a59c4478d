#include "podsim/config.h"

#include <stdexcept>
#include <string>

#include "podsim/sim/time.h"

namespace podsim {

void validate(const SimConfig& config) {
  if (config.mtu_bytes <= config.header_bytes)
    throw std::invalid_argument("mtu_bytes: must be larger than header_bytes = " + std::to_string(config.header_bytes) +
                                ", got " + std::to_string(config.mtu_bytes));
  if (config.mtu_bytes > kMaxPacketBytes)
    throw std::invalid_argument("mtu_bytes: must be <= 2^30 bytes, got " + std::to_string(config.mtu_bytes));
  const std::string up_to_mtu = "must be in [1, mtu_bytes = " + std::to_string(config.mtu_bytes) + "], got ";
  if (config.ack_bytes == 0 || config.ack_bytes > config.mtu_bytes)
    throw std::invalid_argument("ack_bytes: " + up_to_mtu + std::to_string(config.ack_bytes));
  if (config.request_bytes == 0 || config.request_bytes > config.mtu_bytes)
    throw std::invalid_argument("request_bytes: " + up_to_mtu + std::to_string(config.request_bytes));
  // An out-of-range enumerator would otherwise run silently as whatever the switches fall to.
  if (static_cast<unsigned>(config.routing) > static_cast<unsigned>(RoutingPolicy::kAdaptive))
    throw std::invalid_argument("routing: must be kEcmp, kSpray or kAdaptive (0, 1 or 2), got " +
                                std::to_string(static_cast<unsigned>(config.routing)));
  if (static_cast<unsigned>(config.recovery) > static_cast<unsigned>(LossRecovery::kReplay))
    throw std::invalid_argument("recovery: must be kRetransmit or kReplay (0 or 1), got " +
                                std::to_string(static_cast<unsigned>(config.recovery)));
  if (config.retransmit_timeout_ps > kMaxTime || config.replay_ps > kMaxTime)
    throw std::invalid_argument("retransmit_timeout_ps, replay_ps: must be <= 2^62 ps, got " +
                                std::to_string(config.retransmit_timeout_ps) + ", " + std::to_string(config.replay_ps));
}

}  // namespace podsim
