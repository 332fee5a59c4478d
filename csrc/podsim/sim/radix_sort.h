// Sorting of unsigned 64-bit keys that use only their low `Bits` bits, without data-dependent
// branches: a least-significant-digit radix sort, and a merge sort below its break-even size.
//
// The event queue sorts each calendar bucket when it becomes current. Most events sit in large
// buckets (hundreds to thousands of events: every channel of a synchronised fabric finishing a
// packet in the same picosecond), where a comparison sort's branches are taken at random and
// mispredict about half the time. A radix sort has no data-dependent branch, and only the digits
// in which the keys differ need a pass (a bucket's keys share most of their time bits, and event
// arguments rarely use their top bits). Its fixed cost (a digit count per pass) outweighs that
// below about a hundred keys, where most buckets are; std::sort's insertion sort mispredicted
// about twice per key there, a merge that selects with conditional moves once per merge.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace podsim {

template <unsigned Bits>
class RadixSorter {
 public:
  // Sorts `keys` ascending; every key must be below 2^Bits. The result is in `keys` or in the
  // sorter's own buffer (whichever the last pass wrote: no copy back), valid until the next sort.
  std::span<const std::uint64_t> sort(std::span<std::uint64_t> keys) {
    const std::size_t n = keys.size();
    if (n > kMaxKeys) std::sort(keys.begin(), keys.end());  // beyond the digit counts' range
    if (n < 2 || n > kMaxKeys) return keys;
    if (scratch_.size() < n) scratch_.resize(n);
    return n < kRadixMin ? merge_sort(keys) : radix_sort(keys);
  }

 private:
  static constexpr unsigned kDigits = (Bits + 7) / 8;
  static constexpr std::size_t kMaxKeys = 0xFFFFFFFFu;
  // Below this many keys the merge sort is cheaper than the radix sort's digit counts.
  static constexpr std::size_t kRadixMin = 128;

  std::span<const std::uint64_t> radix_sort(std::span<std::uint64_t> keys) {
    const std::size_t n = keys.size();
    // Only the digits in which keys differ need a pass, or even counting: typically three of
    // the six (the two low bytes of the arguments and the event types).
    std::uint64_t any = 0;
    std::uint64_t all = ~std::uint64_t{0};
    for (const std::uint64_t k : keys) {
      any |= k;
      all &= k;
    }
    std::array<unsigned, kDigits> digit;
    unsigned passes = 0;
    for (unsigned d = 0; d < kDigits; ++d)
      if (((any ^ all) >> (8 * d)) & 0xFF) digit[passes++] = d;
    if (passes == 0) return keys;  // all equal
    // Digits are read as bytes of the keys in memory (a load, not a shift by a variable amount),
    // and each pass counts the next pass's digits as it moves the keys.
    static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);
    const auto digits = [](const std::uint64_t* at, unsigned d) {
      return reinterpret_cast<const unsigned char*>(at) + (std::endian::native == std::endian::little ? d : 7 - d);
    };
    std::memset(count_.data(), 0, passes * sizeof(count_[0]));
    const unsigned char* first = digits(keys.data(), digit[0]);
    for (std::size_t i = 0; i < n; ++i) ++count_[0][first[8 * i]];
    std::uint64_t* from = keys.data();
    std::uint64_t* to = scratch_.data();
    for (unsigned p = 0; p < passes; ++p) {
      std::array<std::uint32_t, 256>& pos = count_[p];
      std::uint32_t sum = 0;
      for (std::uint32_t& c : pos) sum += std::exchange(c, sum);
      const unsigned char* digit_p = digits(from, digit[p]);
      if (p + 1 < passes) {
        const unsigned char* digit_next = digits(from, digit[p + 1]);
        std::array<std::uint32_t, 256>& next = count_[p + 1];
        for (std::size_t i = 0; i < n; ++i) {
          to[pos[digit_p[8 * i]]++] = from[i];
          ++next[digit_next[8 * i]];
        }
      } else {
        for (std::size_t i = 0; i < n; ++i) to[pos[digit_p[8 * i]]++] = from[i];
      }
      std::swap(from, to);
    }
    return {from, n};
  }

  // Orders a pair with conditional moves.
  static void order(std::uint64_t& a, std::uint64_t& b) {
    const std::uint64_t x = a;
    const std::uint64_t y = b;
    const bool swap = y < x;
    a = swap ? y : x;
    b = swap ? x : y;
  }

  // Bottom-up: runs of four by a sorting network, then merges of runs twice as long per pass.
  std::span<const std::uint64_t> merge_sort(std::span<std::uint64_t> keys) {
    const std::size_t n = keys.size();
    std::uint64_t* k = keys.data();
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      order(k[i], k[i + 1]);
      order(k[i + 2], k[i + 3]);
      order(k[i], k[i + 2]);
      order(k[i + 1], k[i + 3]);
      order(k[i + 1], k[i + 2]);
    }
    if (n - i >= 2) order(k[i], k[i + 1]);
    if (n - i == 3) {
      order(k[i + 1], k[i + 2]);
      order(k[i], k[i + 1]);
    }
    std::uint64_t* from = k;
    std::uint64_t* to = scratch_.data();
    for (std::size_t width = 4; width < n; width *= 2) {
      for (std::size_t begin = 0; begin < n; begin += 2 * width) {
        const std::uint64_t* a = from + begin;
        const std::uint64_t* const a_end = from + std::min(begin + width, n);
        const std::uint64_t* b = a_end;
        const std::uint64_t* const b_end = from + std::min(begin + 2 * width, n);
        std::uint64_t* out = to + begin;
        // The only branch is the loop's; the smaller head is selected and its run advanced.
        while (a != a_end && b != b_end) {
          const bool take_b = *b < *a;
          *out++ = take_b ? *b : *a;
          b += take_b;
          a += !take_b;
        }
        out = std::copy(a, a_end, out);
        std::copy(b, b_end, out);
      }
      std::swap(from, to);
    }
    return {from, n};
  }

  std::array<std::array<std::uint32_t, 256>, kDigits> count_{};
  std::vector<std::uint64_t> scratch_;
};

}  // namespace podsim
