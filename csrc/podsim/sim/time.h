// Simulated time: an integer number of picoseconds. No floating-point time exists in the engine.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace podsim {

using Time = std::uint64_t;  // picoseconds

inline constexpr Time kPsPerSecond = 1'000'000'000'000ULL;
inline constexpr Time kNever = std::numeric_limits<Time>::max();
// Latest time the engine accepts from outside (a run-until time, a delay, a latency), and the
// latest it simulates: 2^62 ps, about 53 days. Every event is scheduled at the current time
// (<= kMaxTime) plus at most two such quantities, so the sum cannot wrap 2^64 before the event
// queue refuses it (TimeOverflow).
inline constexpr Time kMaxTime = Time{1} << 62;

// An event would fall after kMaxTime: the run cannot go on (very slow rates, huge delays).
class TimeOverflow : public std::overflow_error {
 public:
  using std::overflow_error::overflow_error;
};

// A channel rate held exactly as an integer number of milli-bytes per second, so that
// serialization delays can be computed in integer arithmetic. A rate given in bytes per second
// is rounded *down* to the next milli-byte per second: the modelled wire is never faster than
// the one described.
using RateMilliBps = std::uint64_t;

inline constexpr RateMilliBps kMaxRateMilliBps = 1'000'000'000'000'000'000ULL;  // 1e15 B/s

// A rate in bytes/s as milli-bytes/s, rounded down. The product is formed in long double: in
// double, rate * 1000 can round *up* past 2^53 and make the channel faster than it was given.
inline RateMilliBps rate_from_Bps(double rate_Bps) {
  return static_cast<RateMilliBps>(std::floor(static_cast<long double>(rate_Bps) * 1000.0L));
}

// Time to serialize `bytes` on a channel of `rate`: ceil(bytes * 1e12 / rate_Bps) picoseconds.
// Rounding up means no channel can ever carry more than its rate.
inline Time serialization_ps(std::uint64_t bytes, RateMilliBps rate) {
  // Packets up to 18,446 bytes fit the product in 64 bits; a 128-bit division is a library call.
  constexpr std::uint64_t kScale = kPsPerSecond * 1000U;
  if (bytes <= std::numeric_limits<std::uint64_t>::max() / kScale) return (bytes * kScale + rate - 1) / rate;
  __extension__ using u128 = unsigned __int128;
  const u128 num = static_cast<u128>(bytes) * static_cast<u128>(kPsPerSecond) * 1000U;
  // Saturate just past kMaxTime: added to a time <= kMaxTime it cannot wrap, and the event queue
  // refuses the result (see kMaxTime).
  const u128 ps = (num + rate - 1) / rate;
  return ps > kMaxTime ? kMaxTime + 1 : static_cast<Time>(ps);
}

}  // namespace podsim
