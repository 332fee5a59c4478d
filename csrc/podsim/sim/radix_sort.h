// Least-significant-digit radix sort of unsigned 64-bit keys that use only their low `Bits` bits.
//
// The event queue sorts each calendar bucket when it becomes current. Most events sit in large
// buckets (hundreds to thousands of events: every channel of a synchronised fabric finishing a
// packet in the same picosecond), where a comparison sort's branches are taken at random and
// mispredict about half the time. A radix sort has no data-dependent branch; it counts all digits
// in one pass and skips the passes whose digit every key shares (a bucket's keys share most of
// their time bits, and event arguments rarely use their top bits).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace podsim {

template <unsigned Bits>
class RadixSorter {
 public:
  // Sorts `keys` ascending; every key must be below 2^Bits.
  void sort(std::vector<std::uint64_t>& keys) {
    const std::size_t n = keys.size();
    if (n < 2) return;
    if (n > kMaxKeys) return std::sort(keys.begin(), keys.end());  // beyond the digit counts' range
    std::memset(count_.data(), 0, sizeof(count_));
    for (const std::uint64_t k : keys)
      for (unsigned d = 0; d < kDigits; ++d) ++count_[d][(k >> (8 * d)) & 0xFF];
    scratch_.resize(n);
    std::uint64_t* from = keys.data();
    std::uint64_t* to = scratch_.data();
    for (unsigned d = 0; d < kDigits; ++d) {
      std::array<std::uint32_t, 256>& pos = count_[d];
      if (pos[(from[0] >> (8 * d)) & 0xFF] == n) continue;  // every key has this digit
      std::uint32_t sum = 0;
      for (std::uint32_t& c : pos) sum += std::exchange(c, sum);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t k = from[i];
        to[pos[(k >> (8 * d)) & 0xFF]++] = k;
      }
      std::swap(from, to);
    }
    if (from != keys.data()) keys.swap(scratch_);
  }

 private:
  static constexpr unsigned kDigits = (Bits + 7) / 8;
  static constexpr std::size_t kMaxKeys = 0xFFFFFFFFu;
  std::array<std::array<std::uint32_t, 256>, kDigits> count_{};
  std::vector<std::uint64_t> scratch_;
};

}  // namespace podsim
