// Simulated time: an integer number of picoseconds. No floating-point time exists in the engine.
#pragma once

#include <cstdint>
#include <limits>

namespace podsim {

using Time = std::uint64_t;  // picoseconds

inline constexpr Time kPsPerSecond = 1'000'000'000'000ULL;
inline constexpr Time kNever = std::numeric_limits<Time>::max();

// A channel rate held exactly as an integer number of milli-bytes per second, so that
// serialization delays can be computed in integer arithmetic. A rate given in bytes per second
// is rounded *down* to the next milli-byte per second: the modelled wire is never faster than
// the one described.
using RateMilliBps = std::uint64_t;

inline constexpr RateMilliBps kMaxRateMilliBps = 1'000'000'000'000'000'000ULL;  // 1e15 B/s

// Time to serialize `bytes` on a channel of `rate`: ceil(bytes * 1e12 / rate_Bps) picoseconds.
// Rounding up means no channel can ever carry more than its rate.
inline Time serialization_ps(std::uint64_t bytes, RateMilliBps rate) {
  // Packets up to 18,446 bytes fit the product in 64 bits; a 128-bit division is a library call.
  constexpr std::uint64_t kScale = kPsPerSecond * 1000U;
  if (bytes <= std::numeric_limits<std::uint64_t>::max() / kScale) return (bytes * kScale + rate - 1) / rate;
  __extension__ using u128 = unsigned __int128;
  const u128 num = static_cast<u128>(bytes) * static_cast<u128>(kPsPerSecond) * 1000U;
  return static_cast<Time>((num + rate - 1) / rate);
}

}  // namespace podsim
